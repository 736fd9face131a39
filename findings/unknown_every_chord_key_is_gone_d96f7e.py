"""Fuzzing finding unknown-every-chord-key-is-gone-d96f7e: unknown/every-chord-key-is-gone.

Shrunk to: chord([], chain(chord([], fuzz.total.s()), fuzz.total.s()))
every chord key is gone and no callback was published: the keys were removed or evicted

new (not in shared/notes/mechanisms.md): no row of the catalog fits.
Found by `python -m lab fuzz multiple-workers --budget 3m --seed 505 --json` (seed 507), after 27 example(s);
replayed 0/3 time(s) (flaky).
Replay: `python -m lab replay unknown-every-chord-key-is-gone-d96f7e`; the shape is nested: `python -m lab run` sends the flat projection below, which does NOT reproduce it; `python -m lab replay` sends the exact shape.
"""

from lab import Chord, Scenario, Worker

# Everything the fuzzer knows about this finding (lab.fuzz.findings reads it).
FINDING = {'id': 'unknown-every-chord-key-is-gone-d96f7e',
 'finding_kind': 'unknown/every-chord-key-is-gone',
 'verdict': 'unknown',
 'cause': None,
 'detail': 'every-chord-key-is-gone',
 'summary': 'every chord key is gone and no callback was published: the keys were removed or evicted',
 'evidence': ['backend: no .s, no .j; evicted_keys = 0', 'oracle: every task returns; allows completed'],
 'expected': ['completed'],
 'canvas': 'chord([], chain(chord([], fuzz.total.s()), fuzz.total.s()))',
 'failing_index': 0,
 'config_changed': None,
 'exact': False,
 'projection_reproduces': False,
 'mechanism': {'id': None, 'name': None, 'known': False, 'why': 'no row of the catalog fits'},
 'seed': 507,
 'blob': None,
 'hypothesis': '6.155.2',
 'examples_before': 27,
 'replay': {'runs': 3,
            'reproduced': 0,
            'rate': 0.0,
            'flaky': True,
            'seen': ['failed/callback-unregistered',
                     'failed/callback-unregistered',
                     'failed/callback-unregistered']},
 'space': 'shapes',
 'base': 'multiple-workers',
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
  'header': [],
  'body': {'kind': 'chain',
           'links': [{'kind': 'chord', 'header': [], 'body': {'kind': 'task', 'behaviour': 'ok', 'value': 0}},
                     {'kind': 'task', 'behaviour': 'ok', 'value': 0}]}}]

scenario = Scenario(
    name='unknown-every-chord-key-is-gone-d96f7e',
    description='fuzzed: unknown/every-chord-key-is-gone with chord([], chain(chord([], fuzz.total.s()), fuzz.total.s()))',
    expect='unknown',
    config={'task_routes': {'fuzz.total': {'queue': 'reports'}, 'fuzz.*': {'queue': 'execution'}, 'lab.part': {'queue': 'execution'}, 'lab.collect': {'queue': 'reports'}}, 'worker_prefetch_multiplier': 1},
    tasks=('lab.apps.basic', 'lab.apps.fuzz'),
    workers=(
        Worker('current', queues=('execution', 'reports')),
        Worker('stale', queues=('reports',), tasks=('lab.apps.stale_missing', 'lab.apps.fuzz_stale')),
    ),
    chords=(
        Chord(header=0, duration=(), header_task='fuzz.part', callback='fuzz.total'),
    ),
)
