"""Fuzzing finding stuck-failure-unrecorded-690e72: stuck/failure-unrecorded.

Shrunk to: chord([], chain(fuzz.part.s(), chain(fuzz.part.s(), fuzz.part.s(), fuzz.raise.s().set(ignore_result=True)), fuzz.total.s()))
upstream of the callback: task fuzz.raise e1eaa2a1-c557-45fc-90ce-966afd721b62 failed, but stored no result (it ignores its results), so the failure never reached the tasks after it

known mechanism 3 (header ignores results): a variant: a task that ignores its results fails, so its failure is never stored for the tasks after it.
Found by `python -m lab fuzz route-glob-mismatch --budget 2m --seed 606 --json` (seed 608), after 33 example(s);
replayed 3/3 time(s).
Replay: `python -m lab replay stuck-failure-unrecorded-690e72`; the shape is nested: `python -m lab run` sends the flat projection below, which does NOT reproduce it; `python -m lab replay` sends the exact shape.
"""

from lab import Chord, Scenario, Worker

# Everything the fuzzer knows about this finding (lab.fuzz.findings reads it).
FINDING = {'id': 'stuck-failure-unrecorded-690e72',
 'finding_kind': 'stuck/failure-unrecorded',
 'verdict': 'stuck',
 'cause': 'failure-unrecorded',
 'detail': None,
 'summary': 'upstream of the callback: task fuzz.raise e1eaa2a1-c557-45fc-90ce-966afd721b62 failed, but '
            'stored no result (it ignores its results), so the failure never reached the tasks after it',
 'evidence': ['upstream task e1eaa2a1-c557-45fc-90ce-966afd721b62:',
              'ledger: fuzz.raise e1eaa2a1-c557-45fc-90ce-966afd721b62 ran on worker and ended FAILURE: '
              "'PartFailed: fuzzed task e1eaa2a1-c557-45fc-90ce-966afd721b62 failed on purpose'",
              'backend: no meta for e1eaa2a1-c557-45fc-90ce-966afd721b62, nor for the callback',
              'backend: no .s, no .j; evicted_keys = 0',
              'oracle: a raise task fails; allows failed'],
 'expected': ['failed'],
 'canvas': 'chord([], chain(fuzz.part.s(), chain(fuzz.part.s(), fuzz.part.s(), '
           'fuzz.raise.s().set(ignore_result=True)), fuzz.total.s()))',
 'failing_index': 0,
 'config_changed': None,
 'exact': False,
 'projection_reproduces': False,
 'mechanism': {'id': '3',
               'name': 'header ignores results',
               'known': True,
               'why': 'a variant: a task that ignores its results fails, so its failure is never stored for '
                      'the tasks after it'},
 'seed': 608,
 'blob': "@reproduce_failure('6.155.2', b'AXicY2RwZGR0ZIBAIGKEc8EcJGEYG8hghDARuhgA/F0G5w==')",
 'hypothesis': '6.155.2',
 'examples_before': 33,
 'replay': {'runs': 3,
            'reproduced': 3,
            'rate': 1.0,
            'flaky': False,
            'seen': ['stuck/failure-unrecorded', 'stuck/failure-unrecorded', 'stuck/failure-unrecorded']},
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
  'header': [],
  'body': {'kind': 'chain',
           'links': [{'kind': 'task', 'behaviour': 'ok', 'value': 0},
                     {'kind': 'chain',
                      'links': [{'kind': 'task', 'behaviour': 'ok', 'value': 0},
                                {'kind': 'task', 'behaviour': 'ok', 'value': 0},
                                {'kind': 'task',
                                 'behaviour': 'raise',
                                 'value': 0,
                                 'options': {'ignore_result': True}}]},
                     {'kind': 'task', 'behaviour': 'ok', 'value': 0}]}}]

scenario = Scenario(
    name='stuck-failure-unrecorded-690e72',
    description='fuzzed: stuck/failure-unrecorded with chord([], chain(fuzz.part.s(), chain(fuzz.part.s(), fuzz.part.s(), fuzz.raise.s().set(ignore_result=True)), fuzz.total.s()))',
    expect='stuck',
    config={'task_routes': {'fuzz.total': {'queue': 'execution'}, 'lab.apps.origin.tasks.execution.*': {'queue': 'execution'}, 'lab.apps.origin.tasks.metrics.*': {'queue': 'metrics'}}, 'task_track_started': True, 'result_expires': 3600},
    tasks=('lab.apps.origin.tasks', 'lab.apps.origin.tasks.execution.results', 'lab.apps.fuzz'),
    expect_cause='failure-unrecorded',
    mechanism='3',
    workers=(
        Worker('worker', concurrency=4),
    ),
    chords=(
        Chord(header=0, duration=(), header_task='fuzz.part', callback='fuzz.total'),
    ),
)
