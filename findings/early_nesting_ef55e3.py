"""Fuzzing finding early-nesting-ef55e3: early/order.

Shrunk to: chord([fuzz.part.s(value=0), fuzz.part.s(value=0), group([fuzz.part.s(value=0), fuzz.large.s(value=0)], app=app)], fuzz.total.s(value=0), app=app)
the callback ran with a list of 4 (sum 0) instead of a list of 4 (sum 0) (order)

new (not in shared/notes/mechanisms.md): the callback gets the right results in the wrong order; the catalog has no such row (closest: 10, nested canvas miscount).
Found by `python -m lab fuzz healthy --budget 6m --seed 909 --json` (seed 915), after 1485 example(s);
replayed 3/3 time(s).
Run: `python -m lab run early-nesting-ef55e3` sends canvas(app) below as built and judges it by the oracle computed
from it; `python -m lab export early-nesting-ef55e3 --to DIR` writes it as plain Celery, for an upstream report.
"""

from celery import chain, chord, group  # noqa: F401 - what canvas() below is built with

from lab import Scenario, Worker
from lab.apps.fuzz import bind

# Everything the fuzzer knows about this finding (lab.fuzz.findings reads it).
FINDING = {'id': 'early-nesting-ef55e3',
 'finding_kind': 'early/order',
 'verdict': 'early',
 'cause': None,
 'detail': 'nesting',
 'summary': 'the callback ran with a list of 4 (sum 0) instead of a list of 4 (sum 0) (order)',
 'evidence': ['ledger: callback 1319992e-5398-446a-b6e3-f3479ff9df0a started with a list of 4 (sum 0)',
              'oracle: a list of 4 (sum 0)',
              'ledger: callback ended t=0.05s state SUCCESS',
              'backend: callback meta SUCCESS',
              'oracle: every task returns; allows completed'],
 'expected': ['completed'],
 'canvas': 'chord([fuzz.part.s(value=0), fuzz.part.s(value=0), group([fuzz.part.s(value=0), '
           'fuzz.large.s(value=0)], app=app)], fuzz.total.s(value=0), app=app)',
 'failing_index': 0,
 'config_changed': None,
 'exact': True,
 'construction': None,
 'mechanism': {'id': None,
               'name': None,
               'known': False,
               'why': 'the callback gets the right results in the wrong order; the catalog has no such row '
                      '(closest: 10, nested canvas miscount)'},
 'seed': 915,
 'blob': "@reproduce_failure('6.155.2', b'AXicY2R0ZIBAIEJlMzEicRgdWaFsBgYkVQwA0+EGaA==')",
 'hypothesis': '6.155.2',
 'examples_before': 1485,
 'replay': {'runs': 3,
            'reproduced': 3,
            'rate': 1.0,
            'flaky': False,
            'seen': ['early/nesting', 'early/nesting', 'early/nesting']},
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
  'header': [{'kind': 'task', 'behaviour': 'ok', 'value': 0},
             {'kind': 'task', 'behaviour': 'ok', 'value': 0},
             {'kind': 'group',
              'members': [{'kind': 'task', 'behaviour': 'ok', 'value': 0},
                          {'kind': 'task', 'behaviour': 'large', 'value': 0}]}],
  'body': {'kind': 'task', 'behaviour': 'ok', 'value': 0}}]


def canvas(app):
    """The shrunk canvas, exactly as the fuzzer sent it: the same calls, the same construction path."""
    fuzz = bind(app)
    return [
        chord([fuzz.part.s(value=0), fuzz.part.s(value=0), group([fuzz.part.s(value=0), fuzz.large.s(value=0)], app=app)], fuzz.total.s(value=0), app=app),
    ]


scenario = Scenario(
    name='early-nesting-ef55e3',
    description='fuzzed: early/order with chord([fuzz.part.s(value=0), fuzz.part.s(value=0), group([fuzz.part.s(value=0), fuzz.large.s(value=0)], app=app)], fuzz.total.s(value=0), app=app)',
    expect='early',
    config={'task_routes': {'fuzz.total': {'queue': 'reports'}, 'fuzz.*': {'queue': 'execution'}, 'lab.part': {'queue': 'execution'}, 'lab.collect': {'queue': 'reports'}}},
    tasks=('lab.apps.basic', 'lab.apps.fuzz'),
    workers=(
        Worker('w1', queues=('execution', 'reports'), concurrency=2),
    ),
    canvas=canvas,
)
