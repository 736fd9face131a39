"""Fuzzing finding stuck-header-queue-unconsumed-e61172: stuck/header-queue-unconsumed.

Shrunk to: chord([fuzz.part.s(value=0)], fuzz.total.s(value=0), app=app)
1 header part(s) wait in queue 'execution', which no worker consumes (w1-g73 consumes celery)

known mechanism 1 (callback queue unconsumed (split queues)): the same mechanism on the header side: a part is routed to a queue no worker consumes.
Found by `python -m lab fuzz --space configs --budget 15m --seed 202 --json` (seed 204), after 48 example(s);
replayed 3/3 time(s).
Run: `python -m lab run stuck-header-queue-unconsumed-e61172` sends canvas(app) below as built and judges it by the oracle computed
from it; `python -m lab export stuck-header-queue-unconsumed-e61172 --to DIR` writes it as plain Celery, for an upstream report.
"""

from celery import chain, chord, group  # noqa: F401 - what canvas() below is built with

from lab import Scenario, Worker
from lab.apps.fuzz import bind

# Everything the fuzzer knows about this finding (lab.fuzz.findings reads it).
FINDING = {'id': 'stuck-header-queue-unconsumed-e61172',
 'finding_kind': 'stuck/header-queue-unconsumed',
 'verdict': 'stuck',
 'cause': 'header-queue-unconsumed',
 'detail': None,
 'summary': "1 header part(s) wait in queue 'execution', which no worker consumes (w1-g73 consumes celery)",
 'evidence': ['ledger: 0/1 header parts ended',
              "broker: queue 'execution' holds part 65fd1963-404e-4e02-b62a-bc1a27f65c10",
              'workers (inspect active_queues): w1-g73 consumes celery',
              'oracle: every task returns; allows completed'],
 'expected': ['completed'],
 'canvas': 'chord([fuzz.part.s(value=0)], fuzz.total.s(value=0), app=app)',
 'failing_index': 0,
 'config_changed': {'header_queue': 'execution'},
 'exact': True,
 'construction': None,
 'mechanism': {'id': '1',
               'name': 'callback queue unconsumed (split queues)',
               'known': True,
               'why': 'the same mechanism on the header side: a part is routed to a queue no worker '
                      'consumes'},
 'seed': 204,
 'blob': "@reproduce_failure('6.155.2', b'AXicY3RkcGQEYgYQBWaAOQwMMCYjQtARIQpCAL6oBh8=')",
 'hypothesis': '6.155.2',
 'examples_before': 48,
 'replay': {'runs': 3,
            'reproduced': 3,
            'rate': 1.0,
            'flaky': False,
            'seen': ['stuck/header-queue-unconsumed',
                     'stuck/header-queue-unconsumed',
                     'stuck/header-queue-unconsumed']},
 'space': 'configs',
 'base': None,
 'versions': {'python': '3.11.7',
              'celery': '5.7.0',
              'kombu': '5.7.0',
              'redis-py': '8.1.0',
              'billiard': '4.3.2',
              'redis-server': '7.0.15'},
 'git': 'c37f8d52589c-dirty',
 'config': {'workers': [{'queues': None, 'concurrency': 1, 'pool': 'prefork', 'code': 'current'}],
            'header_queue': 'execution',
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
  'header': [{'kind': 'task', 'behaviour': 'ok', 'value': 0}],
  'body': {'kind': 'task', 'behaviour': 'ok', 'value': 0}}]


def canvas(app):
    """The shrunk canvas, exactly as the fuzzer sent it: the same calls, the same construction path."""
    fuzz = bind(app)
    return [
        chord([fuzz.part.s(value=0)], fuzz.total.s(value=0), app=app),
    ]


scenario = Scenario(
    name='stuck-header-queue-unconsumed-e61172',
    description='fuzzed: stuck/header-queue-unconsumed with chord([fuzz.part.s(value=0)], fuzz.total.s(value=0), app=app)',
    expect='stuck',
    config={'task_routes': {'fuzz.*': {'queue': 'execution'}}},
    tasks=('lab.apps.fuzz',),
    expect_cause='header-queue-unconsumed',
    mechanism='1',
    workers=(
        Worker('w1'),
    ),
    canvas=canvas,
)
