"""Fuzzing finding stuck-join-hang-6bf754: stuck/join-hang.

Shrunk to: chord([fuzz.part.s(value=214), group([fuzz.part.s(value=593)], app=app), group([fuzz.retry.si(value=136).set(queue='execution', headers={'organization_id': 'org-1', 'user_id': 'user-1'}, eta=datetime.now(timezone.utc) + timedelta(seconds=0.02)), fuzz.part.si(value=740).set(queue='execution', ignore_result=True, countdown=0.1)], app=app) | group([fuzz.retry.si(value=61, duration=0.02), fuzz.part.s(value=708), fuzz.raise_.s(value=142).set(ignore_result=True, eta=datetime.now(timezone.utc) + timedelta(seconds=0.02))], app=app), chord([], chain(group([fuzz.part.si(value=173, duration=0.02).set(headers={'organization_id': 'org-1', 'user_id': 'user-1'}, countdown=0.02, eta=datetime.now(timezone.utc) + timedelta(seconds=0.1)), fuzz.part.si(value=107), fuzz.large.si(value=236, duration=0.1).set(ignore_result=True, headers={'organization_id': 'org-1', 'user_id': 'user-1'}, countdown=0.1, eta=datetime.now(timezone.utc) + timedelta(seconds=0.02))], app=app), group([fuzz.part.si(value=141, duration=0.005) | fuzz.reject.s(value=490, duration=0.02).set(ignore_result=True, countdown=0.1)], app=app), fuzz.total.si(value=901), app=app), app=app)], fuzz.reject.s(value=283).set(queue='reports', ignore_result=True), app=app)
the chord's count is complete but part eb0caba6-8c9a-45a3-a287-dcc8b2f69512 never finished: the worker that returned it is blocked in the chord's join, 13 s on, although result_chord_join_timeout is 3.0 s

known mechanism 3 (header ignores results): a variant: a part of a nested header group ignores its result, so the worker that returned the last part waits in the chord's join for it forever (row 13 expects a Join error after result_chord_join_timeout instead).
Construction: it needs its chains built as `chain(a, b, app=app)`: built as `a | b` the same canvas does not show it, so the construction path is part of the cause.
Found by `python -m lab fuzz healthy --space shapes --budget 20m --seed 1401 --behaviours ok,raise,retry,reject,ignore,timeout,large --max-chords 3 --max-header 4 --max-leaves 6 --replays 3 --skip-kind early/nesting --skip-kind early/order --skip-kind early/wrong-values --skip-kind failed/apply-raised --skip-kind stuck/chord-size-key-missing --skip-kind stuck/failure-not-propagated --skip-kind stuck/failure-unrecorded --skip-kind stuck/nested-failure-uncounted --skip-kind stuck/part-return-missing --skip-kind stuck/rejected-failure-lost --skip-kind unrecorded/unexplained --in-flight 8 --shard 1/2 --json` (seed 1401), after 143 example(s);
replayed 3/3 time(s).
Run: `python -m lab run stuck-join-hang-6bf754` sends canvas(app) below as built and judges it by the oracle computed
from it; `python -m lab export stuck-join-hang-6bf754 --to DIR` writes it as plain Celery, for an upstream report.
"""

from datetime import datetime, timedelta, timezone  # noqa: F401 - an eta in canvas() below, where one is set

from celery import chain, chord, group  # noqa: F401 - what canvas() below is built with

from lab import Scenario, Worker
from lab.apps.fuzz import bind

