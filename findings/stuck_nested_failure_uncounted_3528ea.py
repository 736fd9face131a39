"""Fuzzing finding stuck-nested-failure-uncounted-3528ea: stuck/nested-failure-uncounted.

Shrunk to: chord([chord([fuzz.raise_.s(value=0)], fuzz.total.s(value=0), app=app)], fuzz.total.s(value=0), app=app)
header part 7bdca6a1-ec34-4cd7-a1ad-4c0fc4cf696a never ran: it is a nested chord's callback, marked FAILURE when that chord failed, and this chord never counted it

known mechanism 10 (nested canvas miscount): a failure inside a nested canvas never reaches the outer callback, which stays PENDING (row 9 expects a FAILURE instead; row 10 lists PENDING for nested canvases).
Found by `python -m lab fuzz short-result-expiry --budget 3m --seed 404 --json` (seed 405), after 71 example(s);
replayed 3/3 time(s).
Run: `python -m lab run stuck-nested-failure-uncounted-3528ea` sends canvas(app) below as built and judges it by the oracle computed
from it; `python -m lab export stuck-nested-failure-uncounted-3528ea --to DIR` writes it as plain Celery, for an upstream report.
"""

from celery import chain, chord, group  # noqa: F401 - what canvas() below is built with

from lab import Scenario, Worker
from lab.apps.fuzz import bind

# Everything the fuzzer knows about this finding (lab.fuzz.findings reads it).
FINDING = {'id': 'stuck-nested-failure-uncounted-3528ea',
 'finding_kind': 'stuck/nested-failure-uncounted',
 'verdict': 'stuck',
 'cause': 'nested-failure-uncounted',
 'detail': None,
 'summary': "header part 7bdca6a1-ec34-4cd7-a1ad-4c0fc4cf696a never ran: it is a nested chord's callback, "
            'marked FAILURE when that chord failed, and this chord never counted it',
 'evidence': ["backend: meta FAILURE for header part 7bdca6a1-ec34-4cd7-a1ad-4c0fc4cf696a: {'exc_type': "
              '\'ChordError\', \'exc_message\': ["Dependency caa84acb-10dc-44ef-a2a1-327474f907fe raised '
              "PartFailed('fuzzed...",
              'ledger: part 7bdca6a1-ec34-4cd7-a1ad-4c0fc4cf696a never started',
              'ledger: 0/1 header parts ended; part 7bdca6a1-ec34-4cd7-a1ad-4c0fc4cf696a has no start',
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
 'seed': 405,
 'blob': "@reproduce_failure('6.155.2', b'AXicY2R0ZGZ0ZHRkAEEIws4GAFaEBBg=')",
 'hypothesis': '6.155.2',
 'examples_before': 71,
 'replay': {'runs': 3,
            'reproduced': 3,
            'rate': 1.0,
            'flaky': False,
            'seen': ['stuck/nested-failure-uncounted',
                     'stuck/nested-failure-uncounted',
                     'stuck/nested-failure-uncounted']},
 'space': 'shapes',
 'base': 'short-result-expiry',
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
    name='stuck-nested-failure-uncounted-3528ea',
    description='fuzzed: stuck/nested-failure-uncounted with chord([chord([fuzz.raise_.s(value=0)], fuzz.total.s(value=0), app=app)], fuzz.total.s(value=0), app=app)',
    expect='stuck',
    config={'result_expires': 1, 'result_chord_expires': 1},
    tasks=('lab.apps.basic', 'lab.apps.fuzz'),
    expect_cause='nested-failure-uncounted',
    mechanism='10',
    workers=(
        Worker('w1', concurrency=3),
    ),
    canvas=canvas,
)
