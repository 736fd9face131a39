"""A reproducible chord failure lab.

The package follows the flow of a run; each folder is one stage, and imports point one way:

    scenario/     the input: a topology, config, chords, faults and the expectation, validated whole
    runtime/      a topology up and down behind one interface (process/, docker/, attached), the
                  run lifecycle written once, and the Celery app of the producer and every worker
    drive/        chords sent (each with its oracle), faults fired and healed
    observe/      what really happened: the ledger (ground truth kept apart from Celery) and one
                  reader per source (broker, backend, workers, config, logs), shared by lab runs,
                  the fuzzer and doctor; live.py reads a user's deployment into a reading
    judge/        verdicts with proof, pure over observations; causes.py holds each cause once
    records/      every run stored whole, atomically, one gzip JSON Lines file per campaign
    report/       RESULTS.md, regenerated from the records; stability across runs
    experiments/  the stages composed: one run, kept up, attached, across versions, agreement
    fuzz/         hypothesis searches chord shapes and configurations, shrinks findings, replays them
    doctor/       the live front: a deployment diagnosed (read → judge → fix), its config audited
    views/        what a person sees: tables, proof, diagnoses, timelines; the exit codes, once
    cli/          python -m lab ..., one short module per command (nothing below it imports it)

The public API for scenario scripts is re-exported here.
"""

from lab.scenario import Chord, Fault, Scenario, Worker

__all__ = ["Scenario", "Worker", "Chord", "Fault"]
