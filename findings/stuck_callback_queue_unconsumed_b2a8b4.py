"""Fuzzing finding stuck-callback-queue-unconsumed-b2a8b4: stuck/callback-queue-unconsumed.

Shrunk to: chord([], fuzz.total.s(value=0), app=app)
callback total is in queue 'reports', which no worker consumes (w1 consumes execution)

known mechanism 1 (callback queue unconsumed (split queues)): the callback is routed to a queue no worker consumes.
Found by `python -m lab fuzz split-queues --budget 90s --seed 303 --json` (seed 303), after 1 example(s);
replayed 3/3 time(s).
Run: `python -m lab run stuck-callback-queue-unconsumed-b2a8b4` sends canvas(app) below as built and judges it by the oracle computed
from it; `python -m lab export stuck-callback-queue-unconsumed-b2a8b4 --to DIR` writes it as plain Celery, for an upstream report.
"""

from celery import chain, chord, group  # noqa: F401 - what canvas() below is built with

from lab import Scenario, Worker
from lab.apps.fuzz import bind

# Everything the fuzzer knows about this finding (lab.fuzz.findings reads it).
FINDING = {'id': 'stuck-callback-queue-unconsumed-b2a8b4',
 'finding_kind': 'stuck/callback-queue-unconsumed',
 'verdict': 'stuck',
 'cause': 'callback-queue-unconsumed',
 'detail': None,
 'summary': "callback total is in queue 'reports', which no worker consumes (w1 consumes execution)",
 'evidence': ["ledger: producer published callback ec090e9a-f623-4ca2-8b92-467090ed5d87 to queue 'reports' "
              't=0.01s, after the last part returned',
              "broker: queue 'reports' holds 1 message(s), including callback "
              'ec090e9a-f623-4ca2-8b92-467090ed5d87',
              "workers (inspect active_queues): w1 consumes execution; none consumes 'reports'",
              "route: task_routes entry 'fuzz.total' matches 'fuzz.total' and sends it to queue 'reports'",
              'ledger: all 0 header parts returned SUCCESS',
              'backend: no meta for callback ec090e9a-f623-4ca2-8b92-467090ed5d87, so AsyncResult.state '
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
 'seed': 303,
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
 'base': 'split-queues',
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
    name='stuck-callback-queue-unconsumed-b2a8b4',
    description='fuzzed: stuck/callback-queue-unconsumed with chord([], fuzz.total.s(value=0), app=app)',
    expect='stuck',
    config={'task_routes': {'fuzz.total': {'queue': 'reports'}, 'fuzz.*': {'queue': 'execution'}, 'lab.part': {'queue': 'execution'}, 'lab.collect': {'queue': 'reports'}}},
    tasks=('lab.apps.basic', 'lab.apps.fuzz'),
    expect_cause='callback-queue-unconsumed',
    mechanism='1',
    workers=(
        Worker('w1', queues=('execution',), concurrency=2),
    ),
    canvas=canvas,
)
