"""Fuzzing finding stuck-chord-unlock-retrying-54e264: stuck/chord-unlock-retrying.

Shrunk to: chord([fuzz.part.s(value=0)], fuzz.total.s(value=0), app=app)
celery.chord_unlock has run 3 times and retries forever: 1 of 1 header parts ended SUCCESS but stored no result

known mechanism 3 (header ignores results): a part ignores its result.
Found by `python -m lab fuzz --space configs --budget 8m --seed 808 --json` (seed 809), after 93 example(s);
replayed 3/3 time(s).
Run: `python -m lab run stuck-chord-unlock-retrying-54e264` sends canvas(app) below as built and judges it by the oracle computed
from it; `python -m lab export stuck-chord-unlock-retrying-54e264 --to DIR` writes it as plain Celery, for an upstream report.
"""

from celery import chain, chord, group  # noqa: F401 - what canvas() below is built with

from lab import Scenario, Worker
from lab.apps.fuzz import bind

# Everything the fuzzer knows about this finding (lab.fuzz.findings reads it).
FINDING = {'id': 'stuck-chord-unlock-retrying-54e264',
 'finding_kind': 'stuck/chord-unlock-retrying',
 'verdict': 'stuck',
 'cause': 'chord-unlock-retrying',
 'detail': None,
 'summary': 'celery.chord_unlock has run 3 times and retries forever: 1 of 1 header parts ended SUCCESS but '
            'stored no result',
 'evidence': ['ledger: all 1 header parts ended SUCCESS',
              'backend: no meta for header part(s) ac1d1a0f-9a14-40e6-b835-01cbcc4c1628, so they read '
              'PENDING',
              'ledger: celery.chord_unlock ran 3 times between t=1.01s and t=3.05s, published 4 times',
              'w1-g116@fuzz-b3fc7c log: [2026-11-29 12:08:10,180: INFO/MainProcess] Task '
              'celery.chord_unlock[fa166e41-a12e-4a8c-9d7d-62dee5f555b9] received',
              'w1-g116@fuzz-b3fc7c log: [2026-11-29 12:08:11,227: INFO/ForkPoolWorker-1] Task '
              'celery.chord_unlock[fa166e41-a12e-4a8c-9d7d-62dee5f555b9] retry: Retry in 1.0s',
              'backend: no meta for callback a7ec55d8-5e6e-4321-b91e-ac2ad3ae4dcb, so AsyncResult.state '
              'reads PENDING',
              'oracle: the callback ignores its result, so it runs and reads PENDING; allows unrecorded'],
 'expected': ['unrecorded'],
 'canvas': 'chord([fuzz.part.s(value=0)], fuzz.total.s(value=0), app=app)',
 'failing_index': 0,
 'config_changed': {'task_ignore_result': True, 'backend': 'database'},
 'exact': True,
 'construction': None,
 'mechanism': {'id': '3',
               'name': 'header ignores results',
               'known': True,
               'why': 'a part ignores its result'},
 'seed': 809,
 'blob': "@reproduce_failure('6.155.2', b'AXicY3RkcGQEYgYGRzhkZICKAZmMMEFkJSAEALARBd4=')",
 'hypothesis': '6.155.2',
 'examples_before': 93,
 'replay': {'runs': 3,
            'reproduced': 3,
            'rate': 1.0,
            'flaky': False,
            'seen': ['stuck/chord-unlock-retrying',
                     'stuck/chord-unlock-retrying',
                     'stuck/chord-unlock-retrying']},
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
            'task_ignore_result': True,
            'task_acks_late': False,
            'task_reject_on_worker_lost': False,
            'backend': 'database',
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
    name='stuck-chord-unlock-retrying-54e264',
    description='fuzzed: stuck/chord-unlock-retrying with chord([fuzz.part.s(value=0)], fuzz.total.s(value=0), app=app)',
    expect='stuck',
    backend='database',
    config={'task_ignore_result': True},
    tasks=('lab.apps.fuzz',),
    expect_cause='chord-unlock-retrying',
    mechanism='3',
    workers=(
        Worker('w1'),
    ),
    canvas=canvas,
)
