"""The fuzzer's oracle and its judgement of one example, on hand-built shapes and observations (pure).

No processes: ``expect`` is checked against what Celery's canvas semantics give
hand-built shapes, and ``judge_example`` against observations written by hand
in the form a fuzz session stores them.  The RESULTS.md section and the
mechanism classification are checked on hand-built records.
"""

from __future__ import annotations

import pytest

from lab.apps.fuzz_tasks import LARGE_PADDING
from lab.fuzz import findings as F
from lab.fuzz import oracle as O
from lab.cli.fuzz import parse_budget
from lab.fuzz.strategies import ChainShape, ChordShape, GroupShape, Options, TaskShape

T = TaskShape


def exp(shape, config=None):
    return O.expect(shape, {"config": config or {}})


# -- expect: what a correct Celery gives the callback ------------------------------------------------------


def test_flat_chord_gets_every_part_in_order_and_returns_their_sum_plus_its_value():
    e = exp(ChordShape((T(value=1), T(value=2), T(value=3)), T(value=100)))
    assert (e.verdicts, e.args0, e.result, e.callback_task) == (("completed",), [1, 2, 3], 106, "fuzz.total")


def test_empty_header_hands_the_callback_an_empty_list():
    assert exp(ChordShape((), T(value=7))).args0 == []


def test_immutable_callback_gets_nothing_and_returns_its_value():
    e = exp(ChordShape((T(value=1),), T(value=5, immutable=True)))
    assert (e.args0, e.result) == (None, 5)


def test_chain_in_header_counts_its_last_task():
    # chain(1, .s 2): 1 then 1 + 2 = 3; a .si link ignores what came before it
    assert exp(ChordShape((ChainShape((T(value=1), T(value=2))),), T())).args0 == [3]
    assert exp(ChordShape((ChainShape((T(value=1), T(value=2, immutable=True))),), T())).args0 == [2]


def test_nested_group_in_header_is_flattened_in_order():
    """group(group(1, 2), 3) in a header: the body gets [1, 2, 3] (Celery flattens nested groups)."""
    assert exp(ChordShape((GroupShape((T(value=1), T(value=2))), T(value=3)), T())).args0 == [1, 2, 3]


def test_chord_in_header_contributes_its_callback_result():
    inner = ChordShape((T(value=1), T(value=2)), T(value=10))  # 10 + 1 + 2
    assert exp(ChordShape((inner, T(value=3)), T())).args0 == [13, 3]


def test_chord_in_chain_in_group_gets_the_chain_value_in_its_header():
    # chain(1, chord([.s 2, .s 3], .s 10)): each header task gets 1 -> 3, 4; body 10 + 7 = 17
    inner = ChordShape((T(value=2), T(value=3)), T(value=10))
    shape = ChordShape((GroupShape((ChainShape((T(value=1), inner)), T(value=4))),), T())
    assert exp(shape).args0 == [17, 4]


def test_group_of_one_in_a_chain_is_unrolled():
    # chain(1, group(.s 2), .s 3): the group of one is its task, so 3 gets 3, not [3]
    shape = ChordShape((ChainShape((T(value=1), GroupShape((T(value=2),)), T(value=3))),), T())
    assert exp(shape).args0 == [6]


def test_chain_ending_in_a_group_in_header_is_one_nested_list():
    shape = ChordShape((ChainShape((T(value=1), GroupShape((T(value=2), T(value=3))))), T(value=4)), T())
    assert exp(shape).args0 == [[3, 4], 4]


def test_chain_body_hands_the_callback_the_previous_link():
    e = exp(ChordShape((T(value=1), T(value=2)), ChainShape((T(value=10), T(value=100)))))
    assert (e.args0, e.result) == (13, 113)


def test_chord_body_gets_its_header_from_the_outer_header():
    # body chord([.s 5], .s 100): 5 gets [11, 20] -> 36; the callback gets [36]
    shape = ChordShape((ChordShape((T(value=1),), T(value=10)), ChordShape((), T(value=20))),
                       ChordShape((T(value=5),), T(value=100)))
    assert exp(shape).args0 == [36]


def test_large_result_is_its_number_then_zeros():
    e = exp(ChordShape((T(value=3, behaviour="large"),), T()))
    assert e.args0 == [[3] + [0] * LARGE_PADDING] and e.result == 3


def test_a_raising_part_fails_the_chord():
    for behaviour in ("raise", "timeout"):
        assert exp(ChordShape((T(), T(behaviour=behaviour)), T())).verdicts == ("failed",)


def test_ignore_in_header_leaves_the_chord_stuck_by_design():
    e = exp(ChordShape((T(), T(behaviour="ignore")), T()))
    assert e.verdicts == ("stuck",) and "mechanism 14" in e.reason


