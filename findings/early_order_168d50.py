"""Fuzzing finding early-order-168d50: early/order.

Shrunk to: chord([group([fuzz.part.s(value=0), fuzz.part.s(value=1)], app=app)], fuzz.total.s(value=0), app=app)
the callback ran with [1, 0] instead of [0, 1] (order)

new (not in shared/notes/mechanisms.md): the callback gets the right results in the wrong order; the catalog has no such row (closest: 10, nested canvas miscount).
Found by `python -m lab fuzz healthy --budget 6m --seed 909 --json` (seed 912), after 422 example(s);
replayed 3/3 time(s).
Run: `python -m lab run early-order-168d50` sends canvas(app) below as built and judges it by the oracle computed
from it; `python -m lab export early-order-168d50 --to DIR` writes it as plain Celery, for an upstream report.
"""

from celery import chain, chord, group  # noqa: F401 - what canvas() below is built with

from lab import Scenario, Worker
from lab.apps.fuzz import bind

# Everything the fuzzer knows about this finding (lab.fuzz.findings reads it).
FINDING = {'id': 'early-order-168d50',
 'finding_kind': 'early/order',
 'verdict': 'early',
 'cause': None,
 'detail': 'order',
 'summary': 'the callback ran with [1, 0] instead of [0, 1] (order)',
 'evidence': ['ledger: callback d2513909-1620-409b-b9e0-e163dde50b1c started with [1, 0]',
              'oracle: [0, 1]',
              'ledger: callback ended t=0.02s state SUCCESS',
              'backend: callback meta SUCCESS',
              'oracle: every task returns; allows completed'],
 'expected': ['completed'],
 'canvas': 'chord([group([fuzz.part.s(value=0), fuzz.part.s(value=1)], app=app)], fuzz.total.s(value=0), '
           'app=app)',
 'failing_index': 0,
 'config_changed': None,
 'exact': True,
 'construction': None,
 'mechanism': {'id': None,
               'name': None,
               'known': False,
               'why': 'the callback gets the right results in the wrong order; the catalog has no such row '
                      '(closest: 10, nested canvas miscount)'},
 'seed': 912,
 'blob': "@reproduce_failure('6.155.2', b'AXicY2R0ZGJ0ZABBIAKxGMEsBgZHBrgwAwBGVgOW')",
 'hypothesis': '6.155.2',
 'examples_before': 422,
 'replay': {'runs': 3,
            'reproduced': 3,
            'rate': 1.0,
            'flaky': False,
            'seen': ['early/order', 'early/order', 'early/order']},
 'space': 'shapes',
 'base': 'healthy',
 'versions': {'python': '3.11.7',
              'celery': '5.7.0',
              'kombu': '5.7.0',
              'redis-py': '8.1.0',
              'billiard': '4.3.2',
              'redis-server': '7.0.15'},
 'git': '05b9259787ff',
 'config': None}

# The same canvas as the fuzzer's data (lab.fuzz.strategies.from_data reads it; `lab replay` builds it).
SHAPES = [{'kind': 'chord',
  'header': [{'kind': 'group',
              'members': [{'kind': 'task', 'behaviour': 'ok', 'value': 0},
                          {'kind': 'task', 'behaviour': 'ok', 'value': 1}]}],
  'body': {'kind': 'task', 'behaviour': 'ok', 'value': 0}}]


def canvas(app):
    """The shrunk canvas, exactly as the fuzzer sent it: the same calls, the same construction path."""
    fuzz = bind(app)
    return [
        chord([group([fuzz.part.s(value=0), fuzz.part.s(value=1)], app=app)], fuzz.total.s(value=0), app=app),
    ]


scenario = Scenario(
    name='early-order-168d50',
    description='fuzzed: early/order with chord([group([fuzz.part.s(value=0), fuzz.part.s(value=1)], app=app)], fuzz.total.s(value=0), app=app)',
    expect='early',
    config={'task_routes': {'fuzz.total': {'queue': 'reports'}, 'fuzz.*': {'queue': 'execution'}, 'lab.part': {'queue': 'execution'}, 'lab.collect': {'queue': 'reports'}}},
    tasks=('lab.apps.basic', 'lab.apps.fuzz'),
    workers=(
        Worker('w1', queues=('execution', 'reports'), concurrency=2),
    ),
    canvas=canvas,
)
