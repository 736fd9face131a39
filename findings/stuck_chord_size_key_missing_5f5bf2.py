"""Fuzzing finding stuck-chord-size-key-missing-5f5bf2: stuck/chord-size-key-missing.

Shrunk to: chain(group([fuzz.part.s(value=0), fuzz.part.s(value=0), chain(fuzz.part.s(value=0), fuzz.raise_.s(value=0), app=app)], app=app), group([fuzz.part.s(value=0), fuzz.part.s(value=0)], app=app), fuzz.part.s(value=0), app=app)
the chord size key was gone when the last part returned

new (not in shared/notes/mechanisms.md): the chord size key was gone though no short result expiry and no eviction could remove it (result_expires default, no maxmemory); no row of the catalog fits.
Construction: its chains reproduce it built either way (`a | b` or `chain(a, b, app=app)`).
Found by `python -m lab fuzz healthy --budget 4m --seed 1313 --skip-known --json` (seed 1314), after 276 example(s);
replayed 3/3 time(s).
Run: `python -m lab run stuck-chord-size-key-missing-5f5bf2` sends canvas(app) below as built and judges it by the oracle computed
from it; `python -m lab export stuck-chord-size-key-missing-5f5bf2 --to DIR` writes it as plain Celery, for an upstream report.
"""

from celery import chain, chord, group  # noqa: F401 - what canvas() below is built with

from lab import Scenario, Worker
from lab.apps.fuzz import bind

# Everything the fuzzer knows about this finding (lab.fuzz.findings reads it).
FINDING = {'id': 'stuck-chord-size-key-missing-5f5bf2',
 'finding_kind': 'stuck/chord-size-key-missing',
 'verdict': 'stuck',
 'cause': 'chord-size-key-missing',
 'detail': None,
 'summary': 'the chord size key was gone when the last part returned',
 'evidence': ['backend: .s had PTTL 86399988 ms t=0.03s, so it expired t=86400.02s',
              'ledger: the 3 header parts returned between t=0.01s and t=0.05s',
              'backend: .s absent now; .j holds 3 part result(s) (PTTL 86399989 ms)',
              'ledger: no worker published the callback; broker: it is in no queue',
              'backend: no meta for callback 7b9a5e48-bcb7-4e1b-a81b-622b0d65f056, so AsyncResult.state '
              'reads PENDING',
              'oracle: a raise task fails; allows failed'],
 'expected': ['failed'],
 'canvas': 'chain(group([fuzz.part.s(value=0), fuzz.part.s(value=0), chain(fuzz.part.s(value=0), '
           'fuzz.raise_.s(value=0), app=app)], app=app), group([fuzz.part.s(value=0), fuzz.part.s(value=0)], '
           'app=app), fuzz.part.s(value=0), app=app)',
 'failing_index': 0,
 'config_changed': None,
 'exact': True,
 'construction': {'built': ['chain-app'], 'reproduces': {'pipe': True, 'chain-app': True}, 'needs': None},
 'mechanism': {'id': None,
               'name': None,
               'known': False,
               'why': 'the chord size key was gone though no short result expiry and no eviction could '
                      'remove it (result_expires default, no maxmemory); no row of the catalog fits'},
 'seed': 1314,
 'blob': "@reproduce_failure('6.155.2', b'AXicY3RkZHRkZXRkgEAgQmUzMiJz4GyYCBMjuj5MQ0AIAB7wCj4=')",
 'hypothesis': '6.155.2',
 'examples_before': 276,
 'replay': {'runs': 3,
            'reproduced': 3,
            'rate': 1.0,
            'flaky': False,
            'seen': ['stuck/chord-size-key-missing',
                     'stuck/chord-size-key-missing',
                     'stuck/chord-size-key-missing']},
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
SHAPES = [{'kind': 'chain',
  'links': [{'kind': 'group',
             'members': [{'kind': 'task', 'behaviour': 'ok', 'value': 0},
                         {'kind': 'task', 'behaviour': 'ok', 'value': 0},
                         {'kind': 'chain',
                          'links': [{'kind': 'task', 'behaviour': 'ok', 'value': 0},
                                    {'kind': 'task', 'behaviour': 'raise', 'value': 0}],
                          'built': 'chain-app'}],
             'built': 'list-app'},
            {'kind': 'group',
             'members': [{'kind': 'task', 'behaviour': 'ok', 'value': 0},
                         {'kind': 'task', 'behaviour': 'ok', 'value': 0}],
             'built': 'list-app'},
            {'kind': 'task', 'behaviour': 'ok', 'value': 0}],
  'built': 'chain-app'}]


def canvas(app):
    """The shrunk canvas, exactly as the fuzzer sent it: the same calls, the same construction path."""
    fuzz = bind(app)
    return [
        chain(group([fuzz.part.s(value=0), fuzz.part.s(value=0), chain(fuzz.part.s(value=0), fuzz.raise_.s(value=0), app=app)], app=app), group([fuzz.part.s(value=0), fuzz.part.s(value=0)], app=app), fuzz.part.s(value=0), app=app),
    ]


scenario = Scenario(
    name='stuck-chord-size-key-missing-5f5bf2',
    description='fuzzed: stuck/chord-size-key-missing with chain(group([fuzz.part.s(value=0), fuzz.part.s(value=0), chain(fuzz.part.s(value=0), fuzz.raise_.s(value=0), app=app)], app=app), group([fuzz.part.s(value=0), fuzz.part.s(value=0)], app=app), fuzz.part.s(value=0), app=app)',
    expect='stuck',
    config={'task_routes': {'fuzz.total': {'queue': 'reports'}, 'fuzz.*': {'queue': 'execution'}, 'lab.part': {'queue': 'execution'}, 'lab.collect': {'queue': 'reports'}}},
    tasks=('lab.apps.basic', 'lab.apps.fuzz'),
    expect_cause='chord-size-key-missing',
    workers=(
        Worker('w1', queues=('execution', 'reports'), concurrency=2),
    ),
    canvas=canvas,
)
