"""Fuzzing finding stuck-part-return-missing-717f56: stuck/part-return-missing.

Shrunk to: chord([], chain(fuzz.reject.s(value=0).set(ignore_result=True), fuzz.total.s(value=0), app=app), app=app)
upstream of the callback: task fuzz.reject 2ac7786e-b600-45ba-a22c-5f7acde42b3b ended REJECTED and stored no state, so nothing that waits on it runs

known mechanism 14 (Reject / Ignore in a header): a part raises Reject or Ignore, so no part return is recorded.
Construction: its chains reproduce it built either way (`a | b` or `chain(a, b, app=app)`).
Found by `python -m lab fuzz route-glob-mismatch --budget 2m --seed 606 --json` (seed 610), after 248 example(s);
replayed 3/3 time(s).
Run: `python -m lab run stuck-part-return-missing-717f56` sends canvas(app) below as built and judges it by the oracle computed
from it; `python -m lab export stuck-part-return-missing-717f56 --to DIR` writes it as plain Celery, for an upstream report.
"""

from celery import chain, chord, group  # noqa: F401 - what canvas() below is built with

from lab import Scenario, Worker
from lab.apps.fuzz import bind

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
 'canvas': 'chord([], chain(fuzz.reject.s(value=0).set(ignore_result=True), fuzz.total.s(value=0), app=app), '
           'app=app)',
 'failing_index': 0,
 'config_changed': None,
 'exact': True,
 'construction': {'built': ['chain-app'], 'reproduces': {'pipe': True, 'chain-app': True}, 'needs': None},
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

# The same canvas as the fuzzer's data (lab.fuzz.strategies.from_data reads it; `lab replay` builds it).
SHAPES = [{'kind': 'chord',
  'header': [],
  'body': {'kind': 'chain',
           'links': [{'kind': 'task', 'behaviour': 'reject', 'value': 0, 'options': {'ignore_result': True}},
                     {'kind': 'task', 'behaviour': 'ok', 'value': 0}]}}]


def canvas(app):
    """The shrunk canvas, exactly as the fuzzer sent it: the same calls, the same construction path."""
    fuzz = bind(app)
    return [
        chord([], chain(fuzz.reject.s(value=0).set(ignore_result=True), fuzz.total.s(value=0), app=app), app=app),
    ]


scenario = Scenario(
    name='stuck-part-return-missing-717f56',
    description='fuzzed: stuck/part-return-missing with chord([], chain(fuzz.reject.s(value=0).set(ignore_result=True), fuzz.total.s(value=0), app=app), app=app)',
    expect='stuck',
    config={'task_routes': {'fuzz.total': {'queue': 'execution'}, 'lab.apps.origin.tasks.execution.*': {'queue': 'execution'}, 'lab.apps.origin.tasks.metrics.*': {'queue': 'metrics'}}, 'task_track_started': True, 'result_expires': 3600},
    tasks=('lab.apps.origin.tasks', 'lab.apps.origin.tasks.execution.results', 'lab.apps.fuzz'),
    expect_cause='part-return-missing',
    mechanism='14',
    workers=(
        Worker('worker', concurrency=4),
    ),
    canvas=canvas,
)
