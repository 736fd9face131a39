"""Fuzzing finding stuck-nested-failure-uncounted-caf172: stuck/nested-failure-uncounted.

Shrunk to: chord([chord([fuzz.part.s(value=0), fuzz.raise_.s(value=0)], fuzz.total.s(value=0), app=app)], fuzz.total.s(value=0), app=app)
header part b81ab4c4-16cf-44fe-8345-60ec3b6d18fc never ran: it is a nested chord's callback, marked FAILURE when that chord failed, and this chord never counted it

known mechanism 10 (nested canvas miscount): a failure inside a nested canvas never reaches the outer callback, which stays PENDING (row 9 expects a FAILURE instead; row 10 lists PENDING for nested canvases).
Found by `python -m lab fuzz --space configs --budget 8m --seed 808 --json` (seed 811), after 166 example(s);
replayed 3/3 time(s).
Run: `python -m lab run stuck-nested-failure-uncounted-caf172` sends canvas(app) below as built and judges it by the oracle computed
from it; `python -m lab export stuck-nested-failure-uncounted-caf172 --to DIR` writes it as plain Celery, for an upstream report.
"""

from celery import chain, chord, group  # noqa: F401 - what canvas() below is built with

from lab import Scenario, Worker
from lab.apps.fuzz import bind

# Everything the fuzzer knows about this finding (lab.fuzz.findings reads it).
FINDING = {'id': 'stuck-nested-failure-uncounted-caf172',
 'finding_kind': 'stuck/nested-failure-uncounted',
 'verdict': 'stuck',
 'cause': 'nested-failure-uncounted',
 'detail': None,
 'summary': "header part b81ab4c4-16cf-44fe-8345-60ec3b6d18fc never ran: it is a nested chord's callback, "
            'marked FAILURE when that chord failed, and this chord never counted it',
 'evidence': ["backend: meta FAILURE for header part b81ab4c4-16cf-44fe-8345-60ec3b6d18fc: {'exc_type': "
              '\'ChordError\', \'exc_message\': ["Dependency cc285666-3309-4c0d-b08d-270f91f36508 raised '
              "PartFailed('fuzzed...",
              'ledger: part b81ab4c4-16cf-44fe-8345-60ec3b6d18fc never started',
              'ledger: 0/1 header parts ended; part b81ab4c4-16cf-44fe-8345-60ec3b6d18fc has no start',
              'broker: no queue and no unacked entry holds it',
              'oracle: a raise task fails; allows failed'],
 'expected': ['failed'],
 'canvas': 'chord([chord([fuzz.part.s(value=0), fuzz.raise_.s(value=0)], fuzz.total.s(value=0), app=app)], '
           'fuzz.total.s(value=0), app=app)',
 'failing_index': 0,
 'config_changed': {},
 'exact': True,
 'construction': None,
 'mechanism': {'id': '10',
               'name': 'nested canvas miscount',
               'known': True,
               'why': 'a failure inside a nested canvas never reaches the outer callback, which stays '
                      'PENDING (row 9 expects a FAILURE instead; row 10 lists PENDING for nested canvases)'},
 'seed': 811,
 'blob': "@reproduce_failure('6.155.2', b'AXicY3RkcGQEYgYGRzhkQHAYGR2ZGaGiQJ4jgo1QjcYGAGQeCGw=')",
 'hypothesis': '6.155.2',
 'examples_before': 166,
 'replay': {'runs': 3,
            'reproduced': 3,
            'rate': 1.0,
            'flaky': False,
            'seen': ['stuck/nested-failure-uncounted',
                     'stuck/nested-failure-uncounted',
                     'stuck/nested-failure-uncounted']},
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
            'task_ignore_result': False,
            'task_acks_late': False,
            'task_reject_on_worker_lost': False,
            'backend': 'redis',
            'maxmemory_policy': 'noeviction',
            'maxmemory_mb': None,
            'visibility_timeout': None}}

# The same canvas as the fuzzer's data (lab.fuzz.strategies.from_data reads it; `lab replay` builds it).
SHAPES = [{'kind': 'chord',
  'header': [{'kind': 'chord',
              'header': [{'kind': 'task', 'behaviour': 'ok', 'value': 0},
                         {'kind': 'task', 'behaviour': 'raise', 'value': 0}],
              'body': {'kind': 'task', 'behaviour': 'ok', 'value': 0}}],
  'body': {'kind': 'task', 'behaviour': 'ok', 'value': 0}}]


def canvas(app):
    """The shrunk canvas, exactly as the fuzzer sent it: the same calls, the same construction path."""
    fuzz = bind(app)
    return [
        chord([chord([fuzz.part.s(value=0), fuzz.raise_.s(value=0)], fuzz.total.s(value=0), app=app)], fuzz.total.s(value=0), app=app),
    ]


scenario = Scenario(
    name='stuck-nested-failure-uncounted-caf172',
    description='fuzzed: stuck/nested-failure-uncounted with chord([chord([fuzz.part.s(value=0), fuzz.raise_.s(value=0)], fuzz.total.s(value=0), app=app)], fuzz.total.s(value=0), app=app)',
    expect='stuck',
    tasks=('lab.apps.fuzz',),
    expect_cause='nested-failure-uncounted',
    mechanism='10',
    workers=(
        Worker('w1'),
    ),
    canvas=canvas,
)
