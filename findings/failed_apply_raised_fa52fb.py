"""Fuzzing finding failed-apply-raised-fa52fb: failed/apply-raised.

Shrunk to: chord([], chain(group(fuzz.part.s(), fuzz.part.s(), chord([], fuzz.total.s())), fuzz.total.s()))
apply_async raised AttributeError: 'list' object has no attribute 'options' in the producer; the chord was never sent

new (not in shared/notes/mechanisms.md): no row of the catalog fits.
Found by `python -m lab fuzz healthy --budget 6m --seed 909 --json` (seed 910), after 125 example(s);
replayed 3/3 time(s).
Replay: `python -m lab replay failed-apply-raised-fa52fb`; the shape is nested: `python -m lab run` sends the flat projection below, which does NOT reproduce it; `python -m lab replay` sends the exact shape.
"""

from lab import Chord, Scenario, Worker

# Everything the fuzzer knows about this finding (lab.fuzz.findings reads it).
FINDING = {'id': 'failed-apply-raised-fa52fb',
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
 'seed': 910,
 'blob': "@reproduce_failure('6.155.2', b'AXicY2RwZGR0ZGV0ZIBAIEJlMzMgcRmQmACoswWl')",
 'hypothesis': '6.155.2',
 'examples_before': 125,
 'replay': {'runs': 3,
            'reproduced': 3,
            'rate': 1.0,
            'flaky': False,
            'seen': ['failed/apply-raised', 'failed/apply-raised', 'failed/apply-raised']},
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
           'links': [{'kind': 'group',
                      'members': [{'kind': 'task', 'behaviour': 'ok', 'value': 0},
                                  {'kind': 'task', 'behaviour': 'ok', 'value': 0},
                                  {'kind': 'chord',
                                   'header': [],
                                   'body': {'kind': 'task', 'behaviour': 'ok', 'value': 0}}]},
                     {'kind': 'task', 'behaviour': 'ok', 'value': 0}]}}]

scenario = Scenario(
    name='failed-apply-raised-fa52fb',
    description='fuzzed: failed/apply-raised with chord([], chain(group(fuzz.part.s(), fuzz.part.s(), chord([], fuzz.total.s())), fuzz.total.s()))',
    expect='failed',
    config={'task_routes': {'fuzz.total': {'queue': 'reports'}, 'fuzz.*': {'queue': 'execution'}, 'lab.part': {'queue': 'execution'}, 'lab.collect': {'queue': 'reports'}}},
    tasks=('lab.apps.basic', 'lab.apps.fuzz'),
    expect_cause='apply-raised',
    workers=(
        Worker('w1', queues=('execution', 'reports'), concurrency=2),
    ),
    chords=(
        Chord(header=0, duration=(), header_task='fuzz.part', callback='fuzz.total'),
    ),
)
