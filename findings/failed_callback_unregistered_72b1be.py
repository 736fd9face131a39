"""Fuzzing finding failed-callback-unregistered-72b1be: failed/callback-unregistered.

Shrunk to: chord([], fuzz.total.s(value=0), app=app)
the callback's state is FAILURE: NotRegistered: fuzz.total

known mechanism 6 (stale or mixed workers): a worker without the callback task took its message.
Found by `python -m lab fuzz --space configs --budget 8m --seed 808 --json` (seed 810), after 145 example(s);
replayed 3/3 time(s).
Run: `python -m lab run failed-callback-unregistered-72b1be` sends canvas(app) below as built and judges it by the oracle computed
from it; `python -m lab export failed-callback-unregistered-72b1be --to DIR` writes it as plain Celery, for an upstream report.
"""

from celery import chain, chord, group  # noqa: F401 - what canvas() below is built with

from lab import Scenario, Worker
from lab.apps.fuzz import bind

# Everything the fuzzer knows about this finding (lab.fuzz.findings reads it).
FINDING = {'id': 'failed-callback-unregistered-72b1be',
 'finding_kind': 'failed/callback-unregistered',
 'verdict': 'failed',
 'cause': 'callback-unregistered',
 'detail': None,
 'summary': "the callback's state is FAILURE: NotRegistered: fuzz.total",
 'evidence': ['backend: callback meta FAILURE NotRegistered: fuzz.total',
              'ledger: the callback never ran; the chord machinery marked it failed',
              'ledger: w1-g131 received the callback and discarded it as unregistered t=0.01s',
              'w1-g131@fuzz-b3fc7c log: [2026-11-29 12:08:31,301: ERROR/MainProcess] Received unregistered '
              "task of type 'fuzz.total'.",
              "workers (inspect registered): w1-g131 lacks 'fuzz.total'",
              'oracle: every task returns; allows completed'],
 'expected': ['completed'],
 'canvas': 'chord([], fuzz.total.s(value=0), app=app)',
 'failing_index': 0,
 'config_changed': {'workers': [{'queues': None, 'concurrency': 1, 'pool': 'prefork', 'code': 'stale'}]},
 'exact': True,
 'construction': None,
 'mechanism': {'id': '6',
               'name': 'stale or mixed workers',
               'known': True,
               'why': 'a worker without the callback task took its message'},
 'seed': 810,
 'blob': "@reproduce_failure('6.155.2', b'AXicY3RkcGQEYQZHOAQCGBMhDEIAbugElw==')",
 'hypothesis': '6.155.2',
 'examples_before': 145,
 'replay': {'runs': 3,
            'reproduced': 3,
            'rate': 1.0,
            'flaky': False,
            'seen': ['failed/callback-unregistered',
                     'failed/callback-unregistered',
                     'failed/callback-unregistered']},
 'space': 'configs',
 'base': None,
 'versions': {'python': '3.11.7',
              'celery': '5.7.0',
              'kombu': '5.7.0',
              'redis-py': '8.1.0',
              'billiard': '4.3.2',
              'redis-server': '7.0.15'},
 'git': '05b9259787ff',
 'config': {'workers': [{'queues': None, 'concurrency': 1, 'pool': 'prefork', 'code': 'stale'}],
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
SHAPES = [{'kind': 'chord', 'header': [], 'body': {'kind': 'task', 'behaviour': 'ok', 'value': 0}}]


def canvas(app):
    """The shrunk canvas, exactly as the fuzzer sent it: the same calls, the same construction path."""
    fuzz = bind(app)
    return [
        chord([], fuzz.total.s(value=0), app=app),
    ]


scenario = Scenario(
    name='failed-callback-unregistered-72b1be',
    description='fuzzed: failed/callback-unregistered with chord([], fuzz.total.s(value=0), app=app)',
    expect='failed',
    tasks=('lab.apps.fuzz',),
    expect_cause='callback-unregistered',
    mechanism='6',
    workers=(
        Worker('w1', tasks=('lab.apps.fuzz_stale',)),
    ),
    canvas=canvas,
)
