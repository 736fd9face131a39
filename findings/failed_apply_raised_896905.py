"""Fuzzing finding failed-apply-raised-896905: failed/apply-raised.

Shrunk to: chord([], chain(group(fuzz.part.s(), fuzz.part.s(), chord([], fuzz.total.s())), fuzz.total.s()))
apply_async raised AttributeError: 'list' object has no attribute 'options' in the producer; the chord was never sent

new (not in shared/notes/mechanisms.md): no row of the catalog fits.
Found by `python -m lab fuzz route-glob-mismatch --budget 2m --seed 606 --json` (seed 612), after 609 example(s);
replayed 3/3 time(s).
Replay: `python -m lab replay failed-apply-raised-896905`; the shape is nested: `python -m lab run` sends the flat projection below, which does NOT reproduce it; `python -m lab replay` sends the exact shape.
"""

from lab import Chord, Scenario, Worker

# Everything the fuzzer knows about this finding (lab.fuzz.findings reads it).
FINDING = {'id': 'failed-apply-raised-896905',
 'finding_kind': 'failed/apply-raised',
 'verdict': 'failed',
 'cause': 'apply-raised',
 'detail': None,
 'summary': "apply_async raised AttributeError: 'list' object has no attribute 'options' in the producer; "
            'the chord was never sent',
 'evidence': ["producer: apply_async raised AttributeError: 'list' object has no attribute 'options'",
              'traceback: File "/root/.pyenv/versions/3.11.7/lib/python3.11/site-packages/celery/canvas.py", '
              'line 186, in _clear_chord_option',
              "traceback: sig.options.pop('chord', None)",
              'traceback: ^^^^^^^^^^^',
              "traceback: AttributeError: 'list' object has no attribute 'options'",
              'oracle: every task returns; allows completed'],
 'expected': ['completed'],
 'canvas': 'chord([], chain(group(fuzz.part.s(), fuzz.part.s(), chord([], fuzz.total.s())), fuzz.total.s()))',
 'failing_index': 0,
 'config_changed': None,
 'exact': False,
 'projection_reproduces': False,
 'mechanism': {'id': None, 'name': None, 'known': False, 'why': 'no row of the catalog fits'},
 'seed': 612,
 'blob': "@reproduce_failure('6.155.2', b'AXicY2RwZGR0ZGV0ZIBAIEJlMzMgcRmQmACoswWl')",
 'hypothesis': '6.155.2',
 'examples_before': 609,
 'replay': {'runs': 3,
            'reproduced': 3,
            'rate': 1.0,
            'flaky': False,
            'seen': ['failed/apply-raised', 'failed/apply-raised', 'failed/apply-raised']},
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
           'links': [{'kind': 'group',
                      'members': [{'kind': 'task', 'behaviour': 'ok', 'value': 0},
                                  {'kind': 'task', 'behaviour': 'ok', 'value': 0},
                                  {'kind': 'chord',
                                   'header': [],
                                   'body': {'kind': 'task', 'behaviour': 'ok', 'value': 0}}]},
                     {'kind': 'task', 'behaviour': 'ok', 'value': 0}]}}]

scenario = Scenario(
    name='failed-apply-raised-896905',
    description='fuzzed: failed/apply-raised with chord([], chain(group(fuzz.part.s(), fuzz.part.s(), chord([], fuzz.total.s())), fuzz.total.s()))',
    expect='failed',
    config={'task_routes': {'fuzz.total': {'queue': 'execution'}, 'lab.apps.origin.tasks.execution.*': {'queue': 'execution'}, 'lab.apps.origin.tasks.metrics.*': {'queue': 'metrics'}}, 'task_track_started': True, 'result_expires': 3600},
    tasks=('lab.apps.origin.tasks', 'lab.apps.origin.tasks.execution.results', 'lab.apps.fuzz'),
    expect_cause='apply-raised',
    workers=(
        Worker('worker', concurrency=4),
    ),
    chords=(
        Chord(header=0, duration=(), header_task='fuzz.part', callback='fuzz.total'),
    ),
)
