"""Fuzzing finding early-nesting-ef55e3: early/nesting.

Shrunk to: chord([fuzz.part.s(), fuzz.part.s(), group(fuzz.part.s(), fuzz.large.s())], fuzz.total.s())
the callback ran with a list of 4 (sum 0) instead of a list of 4 (sum 0) (nesting)

new (not in shared/notes/mechanisms.md): the callback gets the right results nested differently; the catalog has no such row (closest: 10, nested canvas miscount).
Found by `python -m lab fuzz healthy --budget 6m --seed 909 --json` (seed 915), after 1485 example(s);
replayed 3/3 time(s).
Replay: `python -m lab replay early-nesting-ef55e3`; the shape is nested: `python -m lab run` sends the flat projection below, which does NOT reproduce it; `python -m lab replay` sends the exact shape.
"""

from lab import Chord, Scenario, Worker

# Everything the fuzzer knows about this finding (lab.fuzz.findings reads it).
FINDING = {'id': 'early-nesting-ef55e3',
 'finding_kind': 'early/nesting',
 'verdict': 'early',
 'cause': None,
 'detail': 'nesting',
 'summary': 'the callback ran with a list of 4 (sum 0) instead of a list of 4 (sum 0) (nesting)',
 'evidence': ['ledger: callback 1319992e-5398-446a-b6e3-f3479ff9df0a started with a list of 4 (sum 0)',
              'oracle: a list of 4 (sum 0)',
              'ledger: callback ended t=0.05s state SUCCESS',
              'backend: callback meta SUCCESS',
              'oracle: every task returns; allows completed'],
 'expected': ['completed'],
 'canvas': 'chord([fuzz.part.s(), fuzz.part.s(), group(fuzz.part.s(), fuzz.large.s())], fuzz.total.s())',
 'failing_index': 0,
 'config_changed': None,
 'exact': False,
 'projection_reproduces': False,
 'mechanism': {'id': None,
               'name': None,
               'known': False,
               'why': 'the callback gets the right results nested differently; the catalog has no such row '
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

# The shrunk chord shape(s), exactly as sent (lab.fuzz.strategies.from_data reads them).
SHAPES = [{'kind': 'chord',
  'header': [{'kind': 'task', 'behaviour': 'ok', 'value': 0},
             {'kind': 'task', 'behaviour': 'ok', 'value': 0},
             {'kind': 'group',
              'members': [{'kind': 'task', 'behaviour': 'ok', 'value': 0},
                          {'kind': 'task', 'behaviour': 'large', 'value': 0}]}],
  'body': {'kind': 'task', 'behaviour': 'ok', 'value': 0}}]

scenario = Scenario(
    name='early-nesting-ef55e3',
    description='fuzzed: early/nesting with chord([fuzz.part.s(), fuzz.part.s(), group(fuzz.part.s(), fuzz.large.s())], fuzz.total.s())',
    expect='early',
    config={'task_routes': {'fuzz.total': {'queue': 'reports'}, 'fuzz.*': {'queue': 'execution'}, 'lab.part': {'queue': 'execution'}, 'lab.collect': {'queue': 'reports'}}},
    tasks=('lab.apps.basic', 'lab.apps.fuzz'),
    workers=(
        Worker('w1', queues=('execution', 'reports'), concurrency=2),
    ),
    chords=(
        Chord(header=4, duration=(0.0, 0.0, 0.0, 0.0), header_task='fuzz.part', callback='fuzz.total'),
    ),
)
