"""The checker on hand-built observations: no processes, just the rules of proof.

Each test builds the observations a run would store and checks the verdict,
the cause and the evidence the checker derives from them.
"""

from __future__ import annotations

import copy
from functools import partial

from builders import CALLBACK_TASK, T0, W1, callback_published, callback_ran, chord, observations, parts_ran

from lab.judge import judge, route_explanation, summarize

# This file's world, the origin case: the parts go to 'execution', task_routes sends the callback to
# 'reports', and w1 consumes 'execution' only.
ROUTED = {"name": "t", "expect": "stuck", "config": {"task_routes": {CALLBACK_TASK: {"queue": "reports"}}}}
obs = partial(observations, scenario=ROUTED, chords=[chord(header_queue="execution", callback_queue="reports")],
              consumers={W1: ["execution"]})
published_cb = partial(callback_published, queue="reports")


def test_callback_in_unconsumed_queue_is_stuck_with_proof():
    """Mechanism 1: the callback's message sits in 'reports' and no worker consumes it -> stuck, with the queue, the consumers and the route as evidence."""
    o = obs(parts_ran() + [published_cb()],
            queues={"reports": {"length": 1, "messages": [{"task_id": "cb-1", "name": "lab.collect"}]}})
    (v,) = judge(o)
    assert (v.verdict, v.cause, v.final) == ("stuck", "callback-queue-unconsumed", True)
    text = "\n".join(v.evidence)
    assert "queue 'reports' holds 1 message" in text
    assert "w1 consumes execution; none consumes 'reports'" in text
    assert "task_routes entry 'lab.collect'" in text
    assert "PENDING" in text


def test_callback_in_consumed_queue_is_not_yet_decided():
    """A callback waiting in a queue that a worker consumes is in flight, not stuck: the verdict is not final."""
    o = obs(parts_ran() + [published_cb()], consumers={W1: ["execution", "reports"]},
            queues={"reports": {"length": 1, "messages": [{"task_id": "cb-1"}]}})
    (v,) = judge(o)
    assert v.verdict == "unknown" and not v.final


def test_no_worker_answer_means_unknown_not_stuck():
    """Without an answer from the workers the checker cannot prove nobody consumes the queue: unknown, never a guess."""
    o = obs(parts_ran() + [published_cb()], queues={"reports": {"length": 1, "messages": [{"task_id": "cb-1"}]}})
    o["probe"]["workers"] = {"consumers": {}, "registered": {}, "error": "ConnectionError: gone"}
    (v,) = judge(o)
    assert v.verdict == "unknown"


def test_completed_needs_one_run_right_results_and_success_meta():
    """Completed: the callback ran once with exactly the oracle's results, and its meta says SUCCESS."""
    o = obs(parts_ran() + [published_cb()] + callback_ran(), metas={"cb-1": {"status": "SUCCESS", "result": [5, 6, 7]}})
    (v,) = judge(o)
    assert v.verdict == "completed"


def test_callback_twice_is_duplicated():
    """Duplicated: two executions of the callback's id in the ledger."""
    o = obs(parts_ran() + callback_ran(n=2), metas={"cb-1": {"status": "SUCCESS"}})
    (v,) = judge(o)
    assert v.verdict == "duplicated" and len(v.evidence) == 2


def test_callback_with_a_missing_part_is_early():
    """Early: the callback ran with one result missing; the evidence names what is missing."""
    o = obs(parts_ran() + callback_ran(args=[5, 6]), metas={"cb-1": {"status": "SUCCESS"}})
    (v,) = judge(o)
    assert v.verdict == "early"
    assert "missing [7]" in " ".join(v.evidence)


def test_ran_but_no_meta_is_unrecorded():
    """Unrecorded: the ledger shows the callback succeeded, yet the backend has no meta (PENDING to anyone watching)."""
    o = obs(parts_ran() + callback_ran())
    (v,) = judge(o)
    assert v.verdict == "unrecorded"


def test_failure_meta_is_failed_with_the_error():
    """Failed: the chord machinery stored ChordError on the callback without running it."""
    meta = {"status": "FAILURE", "result": {"exc_type": "ChordError", "exc_message": ["Callback error: TypeError('x')"]}}
    o = obs(parts_ran(), metas={"cb-1": meta})
    (v,) = judge(o)
    assert (v.verdict, v.cause) == ("failed", "callback-publish-error")
    assert "ChordError: Callback error" in v.summary


