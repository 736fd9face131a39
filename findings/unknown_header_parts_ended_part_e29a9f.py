"""Fuzzing finding unknown-header-parts-ended-part-e29a9f: unknown//-header-parts-ended-part.

Shrunk to: chord([fuzz.part.s(), fuzz.part.s(), chain(fuzz.part.s(), group(fuzz.part.s(), fuzz.part.s(), fuzz.part.s().set(ignore_result=True)))], fuzz.total.s())
4/5 header parts ended; part 2898d6a0-c168-4917-a93a-b72713731de0 is still running on w1-g11

new (not in shared/notes/mechanisms.md): no row of the catalog fits.
Found by `python -m lab fuzz short-result-expiry --budget 3m --seed 404 --json` (seed 406), after 201 example(s);
replayed 3/3 time(s).
Replay: `python -m lab replay unknown-header-parts-ended-part-e29a9f`; the shape is nested: `python -m lab run` sends the flat projection below, which does NOT reproduce it; `python -m lab replay` sends the exact shape.
"""

from lab import Chord, Scenario, Worker

# Everything the fuzzer knows about this finding (lab.fuzz.findings reads it).
FINDING = {'id': 'unknown-header-parts-ended-part-e29a9f',
 'finding_kind': 'unknown//-header-parts-ended-part',
 'verdict': 'unknown',
 'cause': None,
 'detail': '/-header-parts-ended-part',
 'summary': '4/5 header parts ended; part 2898d6a0-c168-4917-a93a-b72713731de0 is still running on w1-g11',
 'evidence': ['oracle: every task returns; allows completed'],
 'expected': ['completed'],
 'canvas': 'chord([fuzz.part.s(), fuzz.part.s(), chain(fuzz.part.s(), group(fuzz.part.s(), fuzz.part.s(), '
           'fuzz.part.s().set(ignore_result=True)))], fuzz.total.s())',
 'failing_index': 1,
 'config_changed': None,
 'exact': False,
 'projection_reproduces': False,
 'mechanism': {'id': None, 'name': None, 'known': False, 'why': 'no row of the catalog fits'},
 'seed': 406,
 'blob': "@reproduce_failure('6.155.2', b'AXicY2RwhEIgYmRE5qCw2VG5TIzo6pBZQAYjhMmAbDwDAFt8CsA=')",
 'hypothesis': '6.155.2',
 'examples_before': 201,
 'replay': {'runs': 3,
            'reproduced': 3,
            'rate': 1.0,
            'flaky': False,
            'seen': ['unknown//-header-parts-ended-part',
                     'unknown//-header-parts-ended-part',
                     'unknown//-header-parts-ended-part']},
 'space': 'shapes',
 'base': 'short-result-expiry',
 'versions': {'python': '3.11.7',
              'celery': '5.7.0',
              'kombu': '5.7.0',
              'redis-py': '8.1.0',
              'billiard': '4.3.2',
              'redis-server': '7.0.15'},
 'git': '7caeb0031f40-dirty',
 'config': None}

# The shrunk chord shape(s), exactly as sent (lab.fuzz.strategies.from_data reads them).
SHAPES = [{'kind': 'chord', 'header': [], 'body': {'kind': 'task', 'behaviour': 'ok', 'value': 0}},
 {'kind': 'chord',
  'header': [{'kind': 'task', 'behaviour': 'ok', 'value': 0},
             {'kind': 'task', 'behaviour': 'ok', 'value': 0},
             {'kind': 'chain',
              'links': [{'kind': 'task', 'behaviour': 'ok', 'value': 0},
                        {'kind': 'group',
                         'members': [{'kind': 'task', 'behaviour': 'ok', 'value': 0},
                                     {'kind': 'task', 'behaviour': 'ok', 'value': 0},
                                     {'kind': 'task',
                                      'behaviour': 'ok',
                                      'value': 0,
                                      'options': {'ignore_result': True}}]}]}],
  'body': {'kind': 'task', 'behaviour': 'ok', 'value': 0}}]

scenario = Scenario(
    name='unknown-header-parts-ended-part-e29a9f',
    description='fuzzed: unknown//-header-parts-ended-part with chord([fuzz.part.s(), fuzz.part.s(), chain(fuzz.part.s(), group(fuzz.part.s(), fuzz.part.s(), fuzz.part.s().set(ignore_result=True)))], fuzz.total.s())',
    expect='unknown',
    config={'result_expires': 1, 'result_chord_expires': 1},
    tasks=('lab.apps.basic', 'lab.apps.fuzz'),
    workers=(
        Worker('w1', concurrency=3),
    ),
    chords=(
        Chord(header=0, duration=(), header_task='fuzz.part', callback='fuzz.total'),
        Chord(header=6, duration=(0.0, 0.0, 0.0, 0.0, 0.0, 0.0), header_task='fuzz.part', callback='fuzz.total'),
    ),
)
