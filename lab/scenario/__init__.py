"""Scenarios: the first step of the flow.

    **scenario** → topology up → chords sent → observations → verdict with proof → record → RESULTS.md

A scenario is plain data: the broker, the result backend, the Redis server
options, the Celery config, the task code each worker runs, the workers and
the queues they consume, the chords to send, the faults, and the verdict the
scenario expects.  ``model`` holds the nouns; ``load`` validates a scenario
whole, before any process starts, and finds it by name or path.
"""

from lab.scenario.load import (CONTAINER_FAULTS, MAX_SECONDS, WORKER_FAULTS, from_dict, load,  # noqa: F401 (the face)
                               load_file, scenario_paths, unsendable, validate)
from lab.scenario.model import (BACKENDS, BROKERS, DOCKER_FAULT_KINDS, FAULT_KINDS, FAULT_TRIGGERS,  # noqa: F401
                                PARTITION_SIDE_WORDS, PARTITION_SIDES, POOLS, SCENARIOS_DIR, VERDICTS, Chord, Fault,
                                Scenario, ScenarioError, Worker)