def test_a_silent_part_wins_over_a_failed_one():
    """One part fails, another stores nothing: the count never completes, so the chord is stuck."""
    assert exp(ChordShape((T(behaviour="raise"), T(behaviour="ignore")), T())).verdicts == ("stuck",)


def test_reject_fails_the_chord_since_celery_5_7():
    e = exp(ChordShape((T(behaviour="reject"),), T()))
    assert e.verdicts == (("failed",) if O.REJECT_RECORDS_FAILURE else ("stuck",))


def test_callback_that_stores_nothing_reads_pending():
    assert exp(ChordShape((T(),), T(behaviour="ignore"))).verdicts == ("unrecorded",)
    assert exp(ChordShape((T(),), T(options=Options(ignore_result=True)))).verdicts == ("unrecorded",)
    assert exp(ChordShape((T(),), T()), {"task_ignore_result": True}).verdicts == ("unrecorded",)


def test_retry_and_options_do_not_change_the_result():
    e = exp(ChordShape((T(value=2, behaviour="retry", options=Options(countdown=0.02, headers=True)),), T()))
    assert (e.verdicts, e.args0) == (("completed",), [2])


def test_callback_options_and_name_are_what_routing_needs():
    e = exp(ChordShape((T(),), T(options=Options(queue="reports"))))
    assert e.callback_task == "fuzz.total" and e.callback_options == {"queue": "reports"}
    assert exp(ChordShape((T(),), T(behaviour="retry"))).callback_task == "fuzz.retry"


# -- judge_example: hand-built observations ---------------------------------------------------------------

T0 = 1000.0


def obs_for(shape, *, events, metas=None, queues=None, consumers=None, config=None, keys=None, logs=None,
            header_ids=("p1", "p2"), send_error=None):
    e = exp(shape, config)
    chord = {"index": 0, "chord_id": "cb", "group_id": "g", "header_ids": list(header_ids), "roots": [],
             "callback_task": e.callback_task, "callback_queue": "celery", "expected": e.args0,
             "expectation": e.to_dict(), "sent_at": T0}
    if send_error:
        chord.update(chord_id="not-sent-0", header_ids=[], send_error=send_error, send_traceback=["File x", "Boom"])
    return {"started_at": T0, "scenario": {"config": config or {}, "workers": []}, "chords": [chord],
            "ledger": events, "size_ttls": [],
            "probe": {"t": T0 + 1, "quiesced": True,
                      "backend": {"kind": "redis", "metas": metas or {}, "chord_keys": {"cb": keys or {}}, "stats": {}},
                      "broker": {"queues": queues or {}, "unacked": []},
                      "workers": {"consumers": consumers if consumers is not None else {"w1@h": ["celery"]}},
                      "logs": logs or {}}}


def ev(event, tid, t, **kw):
    return {"event": event, "task_id": tid, "t": T0 + t, "worker": "w1@h", **kw}


def parts_ran(*values):
    out = []
    for i, v in enumerate(values):
        out += [ev("start", f"p{i + 1}", 0.01, name="fuzz.part"), ev("end", f"p{i + 1}", 0.02, name="fuzz.part", state="SUCCESS", result=v)]
    return out


FLAT = ChordShape((T(value=1), T(value=2)), T(value=100))


def test_callback_run_once_with_the_oracles_argument_is_no_finding():
    events = parts_ran(1, 2) + [ev("start", "cb", 0.03, name="fuzz.total", args=[[1, 2]]),
                                ev("end", "cb", 0.04, name="fuzz.total", state="SUCCESS", result=103)]
    (o,) = O.judge_example(obs_for(FLAT, events=events, metas={"cb": {"status": "SUCCESS", "result": 103}}))
    assert (o.verdict, o.finding, o.kind) == ("completed", False, None)


def test_results_in_the_wrong_order_are_an_early_order_finding():
    events = parts_ran(1, 2) + [ev("start", "cb", 0.03, name="fuzz.total", args=[[2, 1]]),
                                ev("end", "cb", 0.04, name="fuzz.total", state="SUCCESS", result=103)]
    (o,) = O.judge_example(obs_for(FLAT, events=events, metas={"cb": {"status": "SUCCESS", "result": 103}}))
    assert (o.verdict, o.kind, o.finding) == ("early", "early/order", True)
    assert any("started with [2, 1]" in line for line in o.evidence)


def test_a_wrong_return_value_is_a_finding():
    events = parts_ran(1, 2) + [ev("start", "cb", 0.03, name="fuzz.total", args=[[1, 2]]),
                                ev("end", "cb", 0.04, name="fuzz.total", state="SUCCESS", result=5)]
    (o,) = O.judge_example(obs_for(FLAT, events=events, metas={"cb": {"status": "SUCCESS", "result": 5}}))
    assert o.kind == "early/wrong-result"


