"""Fuzzing finding stuck-failure-unrecorded-125271: stuck/failure-unrecorded.

Shrunk to: chord([], chain(fuzz.raise.s().set(ignore_result=True), fuzz.total.s()))
upstream of the callback: task fuzz.raise f0fc9ece-8681-4ade-8638-7b8812339c35 failed, but stored no result (it ignores its results), so the failure never reached the tasks after it

known mechanism 3 (header ignores results): a variant: a task that ignores its results fails, so its failure is never stored for the tasks after it.
Found by `python -m lab fuzz split-queues --budget 90s --seed 303 --json` (seed 306), after 196 example(s);
replayed 3/3 time(s).
Replay: `python -m lab replay stuck-failure-unrecorded-125271`; the shape is nested: `python -m lab run` sends the flat projection below, which does NOT reproduce it; `python -m lab replay` sends the exact shape.
"""

from lab import Chord, Scenario, Worker

# Everything the fuzzer knows about this finding (lab.fuzz.findings reads it).
FINDING = {'id': 'stuck-failure-unrecorded-125271',
 'finding_kind': 'stuck/failure-unrecorded',
 'verdict': 'stuck',
 'cause': 'failure-unrecorded',
 'detail': None,
 'summary': 'upstream of the callback: task fuzz.raise f0fc9ece-8681-4ade-8638-7b8812339c35 failed, but '
            'stored no result (it ignores its results), so the failure never reached the tasks after it',
 'evidence': ['upstream task f0fc9ece-8681-4ade-8638-7b8812339c35:',
              'ledger: fuzz.raise f0fc9ece-8681-4ade-8638-7b8812339c35 ran on w1 and ended FAILURE: '
              "'PartFailed: fuzzed task f0fc9ece-8681-4ade-8638-7b8812339c35 failed on purpose'",
              'backend: no meta for f0fc9ece-8681-4ade-8638-7b8812339c35, nor for the callback',
              'backend: no .s, no .j; evicted_keys = 0',
              'oracle: a raise task fails; allows failed'],
 'expected': ['failed'],
 'canvas': 'chord([], chain(fuzz.raise.s().set(ignore_result=True), fuzz.total.s()))',
 'failing_index': 0,
 'config_changed': None,
 'exact': False,
 'projection_reproduces': False,
 'mechanism': {'id': '3',
               'name': 'header ignores results',
               'known': True,
               'why': 'a variant: a task that ignores its results fails, so its failure is never stored for '
                      'the tasks after it'},
 'seed': 306,
 'blob': "@reproduce_failure('6.155.2', b'AXicY2RwZGR0BBJADIRgBiOUCaMYAEVdA5U=')",
 'hypothesis': '6.155.2',
 'examples_before': 196,
 'replay': {'runs': 3,
            'reproduced': 3,
            'rate': 1.0,
            'flaky': False,
            'seen': ['stuck/failure-unrecorded', 'stuck/failure-unrecorded', 'stuck/failure-unrecorded']},
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

# The shrunk chord shape(s), exactly as sent (lab.fuzz.strategies.from_data reads them).
SHAPES = [{'kind': 'chord',
  'header': [],
  'body': {'kind': 'chain',
           'links': [{'kind': 'task', 'behaviour': 'raise', 'value': 0, 'options': {'ignore_result': True}},
                     {'kind': 'task', 'behaviour': 'ok', 'value': 0}]}}]

scenario = Scenario(
    name='stuck-failure-unrecorded-125271',
    description='fuzzed: stuck/failure-unrecorded with chord([], chain(fuzz.raise.s().set(ignore_result=True), fuzz.total.s()))',
    expect='stuck',
    config={'task_routes': {'fuzz.total': {'queue': 'reports'}, 'fuzz.*': {'queue': 'execution'}, 'lab.part': {'queue': 'execution'}, 'lab.collect': {'queue': 'reports'}}},
    tasks=('lab.apps.basic', 'lab.apps.fuzz'),
    expect_cause='failure-unrecorded',
    mechanism='3',
    workers=(
        Worker('w1', queues=('execution',), concurrency=2),
    ),
    chords=(
        Chord(header=0, duration=(), header_task='fuzz.part', callback='fuzz.total'),
    ),
)
