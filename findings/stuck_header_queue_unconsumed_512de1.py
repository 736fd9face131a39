"""Fuzzing finding stuck-header-queue-unconsumed-512de1: stuck/header-queue-unconsumed.

Shrunk to: chord([chord([], fuzz.total.s(value=0), app=app)], fuzz.total.s(value=0), app=app)
1 header part(s) wait in queue 'reports', which no worker consumes (w1 consumes execution)

known mechanism 1 (callback queue unconsumed (split queues)): the same mechanism on the header side: a part is routed to a queue no worker consumes.
Found by `python -m lab fuzz split-queues --budget 90s --seed 303 --json` (seed 304), after 8 example(s);
replayed 3/3 time(s).
Run: `python -m lab run stuck-header-queue-unconsumed-512de1` sends canvas(app) below as built and judges it by the oracle computed
from it; `python -m lab export stuck-header-queue-unconsumed-512de1 --to DIR` writes it as plain Celery, for an upstream report.
"""

from celery import chain, chord, group  # noqa: F401 - what canvas() below is built with

from lab import Scenario, Worker
from lab.apps.fuzz import bind

# Everything the fuzzer knows about this finding (lab.fuzz.findings reads it).
FINDING = {'id': 'stuck-header-queue-unconsumed-512de1',
 'finding_kind': 'stuck/header-queue-unconsumed',
 'verdict': 'stuck',
 'cause': 'header-queue-unconsumed',
 'detail': None,
 'summary': "1 header part(s) wait in queue 'reports', which no worker consumes (w1 consumes execution)",
 'evidence': ['ledger: 0/1 header parts ended',
              "broker: queue 'reports' holds part f4239910-0aa4-445f-a4d8-3faf39ba2ccc",
              'workers (inspect active_queues): w1 consumes execution',
              'oracle: every task returns; allows completed'],
 'expected': ['completed'],
 'canvas': 'chord([chord([], fuzz.total.s(value=0), app=app)], fuzz.total.s(value=0), app=app)',
 'failing_index': 0,
 'config_changed': None,
 'exact': True,
 'construction': None,
 'mechanism': {'id': '1',
               'name': 'callback queue unconsumed (split queues)',
               'known': True,
               'why': 'the same mechanism on the header side: a part is routed to a queue no worker '
                      'consumes'},
 'seed': 304,
 'blob': "@reproduce_failure('6.155.2', b'AXicY2R0ZGZwhEIIQrABKokC0Q==')",
 'hypothesis': '6.155.2',
 'examples_before': 8,
 'replay': {'runs': 3,
            'reproduced': 3,
            'rate': 1.0,
            'flaky': False,
            'seen': ['stuck/header-queue-unconsumed',
                     'stuck/header-queue-unconsumed',
                     'stuck/header-queue-unconsumed']},
 'space': 'shapes',
 'base': 'split-queues',
 'versions': {'python': '3.11.7',
              'celery': '5.7.0',
              'kombu': '5.7.0',
              'redis-py': '8.1.0',
              'billiard': '4.3.2',
              'redis-server': '7.0.15'},
 'git': '7caeb0031f40-dirty',
 'config': None}

# The same canvas as the fuzzer's data (lab.fuzz.strategies.from_data reads it; `lab replay` builds it).
SHAPES = [{'kind': 'chord',
  'header': [{'kind': 'chord', 'header': [], 'body': {'kind': 'task', 'behaviour': 'ok', 'value': 0}}],
  'body': {'kind': 'task', 'behaviour': 'ok', 'value': 0}}]


def canvas(app):
    """The shrunk canvas, exactly as the fuzzer sent it: the same calls, the same construction path."""
    fuzz = bind(app)
    return [
        chord([chord([], fuzz.total.s(value=0), app=app)], fuzz.total.s(value=0), app=app),
    ]


scenario = Scenario(
    name='stuck-header-queue-unconsumed-512de1',
    description='fuzzed: stuck/header-queue-unconsumed with chord([chord([], fuzz.total.s(value=0), app=app)], fuzz.total.s(value=0), app=app)',
    expect='stuck',
    config={'task_routes': {'fuzz.total': {'queue': 'reports'}, 'fuzz.*': {'queue': 'execution'}, 'lab.part': {'queue': 'execution'}, 'lab.collect': {'queue': 'reports'}}},
    tasks=('lab.apps.basic', 'lab.apps.fuzz'),
    expect_cause='header-queue-unconsumed',
    mechanism='1',
    workers=(
        Worker('w1', queues=('execution',), concurrency=2),
    ),
    canvas=canvas,
)
