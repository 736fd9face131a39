"""Fuzzing finding unknown-the-callback-waits-in-queue-394e6c: unknown/the-callback-waits-in-queue.

Shrunk to: chord([], fuzz.total.s(value=0), app=app)
the callback waits in queue 'reports', which w1-g2@fuzz-49b8a8 consume(s)

new (not in shared/notes/mechanisms.md): no row of the catalog fits.
Construction: the finding is flaky, so which construction path it needs is not decided (reproduced on every replay built as `a | b`: no; as `chain(a, b, app=app)`: no).
Found by `python -m lab fuzz healthy --space shapes --budget 20m --seed 1401 --behaviours ok,raise,retry,reject,ignore,timeout,large --max-chords 3 --max-header 4 --max-leaves 6 --replays 3 --skip-kind early/nesting --skip-kind early/order --skip-kind early/wrong-values --skip-kind failed/apply-raised --skip-kind stuck/chord-size-key-missing --skip-kind stuck/failure-not-propagated --skip-kind stuck/failure-unrecorded --skip-kind stuck/nested-failure-uncounted --skip-kind stuck/part-return-missing --skip-kind stuck/rejected-failure-lost --skip-kind unrecorded/unexplained --in-flight 8 --shard 2/2 --json` (seed 1402), after 1213 example(s);
replayed 0/3 time(s) (flaky).
Run: `python -m lab run unknown-the-callback-waits-in-queue-394e6c` sends canvas(app) below as built and judges it by the oracle computed
from it; `python -m lab export unknown-the-callback-waits-in-queue-394e6c --to DIR` writes it as plain Celery, for an upstream report.
"""

from celery import chain, chord, group  # noqa: F401 - what canvas() below is built with

from lab import Scenario, Worker
from lab.apps.fuzz import bind

# Everything the fuzzer knows about this finding (lab.fuzz.findings reads it).
FINDING = {'id': 'unknown-the-callback-waits-in-queue-394e6c',
 'finding_kind': 'unknown/the-callback-waits-in-queue',
 'verdict': 'unknown',
 'cause': None,
 'detail': 'the-callback-waits-in-queue',
 'summary': "the callback waits in queue 'reports', which w1-g2@fuzz-49b8a8 consume(s)",
 'evidence': ['oracle: every task returns; allows completed'],
 'expected': ['completed'],
 'canvas': 'chord([], fuzz.total.s(value=0), app=app)',
 'failing_index': 1,
 'config_changed': None,
 'exact': True,
 'construction': {'built': ['chain-app', 'pipe'],
                  'reproduces': {'pipe': False, 'chain-app': False},
                  'needs': None,
                  'flaky': True},
 'mechanism': {'id': None, 'name': None, 'known': False, 'why': 'no row of the catalog fits'},
 'seed': 1402,
 'blob': None,
 'hypothesis': '6.155.2',
 'examples_before': 1213,
 'replay': {'runs': 3,
            'reproduced': 0,
            'rate': 0.0,
            'flaky': True,
            'seen': ['as-expected', 'as-expected', 'as-expected']},
 'space': 'shapes',
 'base': 'healthy',
 'versions': {'python': '3.11.7',
              'celery': '5.7.0',
              'kombu': '5.7.0',
              'redis-py': '8.1.0',
              'billiard': '4.3.2',
              'redis-server': '7.0.15'},
 'git': '88cf2b6c1909-dirty',
 'config': None}

# The same canvas as the fuzzer's data (lab.fuzz.strategies.from_data reads it; `lab replay` builds it).
SHAPES = [{'kind': 'chain',
  'links': [{'kind': 'group',
             'members': [{'kind': 'chain',
                          'links': [{'kind': 'task', 'behaviour': 'ok', 'value': 0, 'duration': 0.005},
                                    {'kind': 'task', 'behaviour': 'ok', 'value': 0}],
                          'built': 'chain-app'}],
             'built': 'list-app'},
            {'kind': 'group',
             'members': [{'kind': 'chain',
                          'links': [{'kind': 'task', 'behaviour': 'ok', 'value': 0, 'duration': 0.005},
                                    {'kind': 'task', 'behaviour': 'ok', 'value': 0}],
                          'built': 'chain-app'}],
             'built': 'list-app'}],
  'built': 'pipe'},
 {'kind': 'chord', 'header': [], 'body': {'kind': 'task', 'behaviour': 'ok', 'value': 0}, 'built': 'app'}]


def canvas(app):
    """The shrunk canvas, exactly as the fuzzer sent it: the same calls, the same construction path."""
    fuzz = bind(app)
    return [
        group([chain(fuzz.part.s(value=0, duration=0.005), fuzz.part.s(value=0), app=app)], app=app) | group([chain(fuzz.part.s(value=0, duration=0.005), fuzz.part.s(value=0), app=app)], app=app),
        chord([], fuzz.total.s(value=0), app=app),
    ]


scenario = Scenario(
    name='unknown-the-callback-waits-in-queue-394e6c',
    description='fuzzed: unknown/the-callback-waits-in-queue with chord([], fuzz.total.s(value=0), app=app)',
    expect='unknown',
    config={'task_routes': {'fuzz.total': {'queue': 'reports'}, 'fuzz.*': {'queue': 'execution'}, 'lab.part': {'queue': 'execution'}, 'lab.collect': {'queue': 'reports'}}},
    tasks=('lab.apps.basic', 'lab.apps.fuzz'),
    workers=(
        Worker('w1', queues=('execution', 'reports'), concurrency=2),
    ),
    canvas=canvas,
)
