"""Fuzzing finding stuck-failure-unrecorded-9de664: stuck/failure-unrecorded.

Shrunk to: chord([], chain(chain(fuzz.part.s(), fuzz.raise.s().set(ignore_result=True)), fuzz.total.s()))
upstream of the callback: task fuzz.raise e6abde01-a0d6-4ba8-8744-058ea459f14e failed, but stored no result (it ignores its results), so the failure never reached the tasks after it

known mechanism 3 (header ignores results): a variant: a task that ignores its results fails, so its failure is never stored for the tasks after it.
Found by `python -m lab fuzz healthy --budget 6m --seed 909 --json` (seed 909), after 23 example(s);
replayed 3/3 time(s).
Replay: `python -m lab replay stuck-failure-unrecorded-9de664`; the shape is nested: `python -m lab run` sends the flat projection below, which does NOT reproduce it; `python -m lab replay` sends the exact shape.
"""

from lab import Chord, Scenario, Worker

# Everything the fuzzer knows about this finding (lab.fuzz.findings reads it).
FINDING = {'id': 'stuck-failure-unrecorded-9de664',
 'finding_kind': 'stuck/failure-unrecorded',
 'verdict': 'stuck',
 'cause': 'failure-unrecorded',
 'detail': None,
 'summary': 'upstream of the callback: task fuzz.raise e6abde01-a0d6-4ba8-8744-058ea459f14e failed, but '
            'stored no result (it ignores its results), so the failure never reached the tasks after it',
 'evidence': ['upstream task e6abde01-a0d6-4ba8-8744-058ea459f14e:',
              'ledger: fuzz.raise e6abde01-a0d6-4ba8-8744-058ea459f14e ran on w1 and ended FAILURE: '
              "'PartFailed: fuzzed task e6abde01-a0d6-4ba8-8744-058ea459f14e failed on purpose'",
              'backend: no meta for e6abde01-a0d6-4ba8-8744-058ea459f14e, nor for the callback',
              'backend: no .s, no .j; evicted_keys = 0',
              'oracle: a raise task fails; allows failed'],
 'expected': ['failed'],
 'canvas': 'chord([], chain(chain(fuzz.part.s(), fuzz.raise.s().set(ignore_result=True)), fuzz.total.s()))',
 'failing_index': 0,
 'config_changed': None,
 'exact': False,
 'projection_reproduces': False,
 'mechanism': {'id': '3',
               'name': 'header ignores results',
               'known': True,
               'why': 'a variant: a task that ignores its results fails, so its failure is never stored for '
                      'the tasks after it'},
 'seed': 909,
 'blob': "@reproduce_failure('6.155.2', b'AXicY2RwZGQEIQYQBCIgB8YGMhghTAa4NAMAdHwEnA==')",
 'hypothesis': '6.155.2',
 'examples_before': 23,
 'replay': {'runs': 3,
            'reproduced': 3,
            'rate': 1.0,
            'flaky': False,
            'seen': ['stuck/failure-unrecorded', 'stuck/failure-unrecorded', 'stuck/failure-unrecorded']},
 'space': 'shapes',
 'base': 'healthy',
 'versions': {'python': '3.11.7',
              'celery': '5.7.0',
              'kombu': '5.7.0',
              'redis-py': '8.1.0',
              'billiard': '4.3.2',
              'redis-server': '7.0.15'},
 'git': '05b9259787ff',
 'config': None}

# The shrunk chord shape(s), exactly as sent (lab.fuzz.strategies.from_data reads them).
SHAPES = [{'kind': 'chord',
  'header': [],
  'body': {'kind': 'chain',
           'links': [{'kind': 'chain',
                      'links': [{'kind': 'task', 'behaviour': 'ok', 'value': 0},
                                {'kind': 'task',
                                 'behaviour': 'raise',
                                 'value': 0,
                                 'options': {'ignore_result': True}}]},
                     {'kind': 'task', 'behaviour': 'ok', 'value': 0}]}}]

scenario = Scenario(
    name='stuck-failure-unrecorded-9de664',
    description='fuzzed: stuck/failure-unrecorded with chord([], chain(chain(fuzz.part.s(), fuzz.raise.s().set(ignore_result=True)), fuzz.total.s()))',
    expect='stuck',
    config={'task_routes': {'fuzz.total': {'queue': 'reports'}, 'fuzz.*': {'queue': 'execution'}, 'lab.part': {'queue': 'execution'}, 'lab.collect': {'queue': 'reports'}}},
    tasks=('lab.apps.basic', 'lab.apps.fuzz'),
    expect_cause='failure-unrecorded',
    mechanism='3',
    workers=(
        Worker('w1', queues=('execution', 'reports'), concurrency=2),
    ),
    chords=(
        Chord(header=0, duration=(), header_task='fuzz.part', callback='fuzz.total'),
    ),
)
