"""Task code the workers run.  Each module is one deploy of the code:
``basic`` is current; ``stale_missing`` and ``stale_signature`` are old
deploys; ``origin`` rebuilds the package layout of the origin investigation.

Tasks are ``shared_task``s so any app that imports the module gets them.
"""
