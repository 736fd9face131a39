"""Experiments: compositions of the stages, each one flow end to end.

    scenario → runtime up → chords sent → observations → verdict → record

``run`` (one run: up → drive → observe → judge → record → down), ``live`` (a
scenario kept up after its verdict, for doctor), ``attach`` (the flow against a
topology the lab did not start), ``matrix`` and ``envs`` (scenarios × Celery
versions, an environment per version), ``agreement`` (the lab, doctor and audit
compared over every scenario).  The fuzzer is ``lab.fuzz`` (finding files name
that path).
"""
