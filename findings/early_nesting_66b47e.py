"""Fuzzing finding early-nesting-66b47e: early/nesting.

Shrunk to: chord([chain(fuzz.part.s(value=0), group([group([fuzz.part.s(value=0)], app=app)], app=app), app=app)], fuzz.total.s(value=0), app=app)
the callback ran with [[0]] instead of [0] (nesting)

new (not in shared/notes/mechanisms.md): the callback gets the right results nested differently; the catalog has no such row (closest: 10, nested canvas miscount).
Construction: it needs its chains built as `chain(a, b, app=app)`: built as `a | b` the same canvas does not show it, so the construction path is part of the cause.
Found by `python -m lab fuzz healthy --budget 12m --seed 101 --json` (seed 108), after 1334 example(s);
replayed 3/3 time(s).
Run: `python -m lab run early-nesting-66b47e` sends canvas(app) below as built and judges it by the oracle computed
from it; `python -m lab export early-nesting-66b47e --to DIR` writes it as plain Celery, for an upstream report.
"""

from celery import chain, chord, group  # noqa: F401 - what canvas() below is built with

from lab import Scenario, Worker
from lab.apps.fuzz import bind

# Everything the fuzzer knows about this finding (lab.fuzz.findings reads it).
FINDING = {'id': 'early-nesting-66b47e',
 'finding_kind': 'early/nesting',
 'verdict': 'early',
 'cause': None,
 'detail': 'nesting',
 'summary': 'the callback ran with [[0]] instead of [0] (nesting)',
 'evidence': ['ledger: callback 391a2128-29bf-4066-9ca1-99c89a76e9a3 started with [[0]]',
              'oracle: [0]',
              'ledger: callback ended t=0.68s state SUCCESS',
              'backend: callback meta SUCCESS',
              'oracle: every task returns; allows completed'],
 'expected': ['completed'],
 'canvas': 'chord([chain(fuzz.part.s(value=0), group([group([fuzz.part.s(value=0)], app=app)], app=app), '
           'app=app)], fuzz.total.s(value=0), app=app)',
 'failing_index': 0,
 'config_changed': None,
 'exact': True,
 'construction': {'built': ['chain-app'],
                  'reproduces': {'pipe': False, 'chain-app': True},
                  'needs': 'chain-app'},
 'mechanism': {'id': None,
               'name': None,
               'known': False,
               'why': 'the callback gets the right results nested differently; the catalog has no such row '
                      '(closest: 10, nested canvas miscount)'},
 'seed': 108,
 'blob': "@reproduce_failure('6.155.2', b'AXicY2R0ZGd0ZIBAIGJ0ZGV0ZGKE80EASZoBAG8CBGY=')",
 'hypothesis': '6.155.2',
 'examples_before': 1334,
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
 'git': 'c37f8d52589c-dirty',
 'config': None}

# The same canvas as the fuzzer's data (lab.fuzz.strategies.from_data reads it; `lab replay` builds it).
SHAPES = [{'kind': 'chord',
  'header': [{'kind': 'chain',
              'links': [{'kind': 'task', 'behaviour': 'ok', 'value': 0},
                        {'kind': 'group',
                         'members': [{'kind': 'group',
                                      'members': [{'kind': 'task', 'behaviour': 'ok', 'value': 0}]}]}]}],
  'body': {'kind': 'task', 'behaviour': 'ok', 'value': 0}}]


def canvas(app):
    """The shrunk canvas, exactly as the fuzzer sent it: the same calls, the same construction path."""
    fuzz = bind(app)
    return [
        chord([chain(fuzz.part.s(value=0), group([group([fuzz.part.s(value=0)], app=app)], app=app), app=app)], fuzz.total.s(value=0), app=app),
    ]


scenario = Scenario(
    name='early-nesting-66b47e',
    description='fuzzed: early/nesting with chord([chain(fuzz.part.s(value=0), group([group([fuzz.part.s(value=0)], app=app)], app=app), app=app)], fuzz.total.s(value=0), app=app)',
    expect='early',
    config={'task_routes': {'fuzz.total': {'queue': 'reports'}, 'fuzz.*': {'queue': 'execution'}, 'lab.part': {'queue': 'execution'}, 'lab.collect': {'queue': 'reports'}}},
    tasks=('lab.apps.basic', 'lab.apps.fuzz'),
    workers=(
        Worker('w1', queues=('execution', 'reports'), concurrency=2),
    ),
    canvas=canvas,
)