# Everything the fuzzer knows about this finding (lab.fuzz.findings reads it).
FINDING = {'id': 'stuck-join-hang-6bf754',
 'finding_kind': 'stuck/join-hang',
 'verdict': 'stuck',
 'cause': 'join-hang',
 'detail': None,
 'summary': "the chord's count is complete but part eb0caba6-8c9a-45a3-a287-dcc8b2f69512 never finished: the "
            "worker that returned it is blocked in the chord's join, 13 s on, although "
            'result_chord_join_timeout is 3.0 s',
 'evidence': ['ledger: part eb0caba6-8c9a-45a3-a287-dcc8b2f69512 started t=0.49s on w1-g12 (pid 17716), no '
              'end 13.2 s later; its body sleeps 0.0 s',
              "backend: .j holds 6 part returns of .s = 6: the count is complete, this part's return "
              'included',
              'backend: part eb0caba6-8c9a-45a3-a287-dcc8b2f69512 meta SUCCESS: its result was stored before '
              'the part return',
              'backend: .c absent (the dispatch claim was taken and expired); no callback was published',
              'ledger: 4/6 header parts ended',
              'backend: no meta for part(s) 4fa8e142-97a9-4138-8fdd-d5d623a59910: the join waits for a '
              'result that will never exist',
              'backend: no meta for callback a6dc590f-ad2b-42b9-9b0b-07f69582f72e, so AsyncResult.state '
              'reads PENDING',
              'oracle: a raise task fails; allows failed'],
 'expected': ['failed'],
 'canvas': 'chord([fuzz.part.s(value=214), group([fuzz.part.s(value=593)], app=app), '
           "group([fuzz.retry.si(value=136).set(queue='execution', headers={'organization_id': 'org-1', "
           "'user_id': 'user-1'}, eta=datetime.now(timezone.utc) + timedelta(seconds=0.02)), "
           "fuzz.part.si(value=740).set(queue='execution', ignore_result=True, countdown=0.1)], app=app) | "
           'group([fuzz.retry.si(value=61, duration=0.02), fuzz.part.s(value=708), '
           'fuzz.raise_.s(value=142).set(ignore_result=True, eta=datetime.now(timezone.utc) + '
           'timedelta(seconds=0.02))], app=app), chord([], chain(group([fuzz.part.si(value=173, '
           "duration=0.02).set(headers={'organization_id': 'org-1', 'user_id': 'user-1'}, countdown=0.02, "
           'eta=datetime.now(timezone.utc) + timedelta(seconds=0.1)), fuzz.part.si(value=107), '
           "fuzz.large.si(value=236, duration=0.1).set(ignore_result=True, headers={'organization_id': "
           "'org-1', 'user_id': 'user-1'}, countdown=0.1, eta=datetime.now(timezone.utc) + "
           'timedelta(seconds=0.02))], app=app), group([fuzz.part.si(value=141, duration=0.005) | '
           'fuzz.reject.s(value=490, duration=0.02).set(ignore_result=True, countdown=0.1)], app=app), '
           "fuzz.total.si(value=901), app=app), app=app)], fuzz.reject.s(value=283).set(queue='reports', "
           'ignore_result=True), app=app)',
 'failing_index': 0,
 'config_changed': None,
 'exact': True,
 'construction': {'built': ['chain-app', 'pipe'],
                  'reproduces': {'pipe': False, 'chain-app': True},
                  'needs': 'chain-app'},
 'mechanism': {'id': '3',
               'name': 'header ignores results',
               'known': True,
               'why': 'a variant: a part of a nested header group ignores its result, so the worker that '
                      "returned the last part waits in the chord's join for it forever (row 13 expects a "
                      'Join error after result_chord_join_timeout instead)'},
 'seed': 1401,
 'blob': "@reproduce_failure('6.155.2', "
         "b'AXicTVI9boIxDH0OfENvUAmuwmDvHcoBegEOwI6ExAL6LsJcqXPXrl1h6FT1EI2fnRBFiuS/9+NEFKJQGL4V8KDU2MorIyaWzNVjOHlcD2eEo1Z+MimekgeKnw0L2fiZNQ9w8cArCCiy1dYn3hSBa0x7lXeC6Y6AnpoMf5pskOBsEqboNpxTqpeKyS8dJHe2S5i1xTH3Eapq9yp0FupMY44q2yZOwoi2pWAQTOPy0hlbmiaJU+6OTgqgTZS5C16YvOXSQkLzFiuag09kBI516HNsZiDDR0INkk3W/V2K4ZZLjp1Ufs59JRTFvXeX0v9BlaT7x5PmYyG+1qFjAv8GUk1I')",
 'hypothesis': '6.155.2',
 'examples_before': 143,
 'replay': {'runs': 3,
            'reproduced': 3,
            'rate': 1.0,
            'flaky': False,
            'seen': ['stuck/join-hang', 'stuck/join-hang', 'stuck/join-hang']},
 'space': 'shapes',
 'base': 'healthy',
 'versions': {'python': '3.11.7',
              'celery': '5.7.0',
              'kombu': '5.7.0',
              'redis-py': '8.1.0',
              'billiard': '4.3.2',
              'redis-server': '7.0.15'},
 'git': '88cf2b6c1909-dirty',
 'config': None}

