"""Runtimes: a scenario's topology brought up and down, behind one interface.

    scenario → **runtime up** → chords sent → observations → verdict → record

``base`` holds the interface (``Runtime``, ``System``, the fault capabilities)
and the run lifecycle, written once; ``process/`` (local processes: the run's
redis-server, its RabbitMQ vhost or database, the workers), ``docker/``
(containers, network faults, compose files) and ``attached`` (a deployment the
lab did not start, read-only) implement it.  ``celery_app`` builds the Celery
app of the producer and of every worker.

Nothing is imported here: ``lab.__main__`` imports ``process.processes`` before
anything slow, to catch stop signals first.
"""
