"""Fuzzing finding failed-callback-unregistered-f4d93a: failed/callback-unregistered.

Shrunk to: chord([fuzz.part.s(value=0)], fuzz.total.s(value=0), app=app)
the callback's state is FAILURE: NotRegistered: fuzz.total

known mechanism 6 (stale or mixed workers): a worker without the callback task took its message.
Found by `python -m lab fuzz multiple-workers --budget 3m --seed 505 --json` (seed 505), after 2 example(s);
replayed 3/3 time(s).
Run: `python -m lab run failed-callback-unregistered-f4d93a` sends canvas(app) below as built and judges it by the oracle computed
from it; `python -m lab export failed-callback-unregistered-f4d93a --to DIR` writes it as plain Celery, for an upstream report.
"""

from celery import chain, chord, group  # noqa: F401 - what canvas() below is built with

from lab import Scenario, Worker
from lab.apps.fuzz import bind

# Everything the fuzzer knows about this finding (lab.fuzz.findings reads it).
FINDING = {'id': 'failed-callback-unregistered-f4d93a',
 'finding_kind': 'failed/callback-unregistered',
 'verdict': 'failed',
 'cause': 'callback-unregistered',
 'detail': None,
 'summary': "the callback's state is FAILURE: NotRegistered: fuzz.total",
 'evidence': ['backend: callback meta FAILURE NotRegistered: fuzz.total',
              'ledger: the callback never ran; the chord machinery marked it failed',
              'ledger: stale received the callback and discarded it as unregistered t=0.01s',
              'stale@fuzz-multiple-workers-bc51f4 log: [2026-11-29 11:55:43,006: ERROR/MainProcess] Received '
              "unregistered task of type 'fuzz.total'.",
              "workers (inspect registered): stale lacks 'fuzz.total'",
              'oracle: every task returns; allows completed'],
 'expected': ['completed'],
 'canvas': 'chord([fuzz.part.s(value=0)], fuzz.total.s(value=0), app=app)',
 'failing_index': 0,
 'config_changed': None,
 'exact': True,
 'construction': None,
 'mechanism': {'id': '6',
               'name': 'stale or mixed workers',
               'known': True,
               'why': 'a worker without the callback task took its message'},
 'seed': 505,
 'blob': "@reproduce_failure('6.155.2', b'AXicY2R0ZIBACEKwASNXAo0=')",
 'hypothesis': '6.155.2',
 'examples_before': 2,
 'replay': {'runs': 3,
            'reproduced': 3,
            'rate': 1.0,
            'flaky': False,
            'seen': ['failed/callback-unregistered',
                     'failed/callback-unregistered',
                     'failed/callback-unregistered']},
 'space': 'shapes',
 'base': 'multiple-workers',
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
  'header': [{'kind': 'task', 'behaviour': 'ok', 'value': 0}],
  'body': {'kind': 'task', 'behaviour': 'ok', 'value': 0}}]


def canvas(app):
    """The shrunk canvas, exactly as the fuzzer sent it: the same calls, the same construction path."""
    fuzz = bind(app)
    return [
        chord([fuzz.part.s(value=0)], fuzz.total.s(value=0), app=app),
    ]


scenario = Scenario(
    name='failed-callback-unregistered-f4d93a',
    description='fuzzed: failed/callback-unregistered with chord([fuzz.part.s(value=0)], fuzz.total.s(value=0), app=app)',
    expect='failed',
    config={'task_routes': {'fuzz.total': {'queue': 'reports'}, 'fuzz.*': {'queue': 'execution'}, 'lab.part': {'queue': 'execution'}, 'lab.collect': {'queue': 'reports'}}, 'worker_prefetch_multiplier': 1},
    tasks=('lab.apps.basic', 'lab.apps.fuzz'),
    expect_cause='callback-unregistered',
    mechanism='6',
    workers=(
        Worker('current', queues=('execution', 'reports')),
        Worker('stale', queues=('reports',), tasks=('lab.apps.stale_missing', 'lab.apps.fuzz_stale')),
    ),
    canvas=canvas,
)