def test_unregistered_callback_with_failure_meta_is_failed_not_stuck():
    """Celery 5.7 stores NotRegistered for a discarded callback: failed, with the discard as evidence."""
    meta = {"status": "FAILURE", "result": {"exc_type": "NotRegistered", "exc_message": ["lab.collect"]}}
    ev = parts_ran() + [published_cb(), {"event": "unregistered", "t": T0 + 2.2, "task_id": "cb-1", "name": "lab.collect", "worker": "stale@run"}]
    o = obs(ev, metas={"cb-1": meta}, consumers={W1: ["execution"], "stale@run": ["reports"]},
            registered={W1: ["lab.collect", "lab.part"], "stale@run": ["lab.part"]})
    (v,) = judge(o)
    assert (v.verdict, v.cause) == ("failed", "callback-unregistered")
    assert any("stale lacks 'lab.collect'" in e for e in v.evidence)


def test_unregistered_callback_without_meta_is_stuck():
    """Where no FAILURE was stored, a discarded callback can never run: stuck, callback-unregistered."""
    ev = parts_ran() + [published_cb(), {"event": "unregistered", "t": T0 + 2.2, "task_id": "cb-1", "name": "lab.collect", "worker": "stale@run"}]
    (v,) = judge(obs(ev, consumers={"stale@run": ["reports"]}))
    assert (v.verdict, v.cause) == ("stuck", "callback-unregistered")


def test_size_key_expired_before_parts_returned():
    """Mechanism 4: .s expired (TTL read after sending) before the parts returned; .j holds them; nothing published."""
    keys = {"cb-1": {".s": {"type": "none"}, ".j": {"type": "zset", "card": 3, "pttl_ms": 900}}}
    o = obs(parts_ran(t=T0 + 4, took=0.005), chord_keys=keys, size_ttls=[{"chord_id": "cb-1", "pttl_ms": 1000, "t": T0 + 1.0}])
    (v,) = judge(o)
    assert (v.verdict, v.cause) == ("stuck", "chord-size-key-missing")
    assert v.summary.startswith("the chord size key expired 2.0 s before the first header part returned")


def test_all_keys_gone_and_nothing_published_is_unknown():
    """Every chord key gone and no callback: the checker cannot tell expiry from eviction or a flush without more evidence."""
    keys = {"cb-1": {".s": {"type": "none"}, ".j": {"type": "none"}}}
    (v,) = judge(obs(parts_ran(), chord_keys=keys))
    assert v.verdict == "unknown"


def test_header_waiting_in_unconsumed_queue():
    """A header part that no worker consumes leaves the chord stuck before any part returns."""
    o = obs(parts_ran(ids=("p1", "p2"), values=(5, 6)), consumers={W1: ["celery"]},
            queues={"execution": {"length": 1, "messages": [{"task_id": "p3"}]}})
    (v,) = judge(o)
    assert (v.verdict, v.cause) == ("stuck", "header-queue-unconsumed")


def test_route_explanation_names_the_glob():
    """The origin case: the glob that captures the callback's default name is named in words."""
    sc = {"config": {"task_routes": {"pkg.tasks.execution.*": {"queue": "execution"}}}}
    assert "'pkg.tasks.execution.*' matches" in route_explanation(sc, "pkg.tasks.execution.results.collect_results", "execution")
    assert "no task_routes entry matches" in route_explanation(sc, "pkg.tasks.execute_single_test", "celery")


def test_summarize_expectations():
    """Failure modes are reproduced by one chord showing them; 'completed' needs every chord to complete."""
    stuck = judge(obs(parts_ran() + [published_cb()], queues={"reports": {"length": 1, "messages": [{"task_id": "cb-1"}]}}))
    done = judge(obs(parts_ran() + callback_ran(), metas={"cb-1": {"status": "SUCCESS"}}))
    s = summarize({"expect": "stuck", "expect_cause": "callback-queue-unconsumed"}, stuck + done)
    assert s["status"] == "matched" and s["reproduced"] and s["outcomes"] == {"stuck": 1, "completed": 1}
    assert summarize({"expect": "completed"}, stuck + done)["status"] == "mismatched"
    assert summarize({"expect": "stuck", "expect_cause": "chord-size-key-missing"}, stuck)["status"] == "mismatched"


