"""The shop's router: a function in ``task_routes``, as Celery takes it (``celery.app.routes``)."""


def route_reports(name, args, kwargs, options, task=None, **kw):
    """Summaries go to the 'summary' queue; everything else falls through to the next route."""
    if name.endswith(".summarize"):
        return {"queue": "summary"}
    return None
