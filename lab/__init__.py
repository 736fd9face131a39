"""A reproducible chord failure lab.

The package follows the flow of a run; each module is one step:

    scenario.py      a scenario: topology, config, chords, faults, expectation (validated whole)
    processes.py     every OS process the lab starts, owned and always stopped
    redis_server.py  the run's own redis-server on a free loopback port
    brokers.py       per-run RabbitMQ vhosts and databases
    topology.py      the scenario's processes brought up and ready
    celery_app.py    the Celery app of the producer and of every worker
    ledger.py        ground truth: every task start, end and publish, kept apart from Celery
    send.py          chords sent, with their oracle
    nemesis.py       faults injected, then healed
    observe.py       raw observations: ledger, broker, backend, workers, logs
    judge.py         a verdict with proof for every chord (pure)
    records.py       every run stored whole, atomically
    report.py        RESULTS.md, regenerated from the records
    timeline.py      a run drawn for teaching: terminal and SVG
    run.py           one run end to end
    attach.py        the same flow against a topology the lab did not start
    docker_runtime.py  the topology as containers, with network faults; compose.py writes compose files
    livesystem.py    a scenario kept up after its verdict, for doctor
    doctor.py        proof of why a chord is stuck in a live deployment; audit.py: the static risks
    fuzz/            hypothesis searches chord shapes and configurations, shrinks findings, replays them
    envs.py          an environment per Celery version, made once and cached
    matrix.py        scenarios x Celery versions, and the matrix table
    stability.py     how often a scenario agrees with itself across runs
    cli.py           python -m lab ...

The public API for scenario scripts is re-exported here.
"""

from lab.scenario import Chord, Fault, Scenario, Worker

__all__ = ["Scenario", "Worker", "Chord", "Fault"]