def test_judging_is_pure_and_repeatable():
    """Judging the same stored observations twice gives the same verdicts, and does not change them."""
    o = obs(parts_ran() + [published_cb()], queues={"reports": {"length": 1, "messages": [{"task_id": "cb-1"}]}})
    before = copy.deepcopy(o)
    assert [v.to_dict() for v in judge(o)] == [v.to_dict() for v in judge(o)]
    assert o == before


def test_a_meta_watched_with_a_ttl_then_gone_is_result_expired():
    """read_after: the callback's meta was seen counting down, then gone at the held read: result-expired,
    with the TTL history and result_expires in the proof."""
    o = obs(parts_ran() + callback_ran(), scenario={"config": {"result_expires": 2}, "workers": [{"name": "w1"}]})
    o["meta_ttls"] = [{"task_id": "cb-1", "pttl_ms": 1900, "t": 1004.0}, {"task_id": "cb-1", "pttl_ms": 300, "t": 1005.6},
                      {"task_id": "cb-1", "pttl_ms": -2, "t": 1006.1}]
    (v,) = judge(o)
    assert (v.verdict, v.cause) == ("unrecorded", "result-expired")
    text = " ".join(v.evidence)
    assert "callback meta TTL 1900 ms" in text and "300 ms" in text and "gone" in text and "result_expires=2" in text


def test_without_a_watched_ttl_a_short_expiry_is_said_but_no_cause_is_claimed():
    """No TTL was watched: the config says a stored result would have expired, but storing is not proven."""
    o = obs(parts_ran() + callback_ran(), scenario={"config": {"result_expires": 1}, "workers": [{"name": "w1"}]})
    (v,) = judge(o)
    assert v.verdict == "unrecorded" and v.cause is None
    assert any("result_expires=1" in e and "would have expired" in e for e in v.evidence)


def test_the_route_line_is_the_publishing_workers_reading_with_its_source():
    """Route readings (observe.routes): the callback was published by w1, whose own config routes it with a regex;
    the proof quotes that reading and names its source, and says where another publisher would have sent it."""
    o = obs(parts_ran() + [published_cb(by=W1)],
            queues={"reports": {"length": 1, "messages": [{"task_id": "cb-1", "name": "lab.collect"}]}})
    o["routes"] = [
        {"role": "callback", "task": CALLBACK_TASK, "by": W1, "queue": "reports", "source": "worker",
         "why": "task_routes entry re.compile('.*collect') matches 'lab.collect' and sends it to queue 'reports'"},
        {"role": "callback", "task": CALLBACK_TASK, "by": "w2@run-abc", "queue": "celery", "source": "worker",
         "why": "no task_routes entry matches 'lab.collect', so it goes to the default queue 'celery'"},
    ]
    (v,) = judge(o)
    assert v.cause == "callback-queue-unconsumed"
    route = [e for e in v.evidence if e.startswith("route")]
    assert route[0].startswith("route (the config of worker w1, which published it): task_routes entry re.compile(")
    assert "w2 → 'celery'" in route[1]


def test_each_part_return_re_expires_the_size_key_so_only_a_longer_gap_lets_it_lapse():
    from lab.judge import size_key_lapse

    ttl = {"t": 100.0, "pttl_ms": 1000}
    ends = [{"task_id": f"p{i}", "t": 100.0 + 0.8 * (i + 1)} for i in range(3)]  # every 0.8 s: each return in time
    assert size_key_lapse(ttl, ends) is None
    late = ends + [{"task_id": "p3", "t": ends[-1]["t"] + 1.5}]  # 1.5 s after the last return: .s lapsed in that gap
    got = size_key_lapse(ttl, late)
    assert got["part"]["task_id"] == "p3" and abs(got["expired_at"] - (ends[-1]["t"] + 1.0)) < 1e-9
    # a returning worker's own chord lifetime (recorded on its end event) decides the next gap
    longer = ends + [{"task_id": "p3", "t": ends[-1]["t"] + 1.5}]
    longer[2] = {**longer[2], "chord_expires": [5, "result_chord_expires"]}
    assert size_key_lapse(ttl, longer) is None
