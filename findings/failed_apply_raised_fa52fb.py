"""Fuzzing finding failed-apply-raised-fa52fb: failed/apply-raised.

Shrunk to: chord([], chain(group([fuzz.part.s(value=0), fuzz.part.s(value=0), chord([], fuzz.total.s(value=0), app=app)], app=app), fuzz.total.s(value=0), app=app), app=app)
apply_async raised AttributeError: 'list' object has no attribute 'options' in the producer; the chord was never sent

new (not in shared/notes/mechanisms.md): no row of the catalog fits.
Construction: it needs its chains built as `chain(a, b, app=app)`: built as `a | b` the same canvas does not show it, so the construction path is part of the cause.
Found by `python -m lab fuzz healthy --budget 6m --seed 909 --json` (seed 910), after 125 example(s);
replayed 3/3 time(s).
Run: `python -m lab run failed-apply-raised-fa52fb` sends canvas(app) below as built and judges it by the oracle computed
from it; `python -m lab export failed-apply-raised-fa52fb --to DIR` writes it as plain Celery, for an upstream report.
"""

from celery import chain, chord, group  # noqa: F401 - what canvas() below is built with

from lab import Scenario, Worker
from lab.apps.fuzz import bind

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
 'canvas': 'chord([], chain(group([fuzz.part.s(value=0), fuzz.part.s(value=0), chord([], '
           'fuzz.total.s(value=0), app=app)], app=app), fuzz.total.s(value=0), app=app), app=app)',
 'failing_index': 0,
 'config_changed': None,
 'exact': True,
 'construction': {'built': ['chain-app'],
                  'reproduces': {'pipe': False, 'chain-app': True},
                  'needs': 'chain-app'},
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

# The same canvas as the fuzzer's data (lab.fuzz.strategies.from_data reads it; `lab replay` builds it).
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


def canvas(app):
    """The shrunk canvas, exactly as the fuzzer sent it: the same calls, the same construction path."""
    fuzz = bind(app)
    return [
        chord([], chain(group([fuzz.part.s(value=0), fuzz.part.s(value=0), chord([], fuzz.total.s(value=0), app=app)], app=app), fuzz.total.s(value=0), app=app), app=app),
    ]


scenario = Scenario(
    name='failed-apply-raised-fa52fb',
    description='fuzzed: failed/apply-raised with chord([], chain(group([fuzz.part.s(value=0), fuzz.part.s(value=0), chord([], fuzz.total.s(value=0), app=app)], app=app), fuzz.total.s(value=0), app=app), app=app)',
    expect='failed',
    config={'task_routes': {'fuzz.total': {'queue': 'reports'}, 'fuzz.*': {'queue': 'execution'}, 'lab.part': {'queue': 'execution'}, 'lab.collect': {'queue': 'reports'}}},
    tasks=('lab.apps.basic', 'lab.apps.fuzz'),
    expect_cause='apply-raised',
    workers=(
        Worker('w1', queues=('execution', 'reports'), concurrency=2),
    ),
    canvas=canvas,
)
