"""Errors a user can act on: one sentence each, never a traceback.

``LabError`` and its subclasses carry a message that names what was wrong and
how to fix it.  The CLI prints it on one line and exits with 254 (bad input).
"""


class LabError(Exception):
    """A user-facing problem: bad input, or a missing prerequisite."""

    exit_code = 254


class LabSetupError(LabError):
    """Something the lab needs is missing or unreachable (redis-server, a broker)."""
