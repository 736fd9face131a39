"""Fuzzing finding stuck-header-queue-unconsumed-551b17: stuck/header-queue-unconsumed.

Shrunk to: chord([chord([], fuzz.total.s(value=0), app=app)], fuzz.total.s(value=0), app=app)
1 header part(s) wait in queue 'execution', which no worker consumes (worker consumes celery)

known mechanism 1 (callback queue unconsumed (split queues)): the same mechanism on the header side: a part is routed to a queue no worker consumes.
Found by `python -m lab fuzz route-glob-mismatch --budget 2m --seed 606 --json` (seed 607), after 9 example(s);
replayed 3/3 time(s).
Run: `python -m lab run stuck-header-queue-unconsumed-551b17` sends canvas(app) below as built and judges it by the oracle computed
from it; `python -m lab export stuck-header-queue-unconsumed-551b17 --to DIR` writes it as plain Celery, for an upstream report.
"""

from celery import chain, chord, group  # noqa: F401 - what canvas() below is built with

from lab import Scenario, Worker
from lab.apps.fuzz import bind

# Everything the fuzzer knows about this finding (lab.fuzz.findings reads it).
FINDING = {'id': 'stuck-header-queue-unconsumed-551b17',
 'finding_kind': 'stuck/header-queue-unconsumed',
 'verdict': 'stuck',
 'cause': 'header-queue-unconsumed',
 'detail': None,
 'summary': "1 header part(s) wait in queue 'execution', which no worker consumes (worker consumes celery)",
 'evidence': ['ledger: 0/1 header parts ended',
              "broker: queue 'execution' holds part bfbe5e3f-49e3-4c27-a7d9-c623a83a937d",
              'workers (inspect active_queues): worker consumes celery',
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
 'seed': 607,
 'blob': "@reproduce_failure('6.155.2', b'AXicY2R0ZGZwhEIIQrABKokC0Q==')",
 'hypothesis': '6.155.2',
 'examples_before': 9,
 'replay': {'runs': 3,
            'reproduced': 3,
            'rate': 1.0,
            'flaky': False,
            'seen': ['stuck/header-queue-unconsumed',
                     'stuck/header-queue-unconsumed',
                     'stuck/header-queue-unconsumed']},
 'space': 'shapes',
 'base': 'route-glob-mismatch',
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
    name='stuck-header-queue-unconsumed-551b17',
    description='fuzzed: stuck/header-queue-unconsumed with chord([chord([], fuzz.total.s(value=0), app=app)], fuzz.total.s(value=0), app=app)',
    expect='stuck',
    config={'task_routes': {'fuzz.total': {'queue': 'execution'}, 'lab.apps.origin.tasks.execution.*': {'queue': 'execution'}, 'lab.apps.origin.tasks.metrics.*': {'queue': 'metrics'}}, 'task_track_started': True, 'result_expires': 3600},
    tasks=('lab.apps.origin.tasks', 'lab.apps.origin.tasks.execution.results', 'lab.apps.fuzz'),
    expect_cause='header-queue-unconsumed',
    mechanism='1',
    workers=(
        Worker('worker', concurrency=4),
    ),
    canvas=canvas,
)
