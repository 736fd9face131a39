"""Fuzzing finding early-order-f1cd1f: early/order.

Shrunk to: chord([group([fuzz.part.s(value=0), fuzz.part.s(value=1)], app=app)], fuzz.raise_.s(value=0), app=app)
the callback ran with [1, 0] instead of [0, 1] (order)

new (not in shared/notes/mechanisms.md): the callback gets the right results in the wrong order; the catalog has no such row (closest: 10, nested canvas miscount).
Found by `python -m lab fuzz multiple-workers --budget 3m --seed 505 --json` (seed 512), after 743 example(s);
replayed 3/3 time(s).
Run: `python -m lab run early-order-f1cd1f` sends canvas(app) below as built and judges it by the oracle computed
from it; `python -m lab export early-order-f1cd1f --to DIR` writes it as plain Celery, for an upstream report.
"""

from celery import chain, chord, group  # noqa: F401 - what canvas() below is built with

from lab import Scenario, Worker
from lab.apps.fuzz import bind

# Everything the fuzzer knows about this finding (lab.fuzz.findings reads it).
FINDING = {'id': 'early-order-f1cd1f',
 'finding_kind': 'early/order',
 'verdict': 'early',
 'cause': None,
 'detail': 'order',
 'summary': 'the callback ran with [1, 0] instead of [0, 1] (order)',
 'evidence': ['ledger: callback ef68c7c1-d6e7-4238-b8b9-e39424c6d484 started with [1, 0]',
              'oracle: [0, 1]',
              'backend: callback meta FAILURE PartFailed: fuzzed task ef68c7c1-d6e7-4238-b8b9-e39424c6d484 '
              'failed on purpose',
              'ledger: the callback ran on current and ended FAILURE',
              'traceback: lab.apps.fuzz_tasks.PartFailed: fuzzed task ef68c7c1-d6e7-4238-b8b9-e39424c6d484 '
              'failed on purpose',
              'judge: the callback is failed as well (callback-raised)',
              'oracle: the callback itself fails; allows failed'],
 'expected': ['failed'],
 'canvas': 'chord([group([fuzz.part.s(value=0), fuzz.part.s(value=1)], app=app)], fuzz.raise_.s(value=0), '
           'app=app)',
 'failing_index': 2,
 'config_changed': None,
 'exact': True,
 'construction': None,
 'mechanism': {'id': None,
               'name': None,
               'known': False,
               'why': 'the callback gets the right results in the wrong order; the catalog has no such row '
                      '(closest: 10, nested canvas miscount)'},
 'seed': 512,
 'blob': "@reproduce_failure('6.155.2', b'AXicY2RwhEIgYkThMDqyMiLzwSxGMJsByoRKMQAA9QoG6Q==')",
 'hypothesis': '6.155.2',
 'examples_before': 743,
 'replay': {'runs': 3,
            'reproduced': 3,
            'rate': 1.0,
            'flaky': False,
            'seen': ['early/order', 'early/order', 'early/order']},
 'space': 'shapes',
 'base': 'multiple-workers',
 'versions': {'python': '3.11.7',
              'celery': '5.7.0',
              'kombu': '5.7.0',
              'redis-py': '8.1.0',
              'billiard': '4.3.2',
              'redis-server': '7.0.15'},
 'git': '7caeb0031f40-dirty',
 'config': None}

# The same canvas as the fuzzer's data (lab.fuzz.strategies.from_data reads it; `lab replay` builds it).
SHAPES = [{'kind': 'chord', 'header': [], 'body': {'kind': 'task', 'behaviour': 'ok', 'value': 0}},
 {'kind': 'chord', 'header': [], 'body': {'kind': 'task', 'behaviour': 'ok', 'value': 0}},
 {'kind': 'chord',
  'header': [{'kind': 'group',
              'members': [{'kind': 'task', 'behaviour': 'ok', 'value': 0},
                          {'kind': 'task', 'behaviour': 'ok', 'value': 1}]}],
  'body': {'kind': 'task', 'behaviour': 'raise', 'value': 0}}]


def canvas(app):
    """The shrunk canvas, exactly as the fuzzer sent it: the same calls, the same construction path."""
    fuzz = bind(app)
    return [
        chord([], fuzz.total.s(value=0), app=app),
        chord([], fuzz.total.s(value=0), app=app),
        chord([group([fuzz.part.s(value=0), fuzz.part.s(value=1)], app=app)], fuzz.raise_.s(value=0), app=app),
    ]


scenario = Scenario(
    name='early-order-f1cd1f',
    description='fuzzed: early/order with chord([group([fuzz.part.s(value=0), fuzz.part.s(value=1)], app=app)], fuzz.raise_.s(value=0), app=app)',
    expect='early',
    config={'task_routes': {'fuzz.total': {'queue': 'reports'}, 'fuzz.*': {'queue': 'execution'}, 'lab.part': {'queue': 'execution'}, 'lab.collect': {'queue': 'reports'}}, 'worker_prefetch_multiplier': 1},
    tasks=('lab.apps.basic', 'lab.apps.fuzz'),
    workers=(
        Worker('current', queues=('execution', 'reports')),
        Worker('stale', queues=('reports',), tasks=('lab.apps.stale_missing', 'lab.apps.fuzz_stale')),
    ),
    canvas=canvas,
)
