"""Fuzzing finding unknown-all-parts-ended-chord-unlock-ran-bac9cd: unknown/all-parts-ended-chord_unlock-ran.

Shrunk to: chord([group(fuzz.part.s().set(ignore_result=True))], fuzz.total.s())
all parts ended; chord_unlock ran 0 time(s); no callback yet

new (not in shared/notes/mechanisms.md): no row of the catalog fits.
Found by `python -m lab fuzz --space configs --budget 15m --seed 202 --json` (seed 206), after 296 example(s);
replayed 3/3 time(s).
Replay: `python -m lab replay unknown-all-parts-ended-chord-unlock-ran-bac9cd`; the shape is nested: `python -m lab run` sends the flat projection below, which reproduces the finding too; `python -m lab replay` sends the exact shape.
"""

from lab import Chord, Scenario, Worker

# Everything the fuzzer knows about this finding (lab.fuzz.findings reads it).
FINDING = {'id': 'unknown-all-parts-ended-chord-unlock-ran-bac9cd',
 'finding_kind': 'unknown/all-parts-ended-chord_unlock-ran',
 'verdict': 'unknown',
 'cause': None,
 'detail': 'all-parts-ended-chord_unlock-ran',
 'summary': 'all parts ended; chord_unlock ran 0 time(s); no callback yet',
 'evidence': ['oracle: every task returns; allows completed'],
 'expected': ['completed'],
 'canvas': 'chord([group(fuzz.part.s().set(ignore_result=True))], fuzz.total.s())',
 'failing_index': 0,
 'config_changed': {'workers': [{'queues': ('celery',),
                                 'concurrency': 1,
                                 'pool': 'prefork',
                                 'code': 'current'}],
                    'backend': 'database'},
 'exact': False,
 'projection_reproduces': True,
 'mechanism': {'id': None, 'name': None, 'known': False, 'why': 'no row of the catalog fits'},
 'seed': 206,
 'blob': "@reproduce_failure('6.155.2', b'AXicY3RkZHRkYHAEEiAKDhlgYo4MQAVMUCZYjBGqAK4UiAD+NQbo')",
 'hypothesis': '6.155.2',
 'examples_before': 296,
 'replay': {'runs': 3,
            'reproduced': 3,
            'rate': 1.0,
            'flaky': False,
            'seen': ['unknown/all-parts-ended-chord_unlock-ran',
                     'unknown/all-parts-ended-chord_unlock-ran',
                     'unknown/all-parts-ended-chord_unlock-ran']},
 'space': 'configs',
 'base': None,
 'versions': {'python': '3.11.7',
              'celery': '5.7.0',
              'kombu': '5.7.0',
              'redis-py': '8.1.0',
              'billiard': '4.3.2',
              'redis-server': '7.0.15'},
 'git': '7caeb0031f40-dirty',
 'config': {'workers': [{'queues': ['celery'], 'concurrency': 1, 'pool': 'prefork', 'code': 'current'}],
            'header_queue': None,
            'callback_queue': None,
            'unlock_queue': None,
            'result_expires': None,
            'result_chord_expires': None,
            'task_ignore_result': False,
            'task_acks_late': False,
            'task_reject_on_worker_lost': False,
            'backend': 'database',
            'maxmemory_policy': 'noeviction',
            'maxmemory_mb': None,
            'visibility_timeout': None}}

# The shrunk chord shape(s), exactly as sent (lab.fuzz.strategies.from_data reads them).
SHAPES = [{'kind': 'chord',
  'header': [{'kind': 'group',
              'members': [{'kind': 'task',
                           'behaviour': 'ok',
                           'value': 0,
                           'options': {'ignore_result': True}}]}],
  'body': {'kind': 'task', 'behaviour': 'ok', 'value': 0}}]

scenario = Scenario(
    name='unknown-all-parts-ended-chord-unlock-ran-bac9cd',
    description='fuzzed: unknown/all-parts-ended-chord_unlock-ran with chord([group(fuzz.part.s().set(ignore_result=True))], fuzz.total.s())',
    expect='unknown',
    backend='database',
    tasks=('lab.apps.fuzz',),
    workers=(
        Worker('w1', queues=('celery',)),
    ),
    chords=(
        Chord(header=1, duration=(0.0,), header_task='fuzz.part', callback='fuzz.total', part_options={'ignore_result': True}),
    ),
)