# The same canvas as the fuzzer's data (lab.fuzz.strategies.from_data reads it; `lab replay` builds it).
SHAPES = [{'kind': 'chord',
  'header': [{'kind': 'task', 'behaviour': 'ok', 'value': 214},
             {'kind': 'group',
              'members': [{'kind': 'task', 'behaviour': 'ok', 'value': 593}],
              'built': 'list-app'},
             {'kind': 'chain',
              'links': [{'kind': 'group',
                         'members': [{'kind': 'task',
                                      'behaviour': 'retry',
                                      'value': 136,
                                      'immutable': True,
                                      'options': {'queue': 'execution', 'headers': True, 'eta': 0.02}},
                                     {'kind': 'task',
                                      'behaviour': 'ok',
                                      'value': 740,
                                      'immutable': True,
                                      'options': {'queue': 'execution',
                                                  'ignore_result': True,
                                                  'countdown': 0.1}}],
                         'built': 'list-app'},
                        {'kind': 'group',
                         'members': [{'kind': 'task',
                                      'behaviour': 'retry',
                                      'value': 61,
                                      'duration': 0.02,
                                      'immutable': True},
                                     {'kind': 'task', 'behaviour': 'ok', 'value': 708},
                                     {'kind': 'task',
                                      'behaviour': 'raise',
                                      'value': 142,
                                      'options': {'ignore_result': True, 'eta': 0.02}}],
                         'built': 'list-app'}],
              'built': 'pipe'},
             {'kind': 'chord',
              'header': [],
              'body': {'kind': 'chain',
                       'links': [{'kind': 'group',
                                  'members': [{'kind': 'task',
                                               'behaviour': 'ok',
                                               'value': 173,
                                               'duration': 0.02,
                                               'immutable': True,
                                               'options': {'headers': True, 'countdown': 0.02, 'eta': 0.1}},
                                              {'kind': 'task',
                                               'behaviour': 'ok',
                                               'value': 107,
                                               'immutable': True},
                                              {'kind': 'task',
                                               'behaviour': 'large',
                                               'value': 236,
                                               'duration': 0.1,
                                               'immutable': True,
                                               'options': {'ignore_result': True,
                                                           'headers': True,
                                                           'countdown': 0.1,
                                                           'eta': 0.02}}],
                                  'built': 'list-app'},
                                 {'kind': 'group',
                                  'members': [{'kind': 'chain',
                                               'links': [{'kind': 'task',
                                                          'behaviour': 'ok',
                                                          'value': 141,
                                                          'duration': 0.005,
                                                          'immutable': True},
                                                         {'kind': 'task',
                                                          'behaviour': 'reject',
                                                          'value': 490,
                                                          'duration': 0.02,
                                                          'options': {'ignore_result': True,
                                                                      'countdown': 0.1}}],
                                               'built': 'pipe'}],
                                  'built': 'list-app'},
                                 {'kind': 'task', 'behaviour': 'ok', 'value': 901, 'immutable': True}],
                       'built': 'chain-app'},
              'built': 'app'}],
  'body': {'kind': 'task',
           'behaviour': 'reject',
           'value': 283,
           'options': {'queue': 'reports', 'ignore_result': True}},
  'built': 'app'},
 {'kind': 'group',
  'members': [{'kind': 'chain',
               'links': [{'kind': 'task',
                          'behaviour': 'ok',
                          'value': 338,
                          'duration': 0.02,
                          'immutable': True,
                          'options': {'queue': 'execution', 'countdown': 0.02}},
                         {'kind': 'task',
                          'behaviour': 'ok',
                          'value': 1,
                          'options': {'headers': True, 'countdown': 0.02}},
                         {'kind': 'task',
                          'behaviour': 'ok',
                          'value': 333,
                          'duration': 0.02,
                          'options': {'headers': True, 'countdown': 0.02}}],
               'built': 'pipe'},
              {'kind': 'chain',
               'links': [{'kind': 'task',
                          'behaviour': 'ok',
                          'value': 736,
                          'duration': 0.1,
                          'options': {'queue': 'reports'}},
                         {'kind': 'task', 'behaviour': 'ok', 'value': 656, 'immutable': True},
                         {'kind': 'task',
                          'behaviour': 'ignore',
                          'value': 350,
                          'immutable': True,
                          'options': {'ignore_result': True}}],
               'built': 'chain-app'},
              {'kind': 'group',
               'members': [{'kind': 'group',
                            'members': [{'kind': 'task',
                                         'behaviour': 'ok',
                                         'value': 144,
                                         'options': {'queue': 'execution',
                                                     'ignore_result': True,
                                                     'headers': True,
                                                     'countdown': 0.02}}],
                            'built': 'args'},
                           {'kind': 'group',
                            'members': [{'kind': 'task',
                                         'behaviour': 'raise',
                                         'value': 24,
                                         'duration': 0.1,
                                         'immutable': True}],
                            'built': 'args'},
                           {'kind': 'chain',
                            'links': [{'kind': 'task',
                                       'behaviour': 'ok',
                                       'value': 186,
                                       'immutable': True,
                                       'options': {'countdown': 0.02}},
                                      {'kind': 'task', 'behaviour': 'ok', 'value': 284},
                                      {'kind': 'task',
                                       'behaviour': 'reject',
                                       'value': 223,
                                       'duration': 0.02,
                                       'immutable': True}],
                            'built': 'pipe'}],
               'built': 'list-app'},
              {'kind': 'chord',
               'header': [{'kind': 'task',
                           'behaviour': 'ok',
                           'value': 205,
                           'duration': 0.1,
                           'immutable': True},
                          {'kind': 'task',
                           'behaviour': 'ok',
                           'value': 695,
                           'duration': 0.005,
                           'options': {'ignore_result': True, 'headers': True, 'eta': 0.02}},
                          {'kind': 'task',
                           'behaviour': 'large',
                           'value': 119,
                           'options': {'ignore_result': True, 'countdown': 0.02, 'eta': 0.1}}],
               'body': {'kind': 'task', 'behaviour': 'ok', 'value': 130, 'duration': 0.02, 'immutable': True},
               'built': 'app'}],
  'built': 'list-app'}]


