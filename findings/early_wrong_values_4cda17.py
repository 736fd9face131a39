"""Fuzzing finding early-wrong-values-4cda17: early/wrong-values.

Shrunk to: chord([fuzz.part.s(value=0), fuzz.part.s(value=1)], chain(group([fuzz.part.s(value=0), fuzz.part.s(value=0)], app=app), fuzz.total.s(value=0), app=app), app=app)
the callback ran with [0, 0] instead of [1, 1] (wrong-values)

new (not in shared/notes/mechanisms.md): the callback gets different values than the canvas computes; the catalog has no such row (closest: 10, nested canvas miscount).
Construction: it needs its chains built as `chain(a, b, app=app)`: built as `a | b` the same canvas does not show it, so the construction path is part of the cause.
Found by `python -m lab fuzz healthy --budget 12m --seed 101 --json` (seed 103), after 350 example(s);
replayed 3/3 time(s).
Run: `python -m lab run early-wrong-values-4cda17` sends canvas(app) below as built and judges it by the oracle computed
from it; `python -m lab export early-wrong-values-4cda17 --to DIR` writes it as plain Celery, for an upstream report.
"""

from celery import chain, chord, group  # noqa: F401 - what canvas() below is built with

from lab import Scenario, Worker
from lab.apps.fuzz import bind

# Everything the fuzzer knows about this finding (lab.fuzz.findings reads it).
FINDING = {'id': 'early-wrong-values-4cda17',
 'finding_kind': 'early/wrong-values',
 'verdict': 'early',
 'cause': None,
 'detail': 'wrong-values',
 'summary': 'the callback ran with [0, 0] instead of [1, 1] (wrong-values)',
 'evidence': ['ledger: callback ccdc39a2-e564-42a4-8800-466d93df1014 started with [0, 0]',
              'oracle: [1, 1]',
              'ledger: callback ended t=0.07s state SUCCESS',
              'backend: callback meta SUCCESS',
              'oracle: every task returns; allows completed'],
 'expected': ['completed'],
 'canvas': 'chord([fuzz.part.s(value=0), fuzz.part.s(value=1)], chain(group([fuzz.part.s(value=0), '
           'fuzz.part.s(value=0)], app=app), fuzz.total.s(value=0), app=app), app=app)',
 'failing_index': 0,
 'config_changed': None,
 'exact': True,
 'construction': {'built': ['chain-app'],
                  'reproduces': {'pipe': False, 'chain-app': True},
                  'needs': 'chain-app'},
 'mechanism': {'id': None,
               'name': None,
               'known': False,
               'why': 'the callback gets different values than the canvas computes; the catalog has no such '
                      'row (closest: 10, nested canvas miscount)'},
 'seed': 103,
 'blob': "@reproduce_failure('6.155.2', b'AXicY2R0ZIBAIIKwGcFsIM3oyMSIJgeWQWhgAADJ7QYj')",
 'hypothesis': '6.155.2',
 'examples_before': 350,
 'replay': {'runs': 3,
            'reproduced': 3,
            'rate': 1.0,
            'flaky': False,
            'seen': ['early/wrong-values', 'early/wrong-values', 'early/wrong-values']},
 'space': 'shapes',
 'base': 'healthy',
 'versions': {'python': '3.11.7',
              'celery': '5.7.0',
              'kombu': '5.7.0',
              'redis-py': '8.1.0',
              'billiard': '4.3.2',
              'redis-server': '7.0.15'},
 'git': 'f0e4931c24c8-dirty',
 'config': None}

# The same canvas as the fuzzer's data (lab.fuzz.strategies.from_data reads it; `lab replay` builds it).
SHAPES = [{'kind': 'chord',
  'header': [{'kind': 'task', 'behaviour': 'ok', 'value': 0},
             {'kind': 'task', 'behaviour': 'ok', 'value': 1}],
  'body': {'kind': 'chain',
           'links': [{'kind': 'group',
                      'members': [{'kind': 'task', 'behaviour': 'ok', 'value': 0},
                                  {'kind': 'task', 'behaviour': 'ok', 'value': 0}]},
                     {'kind': 'task', 'behaviour': 'ok', 'value': 0}]}}]


def canvas(app):
    """The shrunk canvas, exactly as the fuzzer sent it: the same calls, the same construction path."""
    fuzz = bind(app)
    return [
        chord([fuzz.part.s(value=0), fuzz.part.s(value=1)], chain(group([fuzz.part.s(value=0), fuzz.part.s(value=0)], app=app), fuzz.total.s(value=0), app=app), app=app),
    ]


scenario = Scenario(
    name='early-wrong-values-4cda17',
    description='fuzzed: early/wrong-values with chord([fuzz.part.s(value=0), fuzz.part.s(value=1)], chain(group([fuzz.part.s(value=0), fuzz.part.s(value=0)], app=app), fuzz.total.s(value=0), app=app), app=app)',
    expect='early',
    config={'task_routes': {'fuzz.total': {'queue': 'reports'}, 'fuzz.*': {'queue': 'execution'}, 'lab.part': {'queue': 'execution'}, 'lab.collect': {'queue': 'reports'}}},
    tasks=('lab.apps.basic', 'lab.apps.fuzz'),
    workers=(
        Worker('w1', queues=('execution', 'reports'), concurrency=2),
    ),
    canvas=canvas,
)
