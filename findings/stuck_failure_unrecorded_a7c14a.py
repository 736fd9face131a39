"""Fuzzing finding stuck-failure-unrecorded-a7c14a: stuck/failure-unrecorded.

Shrunk to: chord([], chain(fuzz.raise_.s(value=0).set(ignore_result=True), fuzz.total.s(value=0), app=app), app=app)
an upstream task of the callback never ran: task fuzz.raise d70540f6-b2c9-4f70-a077-144074f3c09e failed, but stored no result (it ignores its results), so the failure never reached the tasks after it

known mechanism 3 (header ignores results): a variant: a task that ignores its results fails, so its failure is never stored for the tasks after it.
Construction: its chains reproduce it built either way (`a | b` or `chain(a, b, app=app)`).
Found by `python -m lab fuzz healthy --budget 12m --seed 101 --json` (seed 104), after 532 example(s);
replayed 3/3 time(s).
Run: `python -m lab run stuck-failure-unrecorded-a7c14a` sends canvas(app) below as built and judges it by the oracle computed
from it; `python -m lab export stuck-failure-unrecorded-a7c14a --to DIR` writes it as plain Celery, for an upstream report.
"""

from celery import chain, chord, group  # noqa: F401 - what canvas() below is built with

from lab import Scenario, Worker
from lab.apps.fuzz import bind

# Everything the fuzzer knows about this finding (lab.fuzz.findings reads it).
FINDING = {'id': 'stuck-failure-unrecorded-a7c14a',
 'finding_kind': 'stuck/failure-unrecorded',
 'verdict': 'stuck',
 'cause': 'failure-unrecorded',
 'detail': None,
 'summary': 'an upstream task of the callback never ran: task fuzz.raise '
            'd70540f6-b2c9-4f70-a077-144074f3c09e failed, but stored no result (it ignores its results), so '
            'the failure never reached the tasks after it',
 'evidence': ['upstream task d70540f6-b2c9-4f70-a077-144074f3c09e:',
              'ledger: fuzz.raise d70540f6-b2c9-4f70-a077-144074f3c09e ran on w1 and ended FAILURE: '
              "'PartFailed: fuzzed task d70540f6-b2c9-4f70-a077-144074f3c09e failed on purpose'",
              'backend: no meta for d70540f6-b2c9-4f70-a077-144074f3c09e, nor for the callback',
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
 'seed': 104,
 'blob': "@reproduce_failure('6.155.2', b'AXicY2RwZGR0BBJADIRgBiOUCaMYAEVdA5U=')",
 'hypothesis': '6.155.2',
 'examples_before': 532,
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
 'git': 'f0e4931c24c8-dirty',
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
    name='stuck-failure-unrecorded-a7c14a',
    description='fuzzed: stuck/failure-unrecorded with chord([], chain(fuzz.raise_.s(value=0).set(ignore_result=True), fuzz.total.s(value=0), app=app), app=app)',
    expect='stuck',
    config={'task_routes': {'fuzz.total': {'queue': 'reports'}, 'fuzz.*': {'queue': 'execution'}, 'lab.part': {'queue': 'execution'}, 'lab.collect': {'queue': 'reports'}}},
    tasks=('lab.apps.basic', 'lab.apps.fuzz'),
    expect_cause='failure-unrecorded',
    mechanism='3',
    workers=(
        Worker('w1', queues=('execution', 'reports'), concurrency=2),
    ),
    canvas=canvas,
)
