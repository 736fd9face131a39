"""Fuzzing finding early-extra-results-14a859: early/extra-results.

Shrunk to: chain(fuzz.part.s(value=0), fuzz.large.s(value=0), group([fuzz.part.s(value=0), group([fuzz.part.s(value=0), fuzz.part.si(value=0)], app=app)], app=app), app=app)
the callback ran with a list of 10001 (sum 0) instead of None (extra-results)

known mechanism 10 (nested canvas miscount): a nested canvas miscounts its parts.
Construction: its chains reproduce it built either way (`a | b` or `chain(a, b, app=app)`).
Found by `python -m lab fuzz healthy --space shapes --budget 20m --seed 1401 --behaviours ok,raise,retry,reject,ignore,timeout,large --max-chords 3 --max-header 4 --max-leaves 6 --replays 3 --skip-kind early/nesting --skip-kind early/order --skip-kind early/wrong-values --skip-kind failed/apply-raised --skip-kind stuck/chord-size-key-missing --skip-kind stuck/failure-not-propagated --skip-kind stuck/failure-unrecorded --skip-kind stuck/nested-failure-uncounted --skip-kind stuck/part-return-missing --skip-kind stuck/rejected-failure-lost --skip-kind unrecorded/unexplained --in-flight 8 --shard 2/2 --json` (seed 1402), after 547 example(s);
replayed 3/3 time(s).
Run: `python -m lab run early-extra-results-14a859` sends canvas(app) below as built and judges it by the oracle computed
from it; `python -m lab export early-extra-results-14a859 --to DIR` writes it as plain Celery, for an upstream report.
"""

from celery import chain, chord, group  # noqa: F401 - what canvas() below is built with

from lab import Scenario, Worker
from lab.apps.fuzz import bind

# Everything the fuzzer knows about this finding (lab.fuzz.findings reads it).
FINDING = {'id': 'early-extra-results-14a859',
 'finding_kind': 'early/extra-results',
 'verdict': 'early',
 'cause': None,
 'detail': 'extra-results',
 'summary': 'the callback ran with a list of 10001 (sum 0) instead of None (extra-results)',
 'evidence': ['ledger: callback 6e01b5bf-c7fd-46b4-9003-1bcbe4cb1504 started with a list of 10001 (sum 0)',
              'oracle: None',
              'ledger: callback ended t=0.04s state SUCCESS',
              'backend: callback meta SUCCESS',
              'oracle: every task returns; allows completed'],
 'expected': ['completed'],
 'canvas': 'chain(fuzz.part.s(value=0), fuzz.large.s(value=0), group([fuzz.part.s(value=0), '
           'group([fuzz.part.s(value=0), fuzz.part.si(value=0)], app=app)], app=app), app=app)',
 'failing_index': 1,
 'config_changed': None,
 'exact': True,
 'construction': {'built': ['chain-app'], 'reproduces': {'pipe': True, 'chain-app': True}, 'needs': None},
 'mechanism': {'id': '10',
               'name': 'nested canvas miscount',
               'known': True,
               'why': 'a nested canvas miscounts its parts'},
 'seed': 1402,
 'blob': "@reproduce_failure('6.155.2', b'AXicY3RkZHRkgEAgQmaDuRiyjI6scB4rqiQTI7o5jDCDQAgAVg4Kxg==')",
 'hypothesis': '6.155.2',
 'examples_before': 547,
 'replay': {'runs': 3,
            'reproduced': 3,
            'rate': 1.0,
            'flaky': False,
            'seen': ['early/extra-results', 'early/extra-results', 'early/extra-results']},
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
  'links': [{'kind': 'task', 'behaviour': 'ok', 'value': 0}, {'kind': 'task', 'behaviour': 'ok', 'value': 0}],
  'built': 'chain-app'},
 {'kind': 'chain',
  'links': [{'kind': 'task', 'behaviour': 'ok', 'value': 0},
            {'kind': 'task', 'behaviour': 'large', 'value': 0},
            {'kind': 'group',
             'members': [{'kind': 'task', 'behaviour': 'ok', 'value': 0},
                         {'kind': 'group',
                          'members': [{'kind': 'task', 'behaviour': 'ok', 'value': 0},
                                      {'kind': 'task', 'behaviour': 'ok', 'value': 0, 'immutable': True}],
                          'built': 'list-app'}],
             'built': 'list-app'}],
  'built': 'chain-app'}]


def canvas(app):
    """The shrunk canvas, exactly as the fuzzer sent it: the same calls, the same construction path."""
    fuzz = bind(app)
    return [
        chain(fuzz.part.s(value=0), fuzz.part.s(value=0), app=app),
        chain(fuzz.part.s(value=0), fuzz.large.s(value=0), group([fuzz.part.s(value=0), group([fuzz.part.s(value=0), fuzz.part.si(value=0)], app=app)], app=app), app=app),
    ]


scenario = Scenario(
    name='early-extra-results-14a859',
    description='fuzzed: early/extra-results with chain(fuzz.part.s(value=0), fuzz.large.s(value=0), group([fuzz.part.s(value=0), group([fuzz.part.s(value=0), fuzz.part.si(value=0)], app=app)], app=app), app=app)',
    expect='early',
    config={'task_routes': {'fuzz.total': {'queue': 'reports'}, 'fuzz.*': {'queue': 'execution'}, 'lab.part': {'queue': 'execution'}, 'lab.collect': {'queue': 'reports'}}},
    tasks=('lab.apps.basic', 'lab.apps.fuzz'),
    mechanism='10',
    workers=(
        Worker('w1', queues=('execution', 'reports'), concurrency=2),
    ),
    canvas=canvas,
)
