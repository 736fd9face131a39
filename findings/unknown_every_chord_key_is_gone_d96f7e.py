"""Fuzzing finding unknown-every-chord-key-is-gone-d96f7e: unknown/every-chord-key-is-gone.

Shrunk to: chord([], chain(chord([], fuzz.total.s(value=0), app=app), fuzz.total.s(value=0), app=app), app=app)
every chord key is gone and no callback was published: the keys were removed or evicted

new (not in shared/notes/mechanisms.md): no row of the catalog fits.
Construction: the finding is flaky, so which construction path it needs is not decided (reproduced on every replay built as `a | b`: no; as `chain(a, b, app=app)`: no).
Found by `python -m lab fuzz multiple-workers --budget 3m --seed 505 --json` (seed 507), after 27 example(s);
replayed 0/3 time(s) (flaky).
Run: `python -m lab run unknown-every-chord-key-is-gone-d96f7e` sends canvas(app) below as built and judges it by the oracle computed
from it; `python -m lab export unknown-every-chord-key-is-gone-d96f7e --to DIR` writes it as plain Celery, for an upstream report.
"""

from celery import chain, chord, group  # noqa: F401 - what canvas() below is built with

from lab import Scenario, Worker
from lab.apps.fuzz import bind

# Everything the fuzzer knows about this finding (lab.fuzz.findings reads it).
FINDING = {'id': 'unknown-every-chord-key-is-gone-d96f7e',
 'finding_kind': 'unknown/every-chord-key-is-gone',
 'verdict': 'unknown',
 'cause': None,
 'detail': 'every-chord-key-is-gone',
 'summary': 'every chord key is gone and no callback was published: the keys were removed or evicted',
 'evidence': ['backend: no .s, no .j; evicted_keys = 0', 'oracle: every task returns; allows completed'],
 'expected': ['completed'],
 'canvas': 'chord([], chain(chord([], fuzz.total.s(value=0), app=app), fuzz.total.s(value=0), app=app), '
           'app=app)',
 'failing_index': 0,
 'config_changed': None,
 'exact': True,
 'construction': {'built': ['chain-app'],
                  'reproduces': {'pipe': False, 'chain-app': False},
                  'needs': None,
                  'flaky': True},
 'mechanism': {'id': None, 'name': None, 'known': False, 'why': 'no row of the catalog fits'},
 'seed': 507,
 'blob': None,
 'hypothesis': '6.155.2',
 'examples_before': 27,
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
  'header': [],
  'body': {'kind': 'chain',
           'links': [{'kind': 'chord', 'header': [], 'body': {'kind': 'task', 'behaviour': 'ok', 'value': 0}},
                     {'kind': 'task', 'behaviour': 'ok', 'value': 0}]}}]


def canvas(app):
    """The shrunk canvas, exactly as the fuzzer sent it: the same calls, the same construction path."""
    fuzz = bind(app)
    return [
        chord([], chain(chord([], fuzz.total.s(value=0), app=app), fuzz.total.s(value=0), app=app), app=app),
    ]


scenario = Scenario(
    name='unknown-every-chord-key-is-gone-d96f7e',
    description='fuzzed: unknown/every-chord-key-is-gone with chord([], chain(chord([], fuzz.total.s(value=0), app=app), fuzz.total.s(value=0), app=app), app=app)',
    expect='unknown',
    config={'task_routes': {'fuzz.total': {'queue': 'reports'}, 'fuzz.*': {'queue': 'execution'}, 'lab.part': {'queue': 'execution'}, 'lab.collect': {'queue': 'reports'}}, 'worker_prefetch_multiplier': 1},
    tasks=('lab.apps.basic', 'lab.apps.fuzz'),
    workers=(
        Worker('current', queues=('execution', 'reports')),
        Worker('stale', queues=('reports',), tasks=('lab.apps.stale_missing', 'lab.apps.fuzz_stale')),
    ),
    canvas=canvas,
)
