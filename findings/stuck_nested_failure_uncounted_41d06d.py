"""Fuzzing finding stuck-nested-failure-uncounted-41d06d: stuck/nested-failure-uncounted.

Shrunk to: chord([chord([fuzz.raise_.s(value=0)], fuzz.total.s(value=0), app=app)], fuzz.total.s(value=0), app=app)
header part 46493397-64fd-4d50-883c-bacbf5194698 never ran: it is a nested chord's callback, marked FAILURE when that chord failed, and this chord never counted it

known mechanism 10 (nested canvas miscount): a failure inside a nested canvas never reaches the outer callback, which stays PENDING (row 9 expects a FAILURE instead; row 10 lists PENDING for nested canvases).
Found by `python -m lab fuzz --space configs --budget 15m --seed 202 --json` (seed 205), after 135 example(s);
replayed 3/3 time(s).
Run: `python -m lab run stuck-nested-failure-uncounted-41d06d` sends canvas(app) below as built and judges it by the oracle computed
from it; `python -m lab export stuck-nested-failure-uncounted-41d06d --to DIR` writes it as plain Celery, for an upstream report.
"""

from celery import chain, chord, group  # noqa: F401 - what canvas() below is built with

from lab import Scenario, Worker
from lab.apps.fuzz import bind

# Everything the fuzzer knows about this finding (lab.fuzz.findings reads it).
FINDING = {'id': 'stuck-nested-failure-uncounted-41d06d',
 'finding_kind': 'stuck/nested-failure-uncounted',
 'verdict': 'stuck',
 'cause': 'nested-failure-uncounted',
 'detail': None,
 'summary': "header part 46493397-64fd-4d50-883c-bacbf5194698 never ran: it is a nested chord's callback, "
            'marked FAILURE when that chord failed, and this chord never counted it',
 'evidence': ["backend: meta FAILURE for header part 46493397-64fd-4d50-883c-bacbf5194698: {'exc_type': "
              '\'ChordError\', \'exc_message\': ["Dependency 8acf486b-ff2a-4475-8709-273476f33854 raised '
              "PartFailed('fuzzed...",
              'ledger: part 46493397-64fd-4d50-883c-bacbf5194698 never started',
              'ledger: 0/1 header parts ended; part 46493397-64fd-4d50-883c-bacbf5194698 has no start',
              'broker: no queue and no unacked entry holds it',
              'oracle: a raise task fails; allows failed'],
 'expected': ['failed'],
 'canvas': 'chord([chord([fuzz.raise_.s(value=0)], fuzz.total.s(value=0), app=app)], fuzz.total.s(value=0), '
           'app=app)',
 'failing_index': 1,
 'config_changed': {},
 'exact': True,
 'construction': None,
 'mechanism': {'id': '10',
               'name': 'nested canvas miscount',
               'known': True,
               'why': 'a failure inside a nested canvas never reaches the outer callback, which stays '
                      'PENDING (row 9 expects a FAILURE instead; row 10 lists PENDING for nested canvases)'},
 'seed': 205,
 'blob': "@reproduce_failure('6.155.2', b'AXicY3RkcGQEYgYGRzhkQHAYEYJADqMjMyNENZiPLIfCBgB8nQit')",
 'hypothesis': '6.155.2',
 'examples_before': 135,
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
 'git': '7caeb0031f40-dirty',
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
SHAPES = [{'kind': 'chord', 'header': [], 'body': {'kind': 'task', 'behaviour': 'ok', 'value': 0}},
 {'kind': 'chord',
  'header': [{'kind': 'chord',
              'header': [{'kind': 'task', 'behaviour': 'raise', 'value': 0}],
              'body': {'kind': 'task', 'behaviour': 'ok', 'value': 0}}],
  'body': {'kind': 'task', 'behaviour': 'ok', 'value': 0}}]


def canvas(app):
    """The shrunk canvas, exactly as the fuzzer sent it: the same calls, the same construction path."""
    fuzz = bind(app)
    return [
        chord([], fuzz.total.s(value=0), app=app),
        chord([chord([fuzz.raise_.s(value=0)], fuzz.total.s(value=0), app=app)], fuzz.total.s(value=0), app=app),
    ]


scenario = Scenario(
    name='stuck-nested-failure-uncounted-41d06d',
    description='fuzzed: stuck/nested-failure-uncounted with chord([chord([fuzz.raise_.s(value=0)], fuzz.total.s(value=0), app=app)], fuzz.total.s(value=0), app=app)',
    expect='stuck',
    tasks=('lab.apps.fuzz',),
    expect_cause='nested-failure-uncounted',
    mechanism='10',
    workers=(
        Worker('w1'),
    ),
    canvas=canvas,
)
