"""Fuzzing finding stuck-part-return-missing-99ce44: stuck/part-return-missing.

Shrunk to: chord([], chain(fuzz.reject.s(value=0), fuzz.total.s(value=0), app=app), app=app)
upstream of the callback: task fuzz.reject 3563c3f1-4711-4472-9552-cd342d411c9e ended REJECTED and stored no state, so nothing that waits on it runs

known mechanism 14 (Reject / Ignore in a header): a part raises Reject or Ignore, so no part return is recorded.
Construction: its chains reproduce it built either way (`a | b` or `chain(a, b, app=app)`).
Found by `python -m lab fuzz --space configs --budget 8m --seed 808 --json` (seed 815), after 589 example(s);
replayed 3/3 time(s).
Run: `python -m lab run stuck-part-return-missing-99ce44` sends canvas(app) below as built and judges it by the oracle computed
from it; `python -m lab export stuck-part-return-missing-99ce44 --to DIR` writes it as plain Celery, for an upstream report.
"""

from celery import chain, chord, group  # noqa: F401 - what canvas() below is built with

from lab import Scenario, Worker
from lab.apps.fuzz import bind

# Everything the fuzzer knows about this finding (lab.fuzz.findings reads it).
FINDING = {'id': 'stuck-part-return-missing-99ce44',
 'finding_kind': 'stuck/part-return-missing',
 'verdict': 'stuck',
 'cause': 'part-return-missing',
 'detail': None,
 'summary': 'upstream of the callback: task fuzz.reject 3563c3f1-4711-4472-9552-cd342d411c9e ended REJECTED '
            'and stored no state, so nothing that waits on it runs',
 'evidence': ['upstream task 3563c3f1-4711-4472-9552-cd342d411c9e:',
              'ledger: fuzz.reject 3563c3f1-4711-4472-9552-cd342d411c9e ran on w1-g353 and ended REJECTED',
              'backend: no meta for 3563c3f1-4711-4472-9552-cd342d411c9e',
              'backend: no .s, no .j; evicted_keys = 0',
              'oracle: a reject task fails; allows failed'],
 'expected': ['failed'],
 'canvas': 'chord([], chain(fuzz.reject.s(value=0), fuzz.total.s(value=0), app=app), app=app)',
 'failing_index': 0,
 'config_changed': {'task_ignore_result': True},
 'exact': True,
 'construction': {'built': ['chain-app'], 'reproduces': {'pipe': True, 'chain-app': True}, 'needs': None},
 'mechanism': {'id': '14',
               'name': 'Reject / Ignore in a header',
               'known': True,
               'why': 'a part raises Reject or Ignore, so no part return is recorded'},
 'seed': 815,
 'blob': "@reproduce_failure('6.155.2', b'AXicY3RkcGQEYgYGRzhkZEBiOjIygpUwQRVBJUAIAMGYBiI=')",
 'hypothesis': '6.155.2',
 'examples_before': 589,
 'replay': {'runs': 3,
            'reproduced': 3,
            'rate': 1.0,
            'flaky': False,
            'seen': ['stuck/part-return-missing', 'stuck/part-return-missing', 'stuck/part-return-missing']},
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
            'task_ignore_result': True,
            'task_acks_late': False,
            'task_reject_on_worker_lost': False,
            'backend': 'redis',
            'maxmemory_policy': 'noeviction',
            'maxmemory_mb': None,
            'visibility_timeout': None}}

# The same canvas as the fuzzer's data (lab.fuzz.strategies.from_data reads it; `lab replay` builds it).
SHAPES = [{'kind': 'chord',
  'header': [],
  'body': {'kind': 'chain',
           'links': [{'kind': 'task', 'behaviour': 'reject', 'value': 0},
                     {'kind': 'task', 'behaviour': 'ok', 'value': 0}]}}]


def canvas(app):
    """The shrunk canvas, exactly as the fuzzer sent it: the same calls, the same construction path."""
    fuzz = bind(app)
    return [
        chord([], chain(fuzz.reject.s(value=0), fuzz.total.s(value=0), app=app), app=app),
    ]


scenario = Scenario(
    name='stuck-part-return-missing-99ce44',
    description='fuzzed: stuck/part-return-missing with chord([], chain(fuzz.reject.s(value=0), fuzz.total.s(value=0), app=app), app=app)',
    expect='stuck',
    config={'task_ignore_result': True},
    tasks=('lab.apps.fuzz',),
    expect_cause='part-return-missing',
    mechanism='14',
    workers=(
        Worker('w1'),
    ),
    canvas=canvas,
)
