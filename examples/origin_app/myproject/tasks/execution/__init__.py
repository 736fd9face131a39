"""Tasks of the execution package: the route glob sends them to queue ``execution``."""
