"""Fuzzing finding stuck-header-part-unregistered-af0439: stuck/header-part-unregistered.

Shrunk to: chord([chord([], fuzz.total.s(value=0), app=app)], fuzz.total.s(value=0), app=app)
worker stale does not have header task 'fuzz.*' and discarded part 5ab4632b-cb9c-4ee8-9b00-13a4de4bf860

known mechanism 6 (stale or mixed workers): a worker without the header task took a part.
Found by `python -m lab fuzz multiple-workers --budget 3m --seed 505 --json` (seed 506), after 11 example(s);
replayed 0/3 time(s) (flaky).
Run: `python -m lab run stuck-header-part-unregistered-af0439` sends canvas(app) below as built and judges it by the oracle computed
from it; `python -m lab export stuck-header-part-unregistered-af0439 --to DIR` writes it as plain Celery, for an upstream report.
"""

from celery import chain, chord, group  # noqa: F401 - what canvas() below is built with

from lab import Scenario, Worker
from lab.apps.fuzz import bind

# Everything the fuzzer knows about this finding (lab.fuzz.findings reads it).
FINDING = {'id': 'stuck-header-part-unregistered-af0439',
 'finding_kind': 'stuck/header-part-unregistered',
 'verdict': 'stuck',
 'cause': 'header-part-unregistered',
 'detail': None,
 'summary': "worker stale does not have header task 'fuzz.*' and discarded part "
            '5ab4632b-cb9c-4ee8-9b00-13a4de4bf860',
 'evidence': ['ledger: 0/1 header parts ended',
              'ledger: part 5ab4632b-cb9c-4ee8-9b00-13a4de4bf860 discarded as unregistered',
              'stale@fuzz-multiple-workers-bc51f4 log: [2026-11-29 11:55:43,693: ERROR/MainProcess] Received '
              "unregistered task of type 'fuzz.total'.",
              'oracle: every task returns; allows completed'],
 'expected': ['completed'],
 'canvas': 'chord([chord([], fuzz.total.s(value=0), app=app)], fuzz.total.s(value=0), app=app)',
 'failing_index': 0,
 'config_changed': None,
 'exact': True,
 'construction': None,
 'mechanism': {'id': '6',
               'name': 'stale or mixed workers',
               'known': True,
               'why': 'a worker without the header task took a part'},
 'seed': 506,
 'blob': None,
 'hypothesis': '6.155.2',
 'examples_before': 11,
 'replay': {'runs': 3,
            'reproduced': 0,
            'rate': 0.0,
            'flaky': True,
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
  'header': [{'kind': 'chord', 'header': [], 'body': {'kind': 'task', 'behaviour': 'ok', 'value': 0}}],
  'body': {'kind': 'task', 'behaviour': 'ok', 'value': 0}}]


def canvas(app):
    """The shrunk canvas, exactly as the fuzzer sent it: the same calls, the same construction path."""
    fuzz = bind(app)
    return [
        chord([chord([], fuzz.total.s(value=0), app=app)], fuzz.total.s(value=0), app=app),
    ]


scenario = Scenario(
    name='stuck-header-part-unregistered-af0439',
    description='fuzzed: stuck/header-part-unregistered with chord([chord([], fuzz.total.s(value=0), app=app)], fuzz.total.s(value=0), app=app)',
    expect='stuck',
    config={'task_routes': {'fuzz.total': {'queue': 'reports'}, 'fuzz.*': {'queue': 'execution'}, 'lab.part': {'queue': 'execution'}, 'lab.collect': {'queue': 'reports'}}, 'worker_prefetch_multiplier': 1},
    tasks=('lab.apps.basic', 'lab.apps.fuzz'),
    expect_cause='header-part-unregistered',
    mechanism='6',
    workers=(
        Worker('current', queues=('execution', 'reports')),
        Worker('stale', queues=('reports',), tasks=('lab.apps.stale_missing', 'lab.apps.fuzz_stale')),
    ),
    canvas=canvas,
)
