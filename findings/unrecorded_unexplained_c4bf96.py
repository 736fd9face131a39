"""Fuzzing finding unrecorded-unexplained-c4bf96: unrecorded/unexplained.

Shrunk to: group([fuzz.reject.s(value=0)], app=app)
the callback ran and succeeded, but its state reads PENDING: no result was stored, or it has already expired

new (not in shared/notes/mechanisms.md): no row of the catalog fits.
Found by `python -m lab fuzz healthy --budget 4m --seed 1313 --skip-known --json` (seed 1313), after 6 example(s);
replayed 2/3 time(s) (flaky).
Run: `python -m lab run unrecorded-unexplained-c4bf96` sends canvas(app) below as built and judges it by the oracle computed
from it; `python -m lab export unrecorded-unexplained-c4bf96 --to DIR` writes it as plain Celery, for an upstream report.
"""

from celery import chain, chord, group  # noqa: F401 - what canvas() below is built with

from lab import Scenario, Worker
from lab.apps.fuzz import bind

# Everything the fuzzer knows about this finding (lab.fuzz.findings reads it).
FINDING = {'id': 'unrecorded-unexplained-c4bf96',
 'finding_kind': 'unrecorded/unexplained',
 'verdict': 'unrecorded',
 'cause': None,
 'detail': 'unexplained',
 'summary': 'the callback ran and succeeded, but its state reads PENDING: no result was stored, or it has '
            'already expired',
 'evidence': ['ledger: callback ran t=0.00s-t=0.01s on w1, state REJECTED',
              'backend: no meta for callback e4f0b857-0887-4f83-9d2d-ea55d8860f15',
              'oracle: the callback itself fails; allows failed'],
 'expected': ['failed'],
 'canvas': 'group([fuzz.reject.s(value=0)], app=app)',
 'failing_index': 0,
 'config_changed': None,
 'exact': True,
 'construction': None,
 'mechanism': {'id': None, 'name': None, 'known': False, 'why': 'no row of the catalog fits'},
 'seed': 1313,
 'blob': None,
 'hypothesis': '6.155.2',
 'examples_before': 6,
 'replay': {'runs': 3,
            'reproduced': 2,
            'rate': 0.6666666666666666,
            'flaky': True,
            'seen': ['unrecorded/unexplained', 'unrecorded/unexplained', 'as-expected']},
 'space': 'shapes',
 'base': 'healthy',
 'versions': {'python': '3.11.7',
              'celery': '5.7.0',
              'kombu': '5.7.0',
              'redis-py': '8.1.0',
              'billiard': '4.3.2',
              'redis-server': '7.0.15'},
 'git': '172b25ef67d9',
 'config': None}

# The same canvas as the fuzzer's data (lab.fuzz.strategies.from_data reads it; `lab replay` builds it).
SHAPES = [{'kind': 'group', 'members': [{'kind': 'task', 'behaviour': 'reject', 'value': 0}], 'built': 'list-app'}]


def canvas(app):
    """The shrunk canvas, exactly as the fuzzer sent it: the same calls, the same construction path."""
    fuzz = bind(app)
    return [
        group([fuzz.reject.s(value=0)], app=app),
    ]


scenario = Scenario(
    name='unrecorded-unexplained-c4bf96',
    description='fuzzed: unrecorded/unexplained with group([fuzz.reject.s(value=0)], app=app)',
    expect='unrecorded',
    config={'task_routes': {'fuzz.total': {'queue': 'reports'}, 'fuzz.*': {'queue': 'execution'}, 'lab.part': {'queue': 'execution'}, 'lab.collect': {'queue': 'reports'}}},
    tasks=('lab.apps.basic', 'lab.apps.fuzz'),
    workers=(
        Worker('w1', queues=('execution', 'reports'), concurrency=2),
    ),
    canvas=canvas,
)
