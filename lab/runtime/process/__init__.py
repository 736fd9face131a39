"""The process runtime: a topology as local processes, owned and always stopped.

    scenario → **runtime up** → chords sent → observations → verdict → record

``processes`` (every OS process the lab starts; signals), ``reaper`` (the run's
process groups killed if the lab dies), ``redis_server`` (the run's own
redis-server on a free loopback port), ``services`` (a RabbitMQ vhost or a
database per run), ``topology`` (the workers up and ready) and ``runtime``
(``ProcessRuntime``: the interface of ``lab.runtime.base``).
"""
