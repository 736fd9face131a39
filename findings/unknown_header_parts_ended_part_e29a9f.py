"""Fuzzing finding unknown-header-parts-ended-part-e29a9f: unknown/header-parts-ended-part-is.

Shrunk to: chord([fuzz.part.s(value=0), fuzz.part.s(value=0), chain(fuzz.part.s(value=0), group([fuzz.part.s(value=0), fuzz.part.s(value=0), fuzz.part.s(value=0).set(ignore_result=True)], app=app), app=app)], fuzz.total.s(value=0), app=app)
4/5 header parts ended; part 2898d6a0-c168-4917-a93a-b72713731de0 is still running on w1-g11

new (not in shared/notes/mechanisms.md): no row of the catalog fits.
Construction: its chains reproduce it built either way (`a | b` or `chain(a, b, app=app)`).
Found by `python -m lab fuzz short-result-expiry --budget 3m --seed 404 --json` (seed 406), after 201 example(s);
replayed 3/3 time(s).
Run: `python -m lab run unknown-header-parts-ended-part-e29a9f` sends canvas(app) below as built and judges it by the oracle computed
from it; `python -m lab export unknown-header-parts-ended-part-e29a9f --to DIR` writes it as plain Celery, for an upstream report.
"""

from celery import chain, chord, group  # noqa: F401 - what canvas() below is built with

from lab import Scenario, Worker
from lab.apps.fuzz import bind

# Everything the fuzzer knows about this finding (lab.fuzz.findings reads it).
FINDING = {'id': 'unknown-header-parts-ended-part-e29a9f',
 'finding_kind': 'unknown/header-parts-ended-part-is',
 'verdict': 'unknown',
 'cause': None,
 'detail': '/-header-parts-ended-part',
 'summary': '4/5 header parts ended; part 2898d6a0-c168-4917-a93a-b72713731de0 is still running on w1-g11',
 'evidence': ['oracle: every task returns; allows completed'],
 'expected': ['completed'],
 'canvas': 'chord([fuzz.part.s(value=0), fuzz.part.s(value=0), chain(fuzz.part.s(value=0), '
           'group([fuzz.part.s(value=0), fuzz.part.s(value=0), '
           'fuzz.part.s(value=0).set(ignore_result=True)], app=app), app=app)], fuzz.total.s(value=0), '
           'app=app)',
 'failing_index': 1,
 'config_changed': None,
 'exact': True,
 'construction': {'built': ['chain-app'], 'reproduces': {'pipe': True, 'chain-app': True}, 'needs': None},
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

# The same canvas as the fuzzer's data (lab.fuzz.strategies.from_data reads it; `lab replay` builds it).
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


def canvas(app):
    """The shrunk canvas, exactly as the fuzzer sent it: the same calls, the same construction path."""
    fuzz = bind(app)
    return [
        chord([], fuzz.total.s(value=0), app=app),
        chord([fuzz.part.s(value=0), fuzz.part.s(value=0), chain(fuzz.part.s(value=0), group([fuzz.part.s(value=0), fuzz.part.s(value=0), fuzz.part.s(value=0).set(ignore_result=True)], app=app), app=app)], fuzz.total.s(value=0), app=app),
    ]


scenario = Scenario(
    name='unknown-header-parts-ended-part-e29a9f',
    description='fuzzed: unknown/header-parts-ended-part-is with chord([fuzz.part.s(value=0), fuzz.part.s(value=0), chain(fuzz.part.s(value=0), group([fuzz.part.s(value=0), fuzz.part.s(value=0), fuzz.part.s(value=0).set(ignore_result=True)], app=app), app=app)], fuzz.total.s(value=0), app=app)',
    expect='unknown',
    config={'result_expires': 1, 'result_chord_expires': 1},
    tasks=('lab.apps.basic', 'lab.apps.fuzz'),
    workers=(
        Worker('w1', concurrency=3),
    ),
    canvas=canvas,
)
