"""Fuzzing finding stuck-part-return-missing-717f56: stuck/part-return-missing.

Shrunk to: chord([], chain(fuzz.reject.s().set(ignore_result=True), fuzz.total.s()))
upstream of the callback: task fuzz.reject 2ac7786e-b600-45ba-a22c-5f7acde42b3b ended REJECTED and stored no state, so nothing that waits on it runs

known mechanism 14 (Reject / Ignore in a header): a part raises Reject or Ignore, so no part return is recorded.
Found by `python -m lab fuzz route-glob-mismatch --budget 2m --seed 606 --json` (seed 610), after 248 example(s);
replayed 3/3 time(s).
Replay: `python -m lab replay stuck-part-return-missing-717f56`; the shape is nested: `python -m lab run` sends the flat projection below, which does NOT reproduce it; `python -m lab replay` sends the exact shape.
"""

from lab import Chord, Scenario, Worker

# Everything the fuzzer knows about this finding (lab.fuzz.findings reads it).
FINDING = {'id': 'stuck-part-return-missing-717f56',
 'finding_kind': 'stuck/part-return-missing',
 'verdict': 'stuck',
 'cause': 'part-return-missing',
 'detail': None,
 'summary': 'upstream of the callback: task fuzz.reject 2ac7786e-b600-45ba-a22c-5f7acde42b3b ended REJECTED '
            'and stored no state, so nothing that waits on it runs',
 'evidence': ['upstream task 2ac7786e-b600-45ba-a22c-5f7acde42b3b:',
              'ledger: fuzz.reject 2ac7786e-b600-45ba-a22c-5f7acde42b3b ran on worker and ended REJECTED',
              'backend: no meta for 2ac7786e-b600-45ba-a22c-5f7acde42b3b',
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
 'seed': 610,
 'blob': "@reproduce_failure('6.155.2', b'AXicY2RwZGR0BBKOTECSAcRgYGSAMGEUAwBFkwOX')",
 'hypothesis': '6.155.2',
 'examples_before': 248,
 'replay': {'runs': 3,
            'reproduced': 3,
            'rate': 1.0,
            'flaky': False,
            'seen': ['stuck/part-return-missing', 'stuck/part-return-missing', 'stuck/part-return-missing']},
 'space': 'shapes',
 'base': 'route-glob-mismatch',
 'versions': {'python': '3.11.7',
              'celery': '5.7.0',
              'kombu': '5.7.0',
              'redis-py': '8.1.0',
              'billiard': '4.3.2',
              'redis-server': '7.0.15'},
 'git': 'b445789fd544',
 'config': None}

# The shrunk chord shape(s), exactly as sent (lab.fuzz.strategies.from_data reads them).
SHAPES = [{'kind': 'chord',
  'header': [],
  'body': {'kind': 'chain',
           'links': [{'kind': 'task', 'behaviour': 'reject', 'value': 0, 'options': {'ignore_result': True}},
                     {'kind': 'task', 'behaviour': 'ok', 'value': 0}]}}]

scenario = Scenario(
    name='stuck-part-return-missing-717f56',
    description='fuzzed: stuck/part-return-missing with chord([], chain(fuzz.reject.s().set(ignore_result=True), fuzz.total.s()))',
    expect='stuck',
    config={'task_routes': {'fuzz.total': {'queue': 'execution'}, 'lab.apps.origin.tasks.execution.*': {'queue': 'execution'}, 'lab.apps.origin.tasks.metrics.*': {'queue': 'metrics'}}, 'task_track_started': True, 'result_expires': 3600},
    tasks=('lab.apps.origin.tasks', 'lab.apps.origin.tasks.execution.results', 'lab.apps.fuzz'),
    expect_cause='part-return-missing',
    mechanism='14',
    workers=(
        Worker('worker', concurrency=4),
    ),
    chords=(
        Chord(header=0, duration=(), header_task='fuzz.part', callback='fuzz.total'),
    ),
)
