"""Fuzzing finding stuck-failure-unrecorded-4053f2: stuck/failure-unrecorded.

Shrunk to: chord([], chain(fuzz.raise.s().set(ignore_result=True), fuzz.total.s()))
upstream of the callback: task fuzz.raise 79431edf-04e4-4573-9753-6436aeccf89a failed, but stored no result (it ignores its results), so the failure never reached the tasks after it

known mechanism 3 (header ignores results): a variant: a task that ignores its results fails, so its failure is never stored for the tasks after it.
Found by `python -m lab fuzz --space configs --budget 8m --seed 808 --json` (seed 814), after 471 example(s);
replayed 3/3 time(s).
Replay: `python -m lab replay stuck-failure-unrecorded-4053f2`; the shape is nested: `python -m lab run` sends the flat projection below, which does NOT reproduce it; `python -m lab replay` sends the exact shape.
"""

from lab import Chord, Scenario, Worker

# Everything the fuzzer knows about this finding (lab.fuzz.findings reads it).
FINDING = {'id': 'stuck-failure-unrecorded-4053f2',
 'finding_kind': 'stuck/failure-unrecorded',
 'verdict': 'stuck',
 'cause': 'failure-unrecorded',
 'detail': None,
 'summary': 'upstream of the callback: task fuzz.raise 79431edf-04e4-4573-9753-6436aeccf89a failed, but '
            'stored no result (it ignores its results), so the failure never reached the tasks after it',
 'evidence': ['upstream task 79431edf-04e4-4573-9753-6436aeccf89a:',
              'ledger: fuzz.raise 79431edf-04e4-4573-9753-6436aeccf89a ran on w1-g267 and ended FAILURE: '
              "'PartFailed: fuzzed task 79431edf-04e4-4573-9753-6436aeccf89a failed on purpose'",
              'backend: no meta for 79431edf-04e4-4573-9753-6436aeccf89a, nor for the callback',
              'backend: no .s, no .j; evicted_keys = 0',
              'oracle: a raise task fails; allows failed'],
 'expected': ['failed'],
 'canvas': 'chord([], chain(fuzz.raise.s().set(ignore_result=True), fuzz.total.s()))',
 'failing_index': 0,
 'config_changed': {},
 'exact': False,
 'projection_reproduces': False,
 'mechanism': {'id': '3',
               'name': 'header ignores results',
               'known': True,
               'why': 'a variant: a task that ignores its results fails, so its failure is never stored for '
                      'the tasks after it'},
 'seed': 814,
 'blob': "@reproduce_failure('6.155.2', b'AXicY3RkcGQEYgYGRzhkQHAYgbKMMCUgRYxgMYR6EAIA9jYG5A==')",
 'hypothesis': '6.155.2',
 'examples_before': 471,
 'replay': {'runs': 3,
            'reproduced': 3,
            'rate': 1.0,
            'flaky': False,
            'seen': ['stuck/failure-unrecorded', 'stuck/failure-unrecorded', 'stuck/failure-unrecorded']},
 'space': 'configs',
 'base': None,
 'versions': {'python': '3.11.7',
              'celery': '5.7.0',
              'kombu': '5.7.0',
              'redis-py': '8.1.0',
              'billiard': '4.3.2',
              'redis-server': '7.0.15'},
 'git': '05b9259787ff',
 'config': {'workers': [{'queues': None, 'concurrency': 1, 'pool': 'prefork', 'code': 'current'}],
            'header_queue': None,
            'callback_queue': None,
            'unlock_queue': None,
            'result_expires': None,
            'result_chord_expires': None,
            'task_ignore_result': False,
            'task_acks_late': False,
            'task_reject_on_worker_lost': False,
            'backend': 'redis',
            'maxmemory_policy': 'noeviction',
            'maxmemory_mb': None,
            'visibility_timeout': None}}

# The shrunk chord shape(s), exactly as sent (lab.fuzz.strategies.from_data reads them).
SHAPES = [{'kind': 'chord',
  'header': [],
  'body': {'kind': 'chain',
           'links': [{'kind': 'task', 'behaviour': 'raise', 'value': 0, 'options': {'ignore_result': True}},
                     {'kind': 'task', 'behaviour': 'ok', 'value': 0}]}}]

scenario = Scenario(
    name='stuck-failure-unrecorded-4053f2',
    description='fuzzed: stuck/failure-unrecorded with chord([], chain(fuzz.raise.s().set(ignore_result=True), fuzz.total.s()))',
    expect='stuck',
    tasks=('lab.apps.fuzz',),
    expect_cause='failure-unrecorded',
    mechanism='3',
    workers=(
        Worker('w1'),
    ),
    chords=(
        Chord(header=0, duration=(), header_task='fuzz.part', callback='fuzz.total'),
    ),
)
