"""Fuzzing finding stuck-callback-queue-unconsumed-5830cf: stuck/callback-queue-unconsumed.

Shrunk to: chord([], fuzz.total.s(value=0), app=app)
callback total is in queue 'celery', which no worker consumes (w1-g24 consumes execution)

known mechanism 1 (callback queue unconsumed (split queues)): the callback is routed to a queue no worker consumes.
Found by `python -m lab fuzz --space configs --budget 15m --seed 202 --json` (seed 203), after 14 example(s);
replayed 3/3 time(s).
Run: `python -m lab run stuck-callback-queue-unconsumed-5830cf` sends canvas(app) below as built and judges it by the oracle computed
from it; `python -m lab export stuck-callback-queue-unconsumed-5830cf --to DIR` writes it as plain Celery, for an upstream report.
"""

from celery import chain, chord, group  # noqa: F401 - what canvas() below is built with

from lab import Scenario, Worker
from lab.apps.fuzz import bind

# Everything the fuzzer knows about this finding (lab.fuzz.findings reads it).
FINDING = {'id': 'stuck-callback-queue-unconsumed-5830cf',
 'finding_kind': 'stuck/callback-queue-unconsumed',
 'verdict': 'stuck',
 'cause': 'callback-queue-unconsumed',
 'detail': None,
 'summary': "callback total is in queue 'celery', which no worker consumes (w1-g24 consumes execution)",
 'evidence': ["ledger: producer published callback 47974c41-dd4f-4794-a408-cfc57ab7b13a to queue 'celery' "
              't=0.01s, after the last part returned',
              "broker: queue 'celery' holds 1 message(s), including callback "
              '47974c41-dd4f-4794-a408-cfc57ab7b13a',
              "workers (inspect active_queues): w1-g24 consumes execution; none consumes 'celery'",
              'ledger: all 0 header parts returned SUCCESS',
              'backend: no meta for callback 47974c41-dd4f-4794-a408-cfc57ab7b13a, so AsyncResult.state '
              'reads PENDING',
              'oracle: every task returns; allows completed'],
 'expected': ['completed'],
 'canvas': 'chord([], fuzz.total.s(value=0), app=app)',
 'failing_index': 0,
 'config_changed': {'workers': [{'queues': ['execution'],
                                 'concurrency': 1,
                                 'pool': 'prefork',
                                 'code': 'current'}]},
 'exact': True,
 'construction': None,
 'mechanism': {'id': '1',
               'name': 'callback queue unconsumed (split queues)',
               'known': True,
               'why': 'the callback is routed to a queue no worker consumes'},
 'seed': 203,
 'blob': "@reproduce_failure('6.155.2', b'AXicY3RkZHRkZHBkdGRwZGBwhEMGBIcRIQhEAHvFBNo=')",
 'hypothesis': '6.155.2',
 'examples_before': 14,
 'replay': {'runs': 3,
            'reproduced': 3,
            'rate': 1.0,
            'flaky': False,
            'seen': ['stuck/callback-queue-unconsumed',
                     'stuck/callback-queue-unconsumed',
                     'stuck/callback-queue-unconsumed']},
 'space': 'configs',
 'base': None,
 'versions': {'python': '3.11.7',
              'celery': '5.7.0',
              'kombu': '5.7.0',
              'redis-py': '8.1.0',
              'billiard': '4.3.2',
              'redis-server': '7.0.15'},
 'git': 'c37f8d52589c-dirty',
 'config': {'workers': [{'queues': ['execution'], 'concurrency': 1, 'pool': 'prefork', 'code': 'current'}],
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
    name='stuck-callback-queue-unconsumed-5830cf',
    description='fuzzed: stuck/callback-queue-unconsumed with chord([], fuzz.total.s(value=0), app=app)',
    expect='stuck',
    tasks=('lab.apps.fuzz',),
    expect_cause='callback-queue-unconsumed',
    mechanism='1',
    workers=(
        Worker('w1', queues=('execution',)),
    ),
    canvas=canvas,
)
