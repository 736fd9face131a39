"""Fuzzing finding stuck-failure-unrecorded-044045: stuck/failure-unrecorded.

Shrunk to: chord([], chain(fuzz.raise_.s(value=0).set(ignore_result=True), fuzz.total.s(value=0), app=app), app=app)
upstream of the callback: task fuzz.raise 54d5440d-3333-4edb-9e5f-9f84d28a450f failed, but stored no result (it ignores its results), so the failure never reached the tasks after it

known mechanism 3 (header ignores results): a variant: a task that ignores its results fails, so its failure is never stored for the tasks after it.
Construction: its chains reproduce it built either way (`a | b` or `chain(a, b, app=app)`).
Found by `python -m lab fuzz short-result-expiry --budget 3m --seed 404 --json` (seed 404), after 12 example(s);
replayed 3/3 time(s).
Run: `python -m lab run stuck-failure-unrecorded-044045` sends canvas(app) below as built and judges it by the oracle computed
from it; `python -m lab export stuck-failure-unrecorded-044045 --to DIR` writes it as plain Celery, for an upstream report.
"""

from celery import chain, chord, group  # noqa: F401 - what canvas() below is built with

from lab import Scenario, Worker
from lab.apps.fuzz import bind

# Everything the fuzzer knows about this finding (lab.fuzz.findings reads it).
FINDING = {'id': 'stuck-failure-unrecorded-044045',
 'finding_kind': 'stuck/failure-unrecorded',
 'verdict': 'stuck',
 'cause': 'failure-unrecorded',
 'detail': None,
 'summary': 'upstream of the callback: task fuzz.raise 54d5440d-3333-4edb-9e5f-9f84d28a450f failed, but '
            'stored no result (it ignores its results), so the failure never reached the tasks after it',
 'evidence': ['upstream task 54d5440d-3333-4edb-9e5f-9f84d28a450f:',
              'ledger: fuzz.raise 54d5440d-3333-4edb-9e5f-9f84d28a450f ran on w1 and ended FAILURE: '
              "'PartFailed: fuzzed task 54d5440d-3333-4edb-9e5f-9f84d28a450f failed on purpose'",
              'backend: no meta for 54d5440d-3333-4edb-9e5f-9f84d28a450f, nor for the callback',
              'backend: no .s, no .j; evicted_keys = 0',
              'oracle: a raise task fails; allows failed'],
 'expected': ['failed'],
 'canvas': 'chord([], chain(fuzz.raise_.s(value=0).set(ignore_result=True), fuzz.total.s(value=0), app=app), '
           'app=app)',
 'failing_index': 0,
 'config_changed': None,
 'exact': True,
 'construction': {'built': ['chain-app'], 'reproduces': {'pipe': True, 'chain-app': True}, 'needs': None},
 'mechanism': {'id': '3',
               'name': 'header ignores results',
               'known': True,
               'why': 'a variant: a task that ignores its results fails, so its failure is never stored for '
                      'the tasks after it'},
 'seed': 404,
 'blob': "@reproduce_failure('6.155.2', b'AXicY2RwZGR0BBJADIRgBiOUCaMYAEVdA5U=')",
 'hypothesis': '6.155.2',
 'examples_before': 12,
 'replay': {'runs': 3,
            'reproduced': 3,
            'rate': 1.0,
            'flaky': False,
            'seen': ['stuck/failure-unrecorded', 'stuck/failure-unrecorded', 'stuck/failure-unrecorded']},
 'space': 'shapes',
 'base': 'short-result-expiry',
 'versions': {'python': '3.11.7',
              'celery': '5.7.0',
              'kombu': '5.7.0',
              'redis-py': '8.1.0',
              'billiard': '4.3.2',
              'redis-server': '7.0.15'},
 'git': '7caeb0031f40-dirty',
 'config': None}

# The same canvas as the fuzzer's data (lab.fuzz.strategies.from_data reads it; `lab replay` builds it).
SHAPES = [{'kind': 'chord',
  'header': [],
  'body': {'kind': 'chain',
           'links': [{'kind': 'task', 'behaviour': 'raise', 'value': 0, 'options': {'ignore_result': True}},
                     {'kind': 'task', 'behaviour': 'ok', 'value': 0}]}}]


def canvas(app):
    """The shrunk canvas, exactly as the fuzzer sent it: the same calls, the same construction path."""
    fuzz = bind(app)
    return [
        chord([], chain(fuzz.raise_.s(value=0).set(ignore_result=True), fuzz.total.s(value=0), app=app), app=app),
    ]


scenario = Scenario(
    name='stuck-failure-unrecorded-044045',
    description='fuzzed: stuck/failure-unrecorded with chord([], chain(fuzz.raise_.s(value=0).set(ignore_result=True), fuzz.total.s(value=0), app=app), app=app)',
    expect='stuck',
    config={'result_expires': 1, 'result_chord_expires': 1},
    tasks=('lab.apps.basic', 'lab.apps.fuzz'),
    expect_cause='failure-unrecorded',
    mechanism='3',
    workers=(
        Worker('w1', concurrency=3),
    ),
    canvas=canvas,
)
