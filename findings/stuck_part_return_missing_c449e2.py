"""Fuzzing finding stuck-part-return-missing-c449e2: stuck/part-return-missing.

Shrunk to: chord([], chain(fuzz.reject.s().set(ignore_result=True), fuzz.total.s()))
an upstream task of the callback never ran: task fuzz.reject 32892bad-4c3c-4ebc-a752-b6ba739edcc3 ended REJECTED and stored no state, so nothing that waits on it runs

known mechanism 14 (Reject / Ignore in a header): a part raises Reject or Ignore, so no part return is recorded.
Found by `python -m lab fuzz healthy --budget 12m --seed 101 --json` (seed 106), after 141 example(s);
replayed 3/3 time(s).
Replay: `python -m lab replay stuck-part-return-missing-c449e2`; the shape is nested: `python -m lab run` sends the flat projection below, which does NOT reproduce it; `python -m lab replay` sends the exact shape.
"""

from lab import Chord, Scenario, Worker

# Everything the fuzzer knows about this finding (lab.fuzz.findings reads it).
FINDING = {'id': 'stuck-part-return-missing-c449e2',
 'finding_kind': 'stuck/part-return-missing',
 'verdict': 'stuck',
 'cause': 'part-return-missing',
 'detail': None,
 'summary': 'an upstream task of the callback never ran: task fuzz.reject '
            '32892bad-4c3c-4ebc-a752-b6ba739edcc3 ended REJECTED and stored no state, so nothing that waits '
            'on it runs',
 'evidence': ['upstream task 32892bad-4c3c-4ebc-a752-b6ba739edcc3:',
              'ledger: fuzz.reject 32892bad-4c3c-4ebc-a752-b6ba739edcc3 ran on w1-g1 and ended REJECTED',
              'backend: no meta for 32892bad-4c3c-4ebc-a752-b6ba739edcc3',
              'backend: no .s, no .j; evicted_keys = 0',
              'oracle: a reject task fails; allows failed'],
 'expected': ['failed'],
 'canvas': 'chord([], chain(fuzz.reject.s().set(ignore_result=True), fuzz.total.s()))',
 'failing_index': 0,
 'config_changed': None,
 'exact': False,
 'projection_reproduces': False,
 'mechanism': {'id': '14',
               'name': 'Reject / Ignore in a header',
               'known': True,
               'why': 'a part raises Reject or Ignore, so no part return is recorded'},
 'seed': 106,
 'blob': "@reproduce_failure('6.155.2', b'AXicY2RwZGR0BBKOTECSAcRgYGSAMGEUAwBFkwOX')",
 'hypothesis': '6.155.2',
 'examples_before': 141,
 'replay': {'runs': 3,
            'reproduced': 3,
            'rate': 1.0,
            'flaky': False,
            'seen': ['stuck/part-return-missing', 'stuck/part-return-missing', 'stuck/part-return-missing']},
 'space': 'shapes',
 'base': 'healthy',
 'versions': {'python': '3.11.7',
              'celery': '5.7.0',
              'kombu': '5.7.0',
              'redis-py': '8.1.0',
              'billiard': '4.3.2',
              'redis-server': '7.0.15'},
 'git': 'c37f8d52589c-dirty',
 'config': None}

# The shrunk chord shape(s), exactly as sent (lab.fuzz.strategies.from_data reads them).
SHAPES = [{'kind': 'chord',
  'header': [],
  'body': {'kind': 'chain',
           'links': [{'kind': 'task', 'behaviour': 'reject', 'value': 0, 'options': {'ignore_result': True}},
                     {'kind': 'task', 'behaviour': 'ok', 'value': 0}]}}]

scenario = Scenario(
    name='stuck-part-return-missing-c449e2',
    description='fuzzed: stuck/part-return-missing with chord([], chain(fuzz.reject.s().set(ignore_result=True), fuzz.total.s()))',
    expect='stuck',
    config={'task_routes': {'fuzz.total': {'queue': 'reports'}, 'fuzz.*': {'queue': 'execution'}, 'lab.part': {'queue': 'execution'}, 'lab.collect': {'queue': 'reports'}}},
    tasks=('lab.apps.basic', 'lab.apps.fuzz'),
    expect_cause='part-return-missing',
    mechanism='14',
    workers=(
        Worker('w1', queues=('execution', 'reports'), concurrency=2),
    ),
    chords=(
        Chord(header=0, duration=(), header_task='fuzz.part', callback='fuzz.total'),
    ),
)
