"""Fuzzing finding stuck-nested-failure-uncounted-732f24: stuck/nested-failure-uncounted.

Shrunk to: chord([chord([fuzz.raise_.s(value=0)], fuzz.total.s(value=0), app=app)], fuzz.total.s(value=0), app=app)
header part d67d2d08-9ef5-44be-a60c-5a9c2c540025 never ran: it is a nested chord's callback, marked FAILURE when that chord failed, and this chord never counted it

known mechanism 10 (nested canvas miscount): a failure inside a nested canvas never reaches the outer callback, which stays PENDING (row 9 expects a FAILURE instead; row 10 lists PENDING for nested canvases).
Found by `python -m lab fuzz multiple-workers --budget 3m --seed 505 --json` (seed 510), after 235 example(s);
replayed 3/3 time(s).
Run: `python -m lab run stuck-nested-failure-uncounted-732f24` sends canvas(app) below as built and judges it by the oracle computed
from it; `python -m lab export stuck-nested-failure-uncounted-732f24 --to DIR` writes it as plain Celery, for an upstream report.
"""

from celery import chain, chord, group  # noqa: F401 - what canvas() below is built with

from lab import Scenario, Worker
from lab.apps.fuzz import bind

# Everything the fuzzer knows about this finding (lab.fuzz.findings reads it).
FINDING = {'id': 'stuck-nested-failure-uncounted-732f24',
 'finding_kind': 'stuck/nested-failure-uncounted',
 'verdict': 'stuck',
 'cause': 'nested-failure-uncounted',
 'detail': None,
 'summary': "header part d67d2d08-9ef5-44be-a60c-5a9c2c540025 never ran: it is a nested chord's callback, "
            'marked FAILURE when that chord failed, and this chord never counted it',
 'evidence': ["backend: meta FAILURE for header part d67d2d08-9ef5-44be-a60c-5a9c2c540025: {'exc_type': "
              '\'ChordError\', \'exc_message\': ["Dependency 6fe21ac6-c177-4b13-a7b3-71524fb1a8d7 raised '
              "PartFailed('fuzzed...",
              'ledger: part d67d2d08-9ef5-44be-a60c-5a9c2c540025 never started',
              'ledger: 0/1 header parts ended; part d67d2d08-9ef5-44be-a60c-5a9c2c540025 has no start',
              'broker: no queue and no unacked entry holds it',
              'oracle: a raise task fails; allows failed'],
 'expected': ['failed'],
 'canvas': 'chord([chord([fuzz.raise_.s(value=0)], fuzz.total.s(value=0), app=app)], fuzz.total.s(value=0), '
           'app=app)',
 'failing_index': 0,
 'config_changed': None,
 'exact': True,
 'construction': None,
 'mechanism': {'id': '10',
               'name': 'nested canvas miscount',
               'known': True,
               'why': 'a failure inside a nested canvas never reaches the outer callback, which stays '
                      'PENDING (row 9 expects a FAILURE instead; row 10 lists PENDING for nested canvases)'},
 'seed': 510,
 'blob': "@reproduce_failure('6.155.2', b'AXicY2R0ZGN0ZHAEYSCEIOxsAGEyBFw=')",
 'hypothesis': '6.155.2',
 'examples_before': 235,
 'replay': {'runs': 3,
            'reproduced': 3,
            'rate': 1.0,
            'flaky': False,
            'seen': ['stuck/nested-failure-uncounted',
                     'stuck/nested-failure-uncounted',
                     'stuck/nested-failure-uncounted']},
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
  'header': [{'kind': 'chord',
              'header': [{'kind': 'task', 'behaviour': 'raise', 'value': 0}],
              'body': {'kind': 'task', 'behaviour': 'ok', 'value': 0}}],
  'body': {'kind': 'task', 'behaviour': 'ok', 'value': 0}}]


def canvas(app):
    """The shrunk canvas, exactly as the fuzzer sent it: the same calls, the same construction path."""
    fuzz = bind(app)
    return [
        chord([chord([fuzz.raise_.s(value=0)], fuzz.total.s(value=0), app=app)], fuzz.total.s(value=0), app=app),
    ]


scenario = Scenario(
    name='stuck-nested-failure-uncounted-732f24',
    description='fuzzed: stuck/nested-failure-uncounted with chord([chord([fuzz.raise_.s(value=0)], fuzz.total.s(value=0), app=app)], fuzz.total.s(value=0), app=app)',
    expect='stuck',
    config={'task_routes': {'fuzz.total': {'queue': 'reports'}, 'fuzz.*': {'queue': 'execution'}, 'lab.part': {'queue': 'execution'}, 'lab.collect': {'queue': 'reports'}}, 'worker_prefetch_multiplier': 1},
    tasks=('lab.apps.basic', 'lab.apps.fuzz'),
    expect_cause='nested-failure-uncounted',
    mechanism='10',
    workers=(
        Worker('current', queues=('execution', 'reports')),
        Worker('stale', queues=('reports',), tasks=('lab.apps.stale_missing', 'lab.apps.fuzz_stale')),
    ),
    canvas=canvas,
)