def test_callback_parked_in_an_unconsumed_queue_is_stuck_with_proof():
    """Mechanism 1: the callback waits in 'reports'; the only worker consumes 'celery'."""
    events = parts_ran(1, 2) + [ev("publish", "cb", 0.03, name="fuzz.total", queue="reports", by="w1@h")]
    obs = obs_for(FLAT, events=events, queues={"reports": {"length": 1, "messages": [{"task_id": "cb", "name": "fuzz.total"}]}})
    (o,) = O.judge_example(obs)
    assert (o.verdict, o.cause, o.kind) == ("stuck", "callback-queue-unconsumed", "stuck/callback-queue-unconsumed")
    assert any("none consumes 'reports'" in line for line in o.evidence)


def test_no_worker_answering_inspect_is_not_proof_of_an_unconsumed_queue():
    events = parts_ran(1, 2) + [ev("publish", "cb", 0.03, name="fuzz.total", queue="celery", by="w1@h")]
    obs = obs_for(FLAT, events=events, consumers={},
                  queues={"celery": {"length": 1, "messages": [{"task_id": "cb", "name": "fuzz.total"}]}})
    (o,) = O.judge_example(obs)
    assert o.verdict == "unknown" and "no worker answered" in o.summary


def test_a_retried_callback_ran_once():
    """Two RETRY attempts then a success are one run of the callback, not a duplicate."""
    shape = ChordShape((T(value=1), T(value=2)), T(behaviour="retry"))
    events = parts_ran(1, 2)
    for i, state in enumerate(("RETRY", "RETRY", "SUCCESS")):
        events += [ev("start", "cb", 0.1 * i + 0.03, name="fuzz.retry", args=[[1, 2]]),
                   ev("end", "cb", 0.1 * i + 0.04, name="fuzz.retry", state=state, result=3)]
    (o,) = O.judge_example(obs_for(shape, events=events, metas={"cb": {"status": "SUCCESS", "result": 3}}))
    assert (o.verdict, o.finding) == ("completed", False)


def test_a_rejected_part_recorded_as_failure_but_never_failing_the_chord_is_a_finding():
    """Celery 5.7 records Reject as FAILURE and counts it; if the callback neither runs nor fails, say so."""
    shape = ChordShape((T(value=1), T(behaviour="reject")), T())
    events = [ev("start", "p1", 0.01, name="fuzz.part"), ev("end", "p1", 0.02, name="fuzz.part", state="SUCCESS", result=1),
              ev("start", "p2", 0.01, name="fuzz.reject"), ev("end", "p2", 0.02, name="fuzz.reject", state="REJECTED")]
    obs = obs_for(shape, events=events, metas={"p2": {"status": "FAILURE", "result": {"exc_type": "Reject"}}},
                  keys={".s": {"type": "string", "value": 2}, ".j": {"type": "zset", "card": 2}})
    (o,) = O.judge_example(obs)
    if O.REJECT_RECORDS_FAILURE:
        assert (o.verdict, o.cause, o.finding) == ("stuck", "rejected-failure-lost", True)


def test_a_failed_task_that_ignores_its_results_leaves_the_chain_after_it_pending():
    shape = ChordShape((), ChainShape((T(behaviour="raise", options=Options(ignore_result=True)), T())))
    events = [ev("start", "x", 0.01, name="fuzz.raise"), ev("end", "x", 0.02, name="fuzz.raise", state="FAILURE",
                                                             result="PartFailed: on purpose")]
    (o,) = O.judge_example(obs_for(shape, events=events, header_ids=()))
    assert (o.verdict, o.cause, o.kind) == ("stuck", "failure-unrecorded", "stuck/failure-unrecorded")


def test_apply_async_raising_is_always_a_finding():
    (o,) = O.judge_example(obs_for(FLAT, events=[], send_error="AttributeError: 'list' object has no attribute 'options'"))
    assert (o.verdict, o.cause, o.finding) == ("failed", "apply-raised", True)
    assert "never sent" in o.summary


def test_stuck_by_design_is_not_a_finding():
    shape = ChordShape((T(value=1), T(behaviour="ignore")), T())
    events = [ev("start", "p1", 0.01, name="fuzz.part"), ev("end", "p1", 0.02, name="fuzz.part", state="SUCCESS", result=1),
              ev("start", "p2", 0.01, name="fuzz.ignore"), ev("end", "p2", 0.02, name="fuzz.ignore", state="IGNORED")]
    obs = obs_for(shape, events=events, keys={".s": {"type": "string", "value": 2}, ".j": {"type": "zset", "card": 1}})
    (o,) = O.judge_example(obs)
    assert (o.verdict, o.finding) == ("stuck", False)


