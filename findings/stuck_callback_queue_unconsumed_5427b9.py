"""Fuzzing finding stuck-callback-queue-unconsumed-5427b9: stuck/callback-queue-unconsumed.

Shrunk to: chord([], fuzz.total.s(value=0), app=app)
callback total is in queue 'execution', which no worker consumes (worker consumes celery)

known mechanism 1 (callback queue unconsumed (split queues)): the callback is routed to a queue no worker consumes.
Found by `python -m lab fuzz route-glob-mismatch --budget 2m --seed 606 --json` (seed 606), after 1 example(s);
replayed 3/3 time(s).
Run: `python -m lab run stuck-callback-queue-unconsumed-5427b9` sends canvas(app) below as built and judges it by the oracle computed
from it; `python -m lab export stuck-callback-queue-unconsumed-5427b9 --to DIR` writes it as plain Celery, for an upstream report.
"""

from celery import chain, chord, group  # noqa: F401 - what canvas() below is built with

from lab import Scenario, Worker
from lab.apps.fuzz import bind

# Everything the fuzzer knows about this finding (lab.fuzz.findings reads it).
FINDING = {'id': 'stuck-callback-queue-unconsumed-5427b9',
 'finding_kind': 'stuck/callback-queue-unconsumed',
 'verdict': 'stuck',
 'cause': 'callback-queue-unconsumed',
 'detail': None,
 'summary': "callback total is in queue 'execution', which no worker consumes (worker consumes celery)",
 'evidence': ["ledger: producer published callback ec391b5b-7025-45a5-80e6-f49a713e1b34 to queue 'execution' "
              't=0.00s, after the last part returned',
              "broker: queue 'execution' holds 1 message(s), including callback "
              'ec391b5b-7025-45a5-80e6-f49a713e1b34',
              "workers (inspect active_queues): worker consumes celery; none consumes 'execution'",
              "route: task_routes entry 'fuzz.total' matches 'fuzz.total' and sends it to queue 'execution'",
              'ledger: all 0 header parts returned SUCCESS',
              'backend: no meta for callback ec391b5b-7025-45a5-80e6-f49a713e1b34, so AsyncResult.state '
              'reads PENDING',
              'oracle: every task returns; allows completed'],
 'expected': ['completed'],
 'canvas': 'chord([], fuzz.total.s(value=0), app=app)',
 'failing_index': 0,
 'config_changed': None,
 'exact': True,
 'construction': None,
 'mechanism': {'id': '1',
               'name': 'callback queue unconsumed (split queues)',
               'known': True,
               'why': 'the callback is routed to a queue no worker consumes'},
 'seed': 606,
 'blob': "@reproduce_failure('6.155.2', b'AAEAQQBBAEEAQQAAQQAA')",
 'hypothesis': '6.155.2',
 'examples_before': 1,
 'replay': {'runs': 3,
            'reproduced': 3,
            'rate': 1.0,
            'flaky': False,
            'seen': ['stuck/callback-queue-unconsumed',
                     'stuck/callback-queue-unconsumed',
                     'stuck/callback-queue-unconsumed']},
 'space': 'shapes',
 'base': 'route-glob-mismatch',
 'versions': {'python': '3.11.7',
              'celery': '5.7.0',
              'kombu': '5.7.0',
              'redis-py': '8.1.0',
              'billiard': '4.3.2',
              'redis-server': '7.0.15'},
 'git': '7caeb0031f40-dirty',
 'config': None}

# The same canvas as the fuzzer's data (lab.fuzz.strategies.from_data reads it; `lab replay` builds it).
SHAPES = [{'kind': 'chord', 'header': [], 'body': {'kind': 'task', 'behaviour': 'ok', 'value': 0}}]


def canvas(app):
    """The shrunk canvas, exactly as the fuzzer sent it: the same calls, the same construction path."""
    fuzz = bind(app)
    return [
        chord([], fuzz.total.s(value=0), app=app),
    ]


scenario = Scenario(
    name='stuck-callback-queue-unconsumed-5427b9',
    description='fuzzed: stuck/callback-queue-unconsumed with chord([], fuzz.total.s(value=0), app=app)',
    expect='stuck',
    config={'task_routes': {'fuzz.total': {'queue': 'execution'}, 'lab.apps.origin.tasks.execution.*': {'queue': 'execution'}, 'lab.apps.origin.tasks.metrics.*': {'queue': 'metrics'}}, 'task_track_started': True, 'result_expires': 3600},
    tasks=('lab.apps.origin.tasks', 'lab.apps.origin.tasks.execution.results', 'lab.apps.fuzz'),
    expect_cause='callback-queue-unconsumed',
    mechanism='1',
    workers=(
        Worker('worker', concurrency=4),
    ),
    canvas=canvas,
)
