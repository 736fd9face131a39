"""Runtimes: a scenario's topology brought up and down, behind one interface.

    scenario → **runtime up** → chords sent → observations → verdict → record

``base`` holds the interface (``Runtime``, ``System``, the fault capabilities)
and the run lifecycle, written once; ``process``, ``docker`` and ``attached``
implement it over ``lab.topology``, ``lab.docker_runtime`` and ``lab.attach``.
"""

from lab.runtime.base import Run, Runtime, System, lifecycle, runtime_for  # noqa: F401 (the face)
