"""Fuzzing finding stuck-rejected-failure-lost-512dde: stuck/rejected-failure-lost.

Shrunk to: chord([fuzz.part.s(value=0), fuzz.part.s(value=0), fuzz.part.s(value=0), chain(fuzz.part.s(value=0), chain(fuzz.part.s(value=0), fuzz.reject.s(value=0), app=app), group([fuzz.part.s(value=0), fuzz.part.s(value=0)], app=app), app=app)], fuzz.total.s(value=0), app=app)
upstream of the callback: task fuzz.reject 4996a988-747c-4822-9363-0c674cceba7c raised Reject and was recorded as FAILURE, but that failure never reached the callback: it neither ran nor failed

new (not in shared/notes/mechanisms.md): no row of the catalog fits.
Construction: its chains reproduce it built either way (`a | b` or `chain(a, b, app=app)`).
Found by `python -m lab fuzz healthy --budget 6m --seed 909 --json` (seed 914), after 938 example(s);
replayed 3/3 time(s).
Run: `python -m lab run stuck-rejected-failure-lost-512dde` sends canvas(app) below as built and judges it by the oracle computed
from it; `python -m lab export stuck-rejected-failure-lost-512dde --to DIR` writes it as plain Celery, for an upstream report.
"""

from celery import chain, chord, group  # noqa: F401 - what canvas() below is built with

from lab import Scenario, Worker
from lab.apps.fuzz import bind

# Everything the fuzzer knows about this finding (lab.fuzz.findings reads it).
FINDING = {'id': 'stuck-rejected-failure-lost-512dde',
 'finding_kind': 'stuck/rejected-failure-lost',
 'verdict': 'stuck',
 'cause': 'rejected-failure-lost',
 'detail': None,
 'summary': 'upstream of the callback: task fuzz.reject 4996a988-747c-4822-9363-0c674cceba7c raised Reject '
            'and was recorded as FAILURE, but that failure never reached the callback: it neither ran nor '
            'failed',
 'evidence': ['upstream task 4996a988-747c-4822-9363-0c674cceba7c:',
              'ledger: fuzz.reject 4996a988-747c-4822-9363-0c674cceba7c ran on w1 and ended REJECTED',
              'backend: meta FAILURE for 4996a988-747c-4822-9363-0c674cceba7c, none for the callback',
              'ledger: 3/5 header parts ended; part 0b6cd53c-4a7e-4f60-8e50-11d41905960d has no start',
              'broker: no queue and no unacked entry holds it',
              'oracle: a reject task fails; allows failed'],
 'expected': ['failed'],
 'canvas': 'chord([fuzz.part.s(value=0), fuzz.part.s(value=0), fuzz.part.s(value=0), '
           'chain(fuzz.part.s(value=0), chain(fuzz.part.s(value=0), fuzz.reject.s(value=0), app=app), '
           'group([fuzz.part.s(value=0), fuzz.part.s(value=0)], app=app), app=app)], fuzz.total.s(value=0), '
           'app=app)',
 'failing_index': 0,
 'config_changed': None,
 'exact': True,
 'construction': {'built': ['chain-app'], 'reproduces': {'pipe': True, 'chain-app': True}, 'needs': None},
 'mechanism': {'id': None, 'name': None, 'known': False, 'why': 'no row of the catalog fits'},
 'seed': 914,
 'blob': "@reproduce_failure('6.155.2', b'AXicY2R0ZIBAIMLNZkHlMjIicxyZoGwgh4kR3QQQYmBA0s4AALO9C4Q=')",
 'hypothesis': '6.155.2',
 'examples_before': 938,
 'replay': {'runs': 3,
            'reproduced': 3,
            'rate': 1.0,
            'flaky': False,
            'seen': ['stuck/rejected-failure-lost',
                     'stuck/rejected-failure-lost',
                     'stuck/rejected-failure-lost']},
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
  'header': [{'kind': 'task', 'behaviour': 'ok', 'value': 0},
             {'kind': 'task', 'behaviour': 'ok', 'value': 0},
             {'kind': 'task', 'behaviour': 'ok', 'value': 0},
             {'kind': 'chain',
              'links': [{'kind': 'task', 'behaviour': 'ok', 'value': 0},
                        {'kind': 'chain',
                         'links': [{'kind': 'task', 'behaviour': 'ok', 'value': 0},
                                   {'kind': 'task', 'behaviour': 'reject', 'value': 0}]},
                        {'kind': 'group',
                         'members': [{'kind': 'task', 'behaviour': 'ok', 'value': 0},
                                     {'kind': 'task', 'behaviour': 'ok', 'value': 0}]}]}],
  'body': {'kind': 'task', 'behaviour': 'ok', 'value': 0}}]


def canvas(app):
    """The shrunk canvas, exactly as the fuzzer sent it: the same calls, the same construction path."""
    fuzz = bind(app)
    return [
        chord([fuzz.part.s(value=0), fuzz.part.s(value=0), fuzz.part.s(value=0), chain(fuzz.part.s(value=0), chain(fuzz.part.s(value=0), fuzz.reject.s(value=0), app=app), group([fuzz.part.s(value=0), fuzz.part.s(value=0)], app=app), app=app)], fuzz.total.s(value=0), app=app),
    ]


scenario = Scenario(
    name='stuck-rejected-failure-lost-512dde',
    description='fuzzed: stuck/rejected-failure-lost with chord([fuzz.part.s(value=0), fuzz.part.s(value=0), fuzz.part.s(value=0), chain(fuzz.part.s(value=0), chain(fuzz.part.s(value=0), fuzz.reject.s(value=0), app=app), group([fuzz.part.s(value=0), fuzz.part.s(value=0)], app=app), app=app)], fuzz.total.s(value=0), ',
    expect='stuck',
    config={'task_routes': {'fuzz.total': {'queue': 'reports'}, 'fuzz.*': {'queue': 'execution'}, 'lab.part': {'queue': 'execution'}, 'lab.collect': {'queue': 'reports'}}},
    tasks=('lab.apps.basic', 'lab.apps.fuzz'),
    expect_cause='rejected-failure-lost',
    workers=(
        Worker('w1', queues=('execution', 'reports'), concurrency=2),
    ),
    canvas=canvas,
)
