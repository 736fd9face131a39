"""A reproducible chord failure lab.

The package follows the flow of a run; each module or folder is one step:

    scenario.py      a scenario: topology, config, chords, faults, expectation (validated whole)
    processes.py     every OS process the lab starts, owned and always stopped
    redis_server.py  the run's own redis-server on a free loopback port
    brokers.py       per-run RabbitMQ vhosts and databases
    runtime/         one interface to bring a topology up and down (process, docker, attached),
                     and the run lifecycle, written once
    topology.py      the scenario's processes brought up and ready
    celery_app.py    the Celery app of the producer and of every worker
    ledger.py        ground truth: every task start, end and publish, kept apart from Celery
    send.py          chords sent, with their oracle
    nemesis.py       faults injected, then healed
    observe/         observations, one reader per source for lab runs, the fuzzer and doctor alike:
                     broker.py (Redis by kombu's key naming, RabbitMQ by passive declare), backend.py
                     (chord keys, metas, INFO), workers.py (inspect), live.py (a user's deployment
                     read by id into a reading), model.py (the nouns of a reading)
    judge/           verdicts with proof, pure: __init__.py (the checker over a run's observations),
                     live.py (a live reading: running, stuck, or unknown with what is missing),
                     causes.py (each cause once: meaning, fix, audit finding)
    records.py       every run stored whole, atomically
    report.py        RESULTS.md, regenerated from the records
    timeline.py      a run drawn for teaching: terminal and SVG
    run.py           one run end to end
    attach.py        the same flow against a topology the lab did not start
    docker_runtime.py  the topology as containers, with network faults; compose.py writes compose files
    livesystem.py    a scenario kept up after its verdict, for doctor
    doctor.py        read a live deployment, judge the reading, print cause and fix; audit.py: the static risks
    fuzz/            hypothesis searches chord shapes and configurations, shrinks findings, replays them
    envs.py          an environment per Celery version, made once and cached
    matrix.py        scenarios x Celery versions, and the matrix table
    stability.py     how often a scenario agrees with itself across runs
    views.py         what a person sees: verdict tables, proof, progress; the exit codes, once
    cli.py           python -m lab ... (nothing below it imports it)

The public API for scenario scripts is re-exported here.
"""

from lab.scenario import Chord, Fault, Scenario, Worker

__all__ = ["Scenario", "Worker", "Chord", "Fault"]
