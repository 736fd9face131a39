"""Fuzzed chords: hypothesis searches chord shapes and configurations for stuck chords.

Where it sits in the lab's flow: it drives the same steps as ``lab.experiments.run``, many
times over one running topology::

    strategies ─ shapes, task behaviours, configs ─┐
                                                   ▼
    session ─ topology up once (restart only what a config changes)
            → chords sent (shapes built into Celery canvases)
            → observations (ledger, broker, backend)      ◀── lab.observe.probe
            → verdict with proof for the outer callback   ◀── lab.judge + oracle
    search  ─ hypothesis: examples, targets, shrinking, replay rate
    findings ─ shrunk findings saved as scenario files + records; the RESULTS.md section
    cli     ─ ``python -m lab fuzz`` and ``python -m lab replay``

The modules, one concern each:

    strategies.py  chord shapes, task behaviours, configurations (hypothesis strategies, pure data)
    oracle.py      what a correct Celery gives each shape, and the judgement of one example (pure)
    session.py     one reusable topology that runs many examples without rebooting
    search.py      the hypothesis driver
    findings.py    saving, loading and reporting shrunk findings
    cli.py         the click commands
"""
