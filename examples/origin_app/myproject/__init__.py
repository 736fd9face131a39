"""A user's project, as doctor and audit meet it: nothing in it knows about the lab."""
