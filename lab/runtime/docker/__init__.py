"""The docker runtime: a topology as containers, with network faults.

    scenario → **runtime up** → chords sent → observations → verdict → record

``containers`` (the engine, images, containers, partitions and pauses),
``compose`` (a topology written as a compose file) and ``runtime``
(``DockerRuntime``: the interface of ``lab.runtime.base``).
"""
