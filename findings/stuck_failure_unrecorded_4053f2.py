"""Fuzzing finding stuck-failure-unrecorded-4053f2: stuck/failure-unrecorded.

Shrunk to: chord([], chain(fuzz.raise_.s(value=0).set(ignore_result=True), fuzz.total.s(value=0), app=app), app=app)
upstream of the callback: task fuzz.raise 79431edf-04e4-4573-9753-6436aeccf89a failed, but stored no result (it ignores its results), so the failure never reached the tasks after it

known mechanism 3 (header ignores results): a variant: a task that ignores its results fails, so its failure is never stored for the tasks after it.
Construction: its chains reproduce it built either way (`a | b` or `chain(a, b, app=app)`).
Found by `python -m lab fuzz --space configs --budget 8m --seed 808 --json` (seed 814), after 471 example(s);
replayed 3/3 time(s).
Run: `python -m lab run stuck-failure-unrecorded-4053f2` sends canvas(app) below as built and judges it by the oracle computed
from it; `python -m lab export stuck-failure-unrecorded-4053f2 --to DIR` writes it as plain Celery, for an upstream report.
"""

from celery import chain, chord, group  # noqa: F401 - what canvas() below is built with

from lab import Scenario, Worker
from lab.apps.fuzz import bind

# Everything the fuzzer knows about this finding (lab.fuzz.findings reads it).
FINDING = {'id': 'stuck-failure-unrecorded-4053f2',
 'finding_kind': 'stuck/failure-unrecorded',
 'verdict': 'stuck',
 'cause': 'failure-unrecorded',
 'detail': None,
 'summary': 'upstream of the callback: task fuzz.raise 79431edf-04e4-4573-9753-6436aeccf89a failed, but '
            'stored no result (it ignores its results), so the failure never reached the tasks after it',
 'evidence': ['upstream task 79431edf-04e4-4573-9753-6436aeccf89a:',
              'ledger: fuzz.raise 79431edf-04e4-4573-9753-6436aeccf89a ran on w1-g267 and ended FAILURE: '
              "'PartFailed: fuzzed task 79431edf-04e4-4573-9753-6436aeccf89a failed on purpose'",
              'backend: no meta for 79431edf-04e4-4573-9753-6436aeccf89a, nor for the callback',
              'backend: no .s, no .j; evicted_keys = 0',
              'oracle: a raise task fails; allows failed'],
 'expected': ['failed'],
 'canvas': 'chord([], chain(fuzz.raise_.s(value=0).set(ignore_result=True), fuzz.total.s(value=0), app=app), '
           'app=app)',
 'failing_index': 0,
 'config_changed': {},
 'exact': True,
 'construction': {'built': ['chain-app'], 'reproduces': {'pipe': True, 'chain-app': True}, 'needs': None},
 'mechanism': {'id': '3',
               'name': 'header ignores results',
               'known': True,
               'why': 'a variant: a task that ignores its results fails, so its failure is never stored for '
                      'the tasks after it'},
 'seed': 814,
 'blob': "@reproduce_failure('6.155.2', b'AXicY3RkcGQEYgYGRzhkQHAYgbKMMCUgRYxgMYR6EAIA9jYG5A==')",
 'hypothesis': '6.155.2',
 'examples_before': 471,
 'replay': {'runs': 3,
            'reproduced': 3,
            'rate': 1.0,
            'flaky': False,
            'seen': ['stuck/failure-unrecorded', 'stuck/failure-unrecorded', 'stuck/failure-unrecorded']},
 'space': 'configs',
 'base': None,
 'versions': {'python': '3.11.7',
              'celery': '5.7.0',
              'kombu': '5.7.0',
              'redis-py': '8.1.0',
              'billiard': '4.3.2',
              'redis-server': '7.0.15'},
 'git': '05b9259787ff',
 'config': {'workers': [{'queues': None, 'concurrency': 1, 'pool': 'prefork', 'code': 'current'}],
            'header_queue': None,
            'callback_queue': None,
            'unlock_queue': None,
            'result_expires': None,
            'result_chord_expires': None,
            'task_ignore_result': False,
            'task_acks_late': False,
            'task_reject_on_worker_lost': False,
            'backend': 'redis',
            'maxmemory_policy': 'noeviction',
            'maxmemory_mb': None,
            'visibility_timeout': None}}

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
    name='stuck-failure-unrecorded-4053f2',
    description='fuzzed: stuck/failure-unrecorded with chord([], chain(fuzz.raise_.s(value=0).set(ignore_result=True), fuzz.total.s(value=0), app=app), app=app)',
    expect='stuck',
    tasks=('lab.apps.fuzz',),
    expect_cause='failure-unrecorded',
    mechanism='3',
    workers=(
        Worker('w1'),
    ),
    canvas=canvas,
)
