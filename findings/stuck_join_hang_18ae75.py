"""Fuzzing finding stuck-join-hang-18ae75: stuck/join-hang.

Shrunk to: chord([fuzz.part.s(value=0), chain(fuzz.part.s(value=0), group([fuzz.part.s(value=0), fuzz.part.s(value=0).set(ignore_result=True)], app=app), app=app)], fuzz.total.s(value=0), app=app)
the chord's count is complete but part d3b81ab8-733e-4f2e-889f-b742a8f1b38e never finished: the worker that returned it is blocked in the chord's join, 12 s on, although result_chord_join_timeout is 3.0 s

known mechanism 3 (header ignores results): a variant: a part of a nested header group ignores its result, so the worker that returned the last part waits in the chord's join for it forever (row 13 expects a Join error after result_chord_join_timeout instead).
Construction: its chains reproduce it built either way (`a | b` or `chain(a, b, app=app)`).
Found by `python -m lab fuzz split-queues --budget 90s --seed 303 --json` (seed 307), after 265 example(s);
replayed 3/3 time(s).
Run: `python -m lab run stuck-join-hang-18ae75` sends canvas(app) below as built and judges it by the oracle computed
from it; `python -m lab export stuck-join-hang-18ae75 --to DIR` writes it as plain Celery, for an upstream report.
"""

from celery import chain, chord, group  # noqa: F401 - what canvas() below is built with

from lab import Scenario, Worker
from lab.apps.fuzz import bind

# Everything the fuzzer knows about this finding (lab.fuzz.findings reads it).
FINDING = {'id': 'stuck-join-hang-18ae75',
 'finding_kind': 'stuck/join-hang',
 'verdict': 'stuck',
 'cause': 'join-hang',
 'detail': None,
 'summary': "the chord's count is complete but part d3b81ab8-733e-4f2e-889f-b742a8f1b38e never finished: the "
            "worker that returned it is blocked in the chord's join, 12 s on, although "
            'result_chord_join_timeout is 3.0 s',
 'evidence': ['ledger: part d3b81ab8-733e-4f2e-889f-b742a8f1b38e started t=0.02s on w1-g15 (pid 31161), no '
              'end 12.0 s later; its body sleeps 0.0 s',
              "backend: .j holds 3 part returns of .s = 3: the count is complete, this part's return "
              'included',
              'backend: no meta for part d3b81ab8-733e-4f2e-889f-b742a8f1b38e: it stores none, yet .j counts '
              'it',
              'backend: .c absent (the dispatch claim was taken and expired); no callback was published',
              'ledger: 2/3 header parts ended',
              'backend: no meta for part(s) d3b81ab8-733e-4f2e-889f-b742a8f1b38e: the join waits for a '
              'result that will never exist',
              'backend: no meta for callback a41932a9-29ff-4fb1-b25a-1484307b814e, so AsyncResult.state '
              'reads PENDING',
              'oracle: every task returns; allows completed'],
 'expected': ['completed'],
 'canvas': 'chord([fuzz.part.s(value=0), chain(fuzz.part.s(value=0), group([fuzz.part.s(value=0), '
           'fuzz.part.s(value=0).set(ignore_result=True)], app=app), app=app)], fuzz.total.s(value=0), '
           'app=app)',
 'failing_index': 0,
 'config_changed': None,
 'exact': True,
 'construction': {'built': ['chain-app'], 'reproduces': {'pipe': True, 'chain-app': True}, 'needs': None},
 'mechanism': {'id': '3',
               'name': 'header ignores results',
               'known': True,
               'why': 'a variant: a part of a nested header group ignores its result, so the worker that '
                      "returned the last part waits in the chord's join for it forever (row 13 expects a "
                      'Join error after result_chord_join_timeout instead)'},
 'seed': 307,
 'blob': "@reproduce_failure('6.155.2', b'AXicY2R0ZIBAIGJ0ZEHlMjEicaAsIIMRwmRgQFLMAAAUggcs')",
 'hypothesis': '6.155.2',
 'examples_before': 265,
 'replay': {'runs': 3,
            'reproduced': 3,
            'rate': 1.0,
            'flaky': False,
            'seen': ['stuck/join-hang', 'stuck/join-hang', 'stuck/join-hang']},
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
  'header': [{'kind': 'task', 'behaviour': 'ok', 'value': 0},
             {'kind': 'chain',
              'links': [{'kind': 'task', 'behaviour': 'ok', 'value': 0},
                        {'kind': 'group',
                         'members': [{'kind': 'task', 'behaviour': 'ok', 'value': 0},
                                     {'kind': 'task',
                                      'behaviour': 'ok',
                                      'value': 0,
                                      'options': {'ignore_result': True}}]}]}],
  'body': {'kind': 'task', 'behaviour': 'ok', 'value': 0}}]


def canvas(app):
    """The shrunk canvas, exactly as the fuzzer sent it: the same calls, the same construction path."""
    fuzz = bind(app)
    return [
        chord([fuzz.part.s(value=0), chain(fuzz.part.s(value=0), group([fuzz.part.s(value=0), fuzz.part.s(value=0).set(ignore_result=True)], app=app), app=app)], fuzz.total.s(value=0), app=app),
    ]


scenario = Scenario(
    name='stuck-join-hang-18ae75',
    description='fuzzed: stuck/join-hang with chord([fuzz.part.s(value=0), chain(fuzz.part.s(value=0), group([fuzz.part.s(value=0), fuzz.part.s(value=0).set(ignore_result=True)], app=app), app=app)], fuzz.total.s(value=0), app=app)',
    expect='stuck',
    config={'task_routes': {'fuzz.total': {'queue': 'reports'}, 'fuzz.*': {'queue': 'execution'}, 'lab.part': {'queue': 'execution'}, 'lab.collect': {'queue': 'reports'}}},
    tasks=('lab.apps.basic', 'lab.apps.fuzz'),
    expect_cause='join-hang',
    mechanism='3',
    workers=(
        Worker('w1', queues=('execution',), concurrency=2),
    ),
    canvas=canvas,
)
