"""Fuzzing finding stuck-header-queue-unconsumed-551b17: stuck/header-queue-unconsumed.

Shrunk to: chord([chord([], fuzz.total.s())], fuzz.total.s())
1 header part(s) wait in queue 'execution', which no worker consumes (worker consumes celery)

known mechanism 1 (callback queue unconsumed (split queues)): the same mechanism on the header side: a part is routed to a queue no worker consumes.
Found by `python -m lab fuzz route-glob-mismatch --budget 2m --seed 606 --json` (seed 607), after 9 example(s);
replayed 3/3 time(s).
Replay: `python -m lab replay stuck-header-queue-unconsumed-551b17`; the shape is nested: `python -m lab run` sends the flat projection below, which does NOT reproduce it; `python -m lab replay` sends the exact shape.
"""

from lab import Chord, Scenario, Worker

# Everything the fuzzer knows about this finding (lab.fuzz.findings reads it).
FINDING = {'id': 'stuck-header-queue-unconsumed-551b17',
 'finding_kind': 'stuck/header-queue-unconsumed',
 'verdict': 'stuck',
 'cause': 'header-queue-unconsumed',
 'detail': None,
 'summary': "1 header part(s) wait in queue 'execution', which no worker consumes (worker consumes celery)",
 'evidence': ['ledger: 0/1 header parts ended',
              "broker: queue 'execution' holds part bfbe5e3f-49e3-4c27-a7d9-c623a83a937d",
              'workers (inspect active_queues): worker consumes celery',
              'oracle: every task returns; allows completed'],
 'expected': ['completed'],
 'canvas': 'chord([chord([], fuzz.total.s())], fuzz.total.s())',
 'failing_index': 0,
 'config_changed': None,
 'exact': False,
 'projection_reproduces': False,
 'mechanism': {'id': '1',
               'name': 'callback queue unconsumed (split queues)',
               'known': True,
               'why': 'the same mechanism on the header side: a part is routed to a queue no worker '
                      'consumes'},
 'seed': 607,
 'blob': "@reproduce_failure('6.155.2', b'AXicY2R0ZGZwhEIIQrABKokC0Q==')",
 'hypothesis': '6.155.2',
 'examples_before': 9,
 'replay': {'runs': 3,
            'reproduced': 3,
            'rate': 1.0,
            'flaky': False,
            'seen': ['stuck/header-queue-unconsumed',
                     'stuck/header-queue-unconsumed',
                     'stuck/header-queue-unconsumed']},
 'space': 'shapes',
 'base': 'route-glob-mismatch',
 'versions': {'python': '3.11.7',
              'celery': '5.7.0',
              'kombu': '5.7.0',
              'redis-py': '8.1.0',
              'billiard': '4.3.2',
              'redis-server': '7.0.15'},
 'git': '7caeb0031f40-dirty',
 'config': None}

# The shrunk chord shape(s), exactly as sent (lab.fuzz.strategies.from_data reads them).
SHAPES = [{'kind': 'chord',
  'header': [{'kind': 'chord', 'header': [], 'body': {'kind': 'task', 'behaviour': 'ok', 'value': 0}}],
  'body': {'kind': 'task', 'behaviour': 'ok', 'value': 0}}]

scenario = Scenario(
    name='stuck-header-queue-unconsumed-551b17',
    description='fuzzed: stuck/header-queue-unconsumed with chord([chord([], fuzz.total.s())], fuzz.total.s())',
    expect='stuck',
    config={'task_routes': {'fuzz.total': {'queue': 'execution'}, 'lab.apps.origin.tasks.execution.*': {'queue': 'execution'}, 'lab.apps.origin.tasks.metrics.*': {'queue': 'metrics'}}, 'task_track_started': True, 'result_expires': 3600},
    tasks=('lab.apps.origin.tasks', 'lab.apps.origin.tasks.execution.results', 'lab.apps.fuzz'),
    expect_cause='header-queue-unconsumed',
    mechanism='1',
    workers=(
        Worker('worker', concurrency=4),
    ),
    chords=(
        Chord(header=1, duration=(0.0,), header_task='fuzz.part', callback='fuzz.total'),
    ),
)
