"""Fuzzing finding stuck-nested-failure-uncounted-caf172: stuck/nested-failure-uncounted.

Shrunk to: chord([chord([fuzz.part.s(), fuzz.raise.s()], fuzz.total.s())], fuzz.total.s())
header part b81ab4c4-16cf-44fe-8345-60ec3b6d18fc never ran: it is a nested chord's callback, marked FAILURE when that chord failed, and this chord never counted it

known mechanism 10 (nested canvas miscount): a failure inside a nested canvas never reaches the outer callback, which stays PENDING (row 9 expects a FAILURE instead; row 10 lists PENDING for nested canvases).
Found by `python -m lab fuzz --space configs --budget 8m --seed 808 --json` (seed 811), after 166 example(s);
replayed 3/3 time(s).
Replay: `python -m lab replay stuck-nested-failure-uncounted-caf172`; the shape is nested: `python -m lab run` sends the flat projection below, which does NOT reproduce it; `python -m lab replay` sends the exact shape.
"""

from lab import Chord, Scenario, Worker

# Everything the fuzzer knows about this finding (lab.fuzz.findings reads it).
FINDING = {'id': 'stuck-nested-failure-uncounted-caf172',
 'finding_kind': 'stuck/nested-failure-uncounted',
 'verdict': 'stuck',
 'cause': 'nested-failure-uncounted',
 'detail': None,
 'summary': "header part b81ab4c4-16cf-44fe-8345-60ec3b6d18fc never ran: it is a nested chord's callback, "
            'marked FAILURE when that chord failed, and this chord never counted it',
 'evidence': ["backend: meta FAILURE for header part b81ab4c4-16cf-44fe-8345-60ec3b6d18fc: {'exc_type': "
              '\'ChordError\', \'exc_message\': ["Dependency cc285666-3309-4c0d-b08d-270f91f36508 raised '
              "PartFailed('fuzzed...",
              'ledger: part b81ab4c4-16cf-44fe-8345-60ec3b6d18fc never started',
              'ledger: 0/1 header parts ended; part b81ab4c4-16cf-44fe-8345-60ec3b6d18fc has no start',
              'broker: no queue and no unacked entry holds it',
              'oracle: a raise task fails; allows failed'],
 'expected': ['failed'],
 'canvas': 'chord([chord([fuzz.part.s(), fuzz.raise.s()], fuzz.total.s())], fuzz.total.s())',
 'failing_index': 0,
 'config_changed': {},
 'exact': False,
 'projection_reproduces': False,
 'mechanism': {'id': '10',
               'name': 'nested canvas miscount',
               'known': True,
               'why': 'a failure inside a nested canvas never reaches the outer callback, which stays '
                      'PENDING (row 9 expects a FAILURE instead; row 10 lists PENDING for nested canvases)'},
 'seed': 811,
 'blob': "@reproduce_failure('6.155.2', b'AXicY3RkcGQEYgYGRzhkQHAYGR2ZGaGiQJ4jgo1QjcYGAGQeCGw=')",
 'hypothesis': '6.155.2',
 'examples_before': 166,
 'replay': {'runs': 3,
            'reproduced': 3,
            'rate': 1.0,
            'flaky': False,
            'seen': ['stuck/nested-failure-uncounted',
                     'stuck/nested-failure-uncounted',
                     'stuck/nested-failure-uncounted']},
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
  'header': [{'kind': 'chord',
              'header': [{'kind': 'task', 'behaviour': 'ok', 'value': 0},
                         {'kind': 'task', 'behaviour': 'raise', 'value': 0}],
              'body': {'kind': 'task', 'behaviour': 'ok', 'value': 0}}],
  'body': {'kind': 'task', 'behaviour': 'ok', 'value': 0}}]

scenario = Scenario(
    name='stuck-nested-failure-uncounted-caf172',
    description='fuzzed: stuck/nested-failure-uncounted with chord([chord([fuzz.part.s(), fuzz.raise.s()], fuzz.total.s())], fuzz.total.s())',
    expect='stuck',
    tasks=('lab.apps.fuzz',),
    expect_cause='nested-failure-uncounted',
    mechanism='10',
    workers=(
        Worker('w1'),
    ),
    chords=(
        Chord(duration=(0.0, 0.0, 0.0), header_task='fuzz.part', callback='fuzz.total', raising_parts=(1,)),
    ),
)
