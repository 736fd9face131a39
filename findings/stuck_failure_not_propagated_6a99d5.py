"""Fuzzing finding stuck-failure-not-propagated-6a99d5: stuck/failure-not-propagated.

Shrunk to: chord([chain(fuzz.part.s(value=0), chain(fuzz.part.s(value=0), fuzz.raise_.s(value=0), app=app), group([fuzz.part.s(value=0), fuzz.part.s(value=0)], app=app), app=app)], fuzz.total.s(value=0), app=app)
upstream of the callback: task fuzz.raise 378ee8c1-e4df-47ea-a802-da7417438cd3 failed and its failure was stored, but it never reached the callback, which neither ran nor failed

known mechanism 10 (nested canvas miscount): a failure inside a nested canvas never reaches the outer callback, which stays PENDING (row 9 expects a FAILURE instead; row 10 lists PENDING for nested canvases).
Construction: its chains reproduce it built either way (`a | b` or `chain(a, b, app=app)`).
Found by `python -m lab fuzz healthy --budget 6m --seed 909 --json` (seed 913), after 620 example(s);
replayed 3/3 time(s).
Run: `python -m lab run stuck-failure-not-propagated-6a99d5` sends canvas(app) below as built and judges it by the oracle computed
from it; `python -m lab export stuck-failure-not-propagated-6a99d5 --to DIR` writes it as plain Celery, for an upstream report.
"""

from celery import chain, chord, group  # noqa: F401 - what canvas() below is built with

from lab import Scenario, Worker
from lab.apps.fuzz import bind

# Everything the fuzzer knows about this finding (lab.fuzz.findings reads it).
FINDING = {'id': 'stuck-failure-not-propagated-6a99d5',
 'finding_kind': 'stuck/failure-not-propagated',
 'verdict': 'stuck',
 'cause': 'failure-not-propagated',
 'detail': None,
 'summary': 'upstream of the callback: task fuzz.raise 378ee8c1-e4df-47ea-a802-da7417438cd3 failed and its '
            'failure was stored, but it never reached the callback, which neither ran nor failed',
 'evidence': ['upstream task 378ee8c1-e4df-47ea-a802-da7417438cd3:',
              'ledger: fuzz.raise 378ee8c1-e4df-47ea-a802-da7417438cd3 ran on w1 and ended FAILURE: '
              "'PartFailed: fuzzed task 378ee8c1-e4df-47ea-a802-da7417438cd3 failed on purpose'",
              'backend: meta FAILURE for 378ee8c1-e4df-47ea-a802-da7417438cd3; none for the callback',
              'ledger: 0/2 header parts ended; part 7d50dd86-5fc2-4798-a8bd-523a306e9476 has no start',
              'broker: no queue and no unacked entry holds it',
              'oracle: a raise task fails; allows failed'],
 'expected': ['failed'],
 'canvas': 'chord([chain(fuzz.part.s(value=0), chain(fuzz.part.s(value=0), fuzz.raise_.s(value=0), app=app), '
           'group([fuzz.part.s(value=0), fuzz.part.s(value=0)], app=app), app=app)], fuzz.total.s(value=0), '
           'app=app)',
 'failing_index': 0,
 'config_changed': None,
 'exact': True,
 'construction': {'built': ['chain-app'], 'reproduces': {'pipe': True, 'chain-app': True}, 'needs': None},
 'mechanism': {'id': '10',
               'name': 'nested canvas miscount',
               'known': True,
               'why': 'a failure inside a nested canvas never reaches the outer callback, which stays '
                      'PENDING (row 9 expects a FAILURE instead; row 10 lists PENDING for nested canvases)'},
 'seed': 913,
 'blob': "@reproduce_failure('6.155.2', b'AXicY2R0ZGF0ZIBAIGJ0ZGRE5sDZQA4TsgxcnIEBSTsDAD1YB7A=')",
 'hypothesis': '6.155.2',
 'examples_before': 620,
 'replay': {'runs': 3,
            'reproduced': 3,
            'rate': 1.0,
            'flaky': False,
            'seen': ['stuck/failure-not-propagated',
                     'stuck/failure-not-propagated',
                     'stuck/failure-not-propagated']},
 'space': 'shapes',
 'base': 'healthy',
 'versions': {'python': '3.11.7',
              'celery': '5.7.0',
              'kombu': '5.7.0',
              'redis-py': '8.1.0',
              'billiard': '4.3.2',
              'redis-server': '7.0.15'},
 'git': '05b9259787ff',
 'config': None}

# The same canvas as the fuzzer's data (lab.fuzz.strategies.from_data reads it; `lab replay` builds it).
SHAPES = [{'kind': 'chord',
  'header': [{'kind': 'chain',
              'links': [{'kind': 'task', 'behaviour': 'ok', 'value': 0},
                        {'kind': 'chain',
                         'links': [{'kind': 'task', 'behaviour': 'ok', 'value': 0},
                                   {'kind': 'task', 'behaviour': 'raise', 'value': 0}]},
                        {'kind': 'group',
                         'members': [{'kind': 'task', 'behaviour': 'ok', 'value': 0},
                                     {'kind': 'task', 'behaviour': 'ok', 'value': 0}]}]}],
  'body': {'kind': 'task', 'behaviour': 'ok', 'value': 0}}]


def canvas(app):
    """The shrunk canvas, exactly as the fuzzer sent it: the same calls, the same construction path."""
    fuzz = bind(app)
    return [
        chord([chain(fuzz.part.s(value=0), chain(fuzz.part.s(value=0), fuzz.raise_.s(value=0), app=app), group([fuzz.part.s(value=0), fuzz.part.s(value=0)], app=app), app=app)], fuzz.total.s(value=0), app=app),
    ]


scenario = Scenario(
    name='stuck-failure-not-propagated-6a99d5',
    description='fuzzed: stuck/failure-not-propagated with chord([chain(fuzz.part.s(value=0), chain(fuzz.part.s(value=0), fuzz.raise_.s(value=0), app=app), group([fuzz.part.s(value=0), fuzz.part.s(value=0)], app=app), app=app)], fuzz.total.s(value=0), app=app)',
    expect='stuck',
    config={'task_routes': {'fuzz.total': {'queue': 'reports'}, 'fuzz.*': {'queue': 'execution'}, 'lab.part': {'queue': 'execution'}, 'lab.collect': {'queue': 'reports'}}},
    tasks=('lab.apps.basic', 'lab.apps.fuzz'),
    expect_cause='failure-not-propagated',
    mechanism='10',
    workers=(
        Worker('w1', queues=('execution', 'reports'), concurrency=2),
    ),
    canvas=canvas,
)