def canvas(app):
    """The shrunk canvas, exactly as the fuzzer sent it: the same calls, the same construction path."""
    fuzz = bind(app)
    return [
        chord([fuzz.part.s(value=214), group([fuzz.part.s(value=593)], app=app), group([fuzz.retry.si(value=136).set(queue='execution', headers={'organization_id': 'org-1', 'user_id': 'user-1'}, eta=datetime.now(timezone.utc) + timedelta(seconds=0.02)), fuzz.part.si(value=740).set(queue='execution', ignore_result=True, countdown=0.1)], app=app) | group([fuzz.retry.si(value=61, duration=0.02), fuzz.part.s(value=708), fuzz.raise_.s(value=142).set(ignore_result=True, eta=datetime.now(timezone.utc) + timedelta(seconds=0.02))], app=app), chord([], chain(group([fuzz.part.si(value=173, duration=0.02).set(headers={'organization_id': 'org-1', 'user_id': 'user-1'}, countdown=0.02, eta=datetime.now(timezone.utc) + timedelta(seconds=0.1)), fuzz.part.si(value=107), fuzz.large.si(value=236, duration=0.1).set(ignore_result=True, headers={'organization_id': 'org-1', 'user_id': 'user-1'}, countdown=0.1, eta=datetime.now(timezone.utc) + timedelta(seconds=0.02))], app=app), group([fuzz.part.si(value=141, duration=0.005) | fuzz.reject.s(value=490, duration=0.02).set(ignore_result=True, countdown=0.1)], app=app), fuzz.total.si(value=901), app=app), app=app)], fuzz.reject.s(value=283).set(queue='reports', ignore_result=True), app=app),
        group([fuzz.part.si(value=338, duration=0.02).set(queue='execution', countdown=0.02) | fuzz.part.s(value=1).set(headers={'organization_id': 'org-1', 'user_id': 'user-1'}, countdown=0.02) | fuzz.part.s(value=333, duration=0.02).set(headers={'organization_id': 'org-1', 'user_id': 'user-1'}, countdown=0.02), chain(fuzz.part.s(value=736, duration=0.1).set(queue='reports'), fuzz.part.si(value=656), fuzz.ignore.si(value=350).set(ignore_result=True), app=app), group([group(fuzz.part.s(value=144).set(queue='execution', ignore_result=True, headers={'organization_id': 'org-1', 'user_id': 'user-1'}, countdown=0.02)), group(fuzz.raise_.si(value=24, duration=0.1)), fuzz.part.si(value=186).set(countdown=0.02) | fuzz.part.s(value=284) | fuzz.reject.si(value=223, duration=0.02)], app=app), chord([fuzz.part.si(value=205, duration=0.1), fuzz.part.s(value=695, duration=0.005).set(ignore_result=True, headers={'organization_id': 'org-1', 'user_id': 'user-1'}, eta=datetime.now(timezone.utc) + timedelta(seconds=0.02)), fuzz.large.s(value=119).set(ignore_result=True, countdown=0.02, eta=datetime.now(timezone.utc) + timedelta(seconds=0.1))], fuzz.total.si(value=130, duration=0.02), app=app)], app=app),
    ]


scenario = Scenario(
    name='stuck-join-hang-6bf754',
    description="fuzzed: stuck/join-hang with chord([fuzz.part.s(value=214), group([fuzz.part.s(value=593)], app=app), group([fuzz.retry.si(value=136).set(queue='execution', headers={'organization_id': 'org-1', 'user_id': 'user-1'}, eta=datetime.now(timezone.utc) + timedelta(seconds=0.02)), fuzz.part.si(value=740).s",
    expect='stuck',
    config={'task_routes': {'fuzz.total': {'queue': 'reports'}, 'fuzz.*': {'queue': 'execution'}, 'lab.part': {'queue': 'execution'}, 'lab.collect': {'queue': 'reports'}}},
    tasks=('lab.apps.basic', 'lab.apps.fuzz'),
    expect_cause='join-hang',
    mechanism='3',
    workers=(
        Worker('w1', queues=('execution', 'reports'), concurrency=2),
    ),
    canvas=canvas,
)
