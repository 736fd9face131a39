"""Fuzzing finding stuck-header-part-missing-5b7f27: stuck/header-part-missing.

Shrunk to: chord([fuzz.part.s(value=0), fuzz.part.s(value=0), chain(chord([], fuzz.total.s(value=0), app=app), fuzz.part.s(value=0), app=app)], fuzz.total.s(value=0), app=app)
header part ca770401-4eaf-4708-b3f3-b03eb41f7def never ran and its message is in no queue

known mechanism 6 (stale or mixed workers): a worker without 'fuzz.total' discarded it, and the chord waits on it.
Construction: its chains reproduce it built either way (`a | b` or `chain(a, b, app=app)`).
Found by `python -m lab fuzz multiple-workers --budget 3m --seed 505 --json` (seed 508), after 90 example(s);
replayed 3/3 time(s).
Run: `python -m lab run stuck-header-part-missing-5b7f27` sends canvas(app) below as built and judges it by the oracle computed
from it; `python -m lab export stuck-header-part-missing-5b7f27 --to DIR` writes it as plain Celery, for an upstream report.
"""

from celery import chain, chord, group  # noqa: F401 - what canvas() below is built with

from lab import Scenario, Worker
from lab.apps.fuzz import bind

# Everything the fuzzer knows about this finding (lab.fuzz.findings reads it).
FINDING = {'id': 'stuck-header-part-missing-5b7f27',
 'finding_kind': 'stuck/header-part-missing',
 'verdict': 'stuck',
 'cause': 'header-part-missing',
 'detail': None,
 'summary': 'header part ca770401-4eaf-4708-b3f3-b03eb41f7def never ran and its message is in no queue',
 'evidence': ['ledger: 2/3 header parts ended; part ca770401-4eaf-4708-b3f3-b03eb41f7def has no start',
              'broker: no queue and no unacked entry holds it',
              'oracle: every task returns; allows completed'],
 'expected': ['completed'],
 'canvas': 'chord([fuzz.part.s(value=0), fuzz.part.s(value=0), chain(chord([], fuzz.total.s(value=0), '
           'app=app), fuzz.part.s(value=0), app=app)], fuzz.total.s(value=0), app=app)',
 'failing_index': 0,
 'config_changed': None,
 'exact': True,
 'construction': {'built': ['chain-app'], 'reproduces': {'pipe': True, 'chain-app': True}, 'needs': None},
 'mechanism': {'id': '6',
               'name': 'stale or mixed workers',
               'known': True,
               'why': "a worker without 'fuzz.total' discarded it, and the chord waits on it"},
 'seed': 508,
 'blob': "@reproduce_failure('6.155.2', b'AXicY2R0ZIBAIEJlszA6MjPgkGVAlmAAAPXQBuk=')",
 'hypothesis': '6.155.2',
 'examples_before': 90,
 'replay': {'runs': 3,
            'reproduced': 3,
            'rate': 1.0,
            'flaky': False,
            'seen': ['stuck/header-part-missing', 'stuck/header-part-missing', 'stuck/header-part-missing']},
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
  'header': [{'kind': 'task', 'behaviour': 'ok', 'value': 0},
             {'kind': 'task', 'behaviour': 'ok', 'value': 0},
             {'kind': 'chain',
              'links': [{'kind': 'chord',
                         'header': [],
                         'body': {'kind': 'task', 'behaviour': 'ok', 'value': 0}},
                        {'kind': 'task', 'behaviour': 'ok', 'value': 0}]}],
  'body': {'kind': 'task', 'behaviour': 'ok', 'value': 0}}]


def canvas(app):
    """The shrunk canvas, exactly as the fuzzer sent it: the same calls, the same construction path."""
    fuzz = bind(app)
    return [
        chord([fuzz.part.s(value=0), fuzz.part.s(value=0), chain(chord([], fuzz.total.s(value=0), app=app), fuzz.part.s(value=0), app=app)], fuzz.total.s(value=0), app=app),
    ]


scenario = Scenario(
    name='stuck-header-part-missing-5b7f27',
    description='fuzzed: stuck/header-part-missing with chord([fuzz.part.s(value=0), fuzz.part.s(value=0), chain(chord([], fuzz.total.s(value=0), app=app), fuzz.part.s(value=0), app=app)], fuzz.total.s(value=0), app=app)',
    expect='stuck',
    config={'task_routes': {'fuzz.total': {'queue': 'reports'}, 'fuzz.*': {'queue': 'execution'}, 'lab.part': {'queue': 'execution'}, 'lab.collect': {'queue': 'reports'}}, 'worker_prefetch_multiplier': 1},
    tasks=('lab.apps.basic', 'lab.apps.fuzz'),
    expect_cause='header-part-missing',
    mechanism='6',
    workers=(
        Worker('current', queues=('execution', 'reports')),
        Worker('stale', queues=('reports',), tasks=('lab.apps.stale_missing', 'lab.apps.fuzz_stale')),
    ),
    canvas=canvas,
)