def test_without_retried_attempts_keeps_the_last_attempt():
    events = [ev("start", "a", 0.0), ev("end", "a", 0.1, state="RETRY"), ev("start", "a", 0.2), ev("end", "a", 0.3, state="SUCCESS")]
    kept = O.without_retried_attempts(events)
    assert [(e["event"], e.get("state")) for e in kept] == [("start", None), ("end", "SUCCESS")]
    assert kept[0]["t"] == T0 + 0.2


# -- findings: classification and the RESULTS.md section -----------------------------------------------------


@pytest.mark.parametrize("verdict, cause, detail, config, want", [
    ("stuck", "callback-queue-unconsumed", None, {"task_routes": {"fuzz.total": {"queue": "reports"}}}, "1"),
    ("stuck", "callback-queue-unconsumed", None, {"task_routes": {"fuzz.*": {"queue": "execution"}}}, "1b"),
    ("stuck", "chord-unlock-unconsumed", None, {}, "2"),
    ("stuck", "chord-size-key-missing", None, {"result_expires": 1}, "4"),
    ("failed", "callback-unregistered", None, {}, "6"),
    ("duplicated", None, None, {}, "8"),
    ("early", None, "order", {}, None),
])
def test_classify_names_the_catalog_row(verdict, cause, detail, config, want):
    shapes = [{"kind": "chord", "header": [{"kind": "group", "members": [{"kind": "task"}, {"kind": "task"}]}],
               "body": {"kind": "task"}}]
    got = F.classify(verdict, cause, detail, shapes, None, {"config": config})
    assert got["id"] == want and got["known"] == (want is not None) and got["why"]


def record(fid, kind, space="shapes", base="healthy", known=True):
    return {"kind": "fuzz-finding", "id": fid, "finding_kind": kind, "space": space, "base": base,
            "summary": "callback total is in queue 'reports', which no worker consumes", "cause": kind.split("/")[1],
            "mechanism": {"id": "1" if known else None, "name": "callback queue unconsumed (split queues)" if known else None,
                          "known": known, "why": "the callback is routed to a queue no worker consumes"},
            "replay": {"runs": 3, "reproduced": 3, "flaky": False}, "examples_before": 1, "shrink_s": 2.0,
            "scenario": {"config": {"task_routes": {"fuzz.total": {"queue": "reports"}}},
                         "workers": [{"name": "w1", "queues": ["execution"], "concurrency": 1, "pool": "prefork"}],
                         "backend": "redis"},
            "shapes": [{"kind": "chord", "header": [], "body": {"kind": "task", "behaviour": "ok", "value": 0}}],
            "evidence": ["broker: queue 'reports' holds 1 message(s)"], "versions": {"celery": "5.7.0"},
            "hypothesis": "6.155.2", "exact": True, "path": f"findings/{fid}.py", "blob": None}


def run_record(space, base, findings, examples=100):
    return {"kind": "fuzz-run", "space": space, "base": base, "findings": findings,
            "stats": {"examples": examples, "chords": 2 * examples, "elapsed_s": 600.0, "example_s": 500.0,
                      "verdicts": {"completed": 150, "stuck": 50}}}


def test_fuzzing_section_reports_findings_and_clean_spaces():
    recs = [run_record("shapes", "split-queues", ["stuck-callback-queue-unconsumed-abc123"]),
            run_record("shapes", "healthy", [], examples=900),
            record("stuck-callback-queue-unconsumed-abc123", "stuck/callback-queue-unconsumed"),
            {"kind": "something-else"}]
    md = F.fuzzing_section(recs)
    assert md.startswith("## Fuzzing findings")
    assert "known mechanism 1" in md and "chord([], fuzz.total.s(value=0), app=app).apply_async()" in md
    assert "-Q execution" in md and "celery 5.7.0" in md and "replayed 3/3" in md
    assert "**No finding** in: `shapes` on `healthy` (900 examples" in md
    assert "python -m lab replay stuck-callback-queue-unconsumed-abc123" in md


def test_fuzzing_section_reads_a_store_folder(tmp_path):
    F.append_record(run_record("configs", None, []), tmp_path / "fuzz.jsonl")
    md = F.fuzzing_section([tmp_path])
    assert "`configs` on `drawn`" in md


def test_fuzzing_section_without_records_says_how_to_make_some(tmp_path):
    assert "No fuzz runs are stored yet" in F.fuzzing_section([tmp_path])


@pytest.mark.parametrize("text, seconds", [("300", 300), ("300s", 300), ("5m", 300), ("1.5h", 5400)])
def test_budget_parses_seconds_minutes_hours(text, seconds):
    assert parse_budget(text) == seconds


def test_bad_budget_is_one_sentence():
    import click

    with pytest.raises(click.BadParameter, match="not a duration"):
        parse_budget("soon")
