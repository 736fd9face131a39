"""Fuzzing finding unknown-all-parts-ended-chord-unlock-ran-bac9cd: stuck/chord-unlock-retrying.

Shrunk to: chord([group([fuzz.part.s(value=0).set(ignore_result=True)], app=app)], fuzz.total.s(value=0), app=app)
celery.chord_unlock has run 11 times and retries forever: 1 of 1 header parts ended SUCCESS but stored no result

known mechanism 3 (header ignores results): a part ignores its result.
Found by `python -m lab fuzz --space configs --budget 15m --seed 202 --json` (seed 206), after 296 example(s);
replayed 3/3 time(s).
Run: `python -m lab run unknown-all-parts-ended-chord-unlock-ran-bac9cd` sends canvas(app) below as built and judges it by the oracle computed
from it; `python -m lab export unknown-all-parts-ended-chord-unlock-ran-bac9cd --to DIR` writes it as plain Celery, for an upstream report.
"""

from celery import chain, chord, group  # noqa: F401 - what canvas() below is built with

from lab import Scenario, Worker
from lab.apps.fuzz import bind

# Everything the fuzzer knows about this finding (lab.fuzz.findings reads it).
FINDING = {'id': 'unknown-all-parts-ended-chord-unlock-ran-bac9cd',
 'finding_kind': 'stuck/chord-unlock-retrying',
 'verdict': 'stuck',
 'cause': 'chord-unlock-retrying',
 'detail': 'all-parts-ended-chord_unlock-ran',
 'summary': 'celery.chord_unlock has run 11 times and retries forever: 1 of 1 header parts ended SUCCESS but '
            'stored no result',
 'evidence': ['ledger: all 1 header parts ended SUCCESS',
              'backend: no meta for header part(s) 0ffacef8-0899-42aa-8899-741b8319fed3, so they read '
              'PENDING',
              'ledger: celery.chord_unlock ran 11 times between t=1.01s and t=11.11s, published 12 times',
              'w1-g202@fuzz-7bde19 log: [2026-11-29 11:39:23,468: INFO/MainProcess] Task '
              'celery.chord_unlock[ab5d9450-4c71-48cb-a4f5-45c6dfdaf5ea] received',
              'w1-g202@fuzz-7bde19 log: [2026-11-29 11:39:24,539: INFO/ForkPoolWorker-1] Task '
              'celery.chord_unlock[ab5d9450-4c71-48cb-a4f5-45c6dfdaf5ea] retry: Retry in 1.0s',
              'backend: no meta for callback 87b71276-e821-4554-802d-1b020d657ad2, so AsyncResult.state '
              'reads PENDING',
              'oracle: every task returns; allows completed'],
 'expected': ['completed'],
 'canvas': 'chord([group([fuzz.part.s(value=0).set(ignore_result=True)], app=app)], fuzz.total.s(value=0), '
           'app=app)',
 'failing_index': 0,
 'config_changed': {'workers': [{'queues': ['celery'],
                                 'concurrency': 1,
                                 'pool': 'prefork',
                                 'code': 'current'}],
                    'backend': 'database'},
 'exact': True,
 'construction': None,
 'mechanism': {'id': '3',
               'name': 'header ignores results',
               'known': True,
               'why': 'a part ignores its result'},
 'seed': 206,
 'blob': "@reproduce_failure('6.155.2', b'AXicY3RkZHRkYHAEEiAKDhlgYo4MQAVMUCZYjBGqAK4UiAD+NQbo')",
 'hypothesis': '6.155.2',
 'examples_before': 296,
 'replay': {'runs': 3,
            'reproduced': 3,
            'rate': 1.0,
            'flaky': False,
            'seen': ['unknown/all-parts-ended-chord_unlock-ran',
                     'unknown/all-parts-ended-chord_unlock-ran',
                     'unknown/all-parts-ended-chord_unlock-ran']},
 'space': 'configs',
 'base': None,
 'versions': {'python': '3.11.7',
              'celery': '5.7.0',
              'kombu': '5.7.0',
              'redis-py': '8.1.0',
              'billiard': '4.3.2',
              'redis-server': '7.0.15'},
 'git': '7caeb0031f40-dirty',
 'config': {'workers': [{'queues': ['celery'], 'concurrency': 1, 'pool': 'prefork', 'code': 'current'}],
            'header_queue': None,
            'callback_queue': None,
            'unlock_queue': None,
            'result_expires': None,
            'result_chord_expires': None,
            'task_ignore_result': False,
            'task_acks_late': False,
            'task_reject_on_worker_lost': False,
            'backend': 'database',
            'maxmemory_policy': 'noeviction',
            'maxmemory_mb': None,
            'visibility_timeout': None}}

# The same canvas as the fuzzer's data (lab.fuzz.strategies.from_data reads it; `lab replay` builds it).
SHAPES = [{'kind': 'chord',
  'header': [{'kind': 'group',
              'members': [{'kind': 'task',
                           'behaviour': 'ok',
                           'value': 0,
                           'options': {'ignore_result': True}}]}],
  'body': {'kind': 'task', 'behaviour': 'ok', 'value': 0}}]


def canvas(app):
    """The shrunk canvas, exactly as the fuzzer sent it: the same calls, the same construction path."""
    fuzz = bind(app)
    return [
        chord([group([fuzz.part.s(value=0).set(ignore_result=True)], app=app)], fuzz.total.s(value=0), app=app),
    ]


scenario = Scenario(
    name='unknown-all-parts-ended-chord-unlock-ran-bac9cd',
    description='fuzzed: stuck/chord-unlock-retrying with chord([group([fuzz.part.s(value=0).set(ignore_result=True)], app=app)], fuzz.total.s(value=0), app=app)',
    expect='stuck',
    backend='database',
    tasks=('lab.apps.fuzz',),
    expect_cause='chord-unlock-retrying',
    mechanism='3',
    workers=(
        Worker('w1', queues=('celery',)),
    ),
    canvas=canvas,
)
