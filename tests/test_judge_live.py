"""The live judge (``lab.judge.live``) over hand-built readings: pure, no process, no network.

A reading is what ``lab.observe.live.read_chord`` reads from a deployment and ``lab doctor --save`` stores.
``reading()`` builds one from the few facts a test states; everything else is what an idle deployment shows.
"""

from __future__ import annotations

import json

from lab.judge.live import Reading, diagnose

HEADER = "proj.tasks.crunch"
CALLBACK = "proj.tasks.summarize"
T = 1_800_000_000.0


def meta(status: str = "SUCCESS", group: str | None = "g1", at: float = T - 5, **more) -> dict:
    from datetime import datetime, timezone

    return {"status": status, "result": more.pop("result", 1), "group_id": group,
            "date_done": datetime.fromtimestamp(at, timezone.utc).isoformat(), **more}


def reading(*, asked: str = "g1", asked_is: str = "group", group: str | None = "g1", callback: str | None = None,
            callback_task: str | None = CALLBACK, header_ids=(), size: int | None = None, keys: dict | None = None,
            metas: dict | None = None, active=(), reserved=(), queues: dict | None = None, consumers=None,
            broker_kind: str = "redis", counts_only: bool = False, routes: dict | None = None, candidates=None,
            **config) -> dict:
    """One reading, as observe.live.read_chord stores it."""
    consumers = consumers if consumers is not None else {"w1@host": ["celery"]}
    ref = {"asked": asked, "group_id": group, "callback_id": callback, "header_ids": list(header_ids),
           "header_task": HEADER, "callback_task": callback_task, "size": size, "asked_is": asked_is, "how": []}
    broker = {"queues": queues or {"celery": {"length": 0, "messages": []}}, "unacked": [], "found": []}
    if counts_only:
        broker["counts_only"] = True
    cid = callback or f"(the callback of group {group})"
    data = {"kind": "doctor-reading", "version": 1, "asked": asked, "hint": "group", "started_at": T - 1, "t": T,
            "broker_kind": broker_kind, "backend_kind": "redis",
            "workers": {"answered": sorted(consumers), "consumers": consumers,
                        "registered": {w: [HEADER, CALLBACK] for w in consumers},
                        "active": {"w1@host": [{"id": i, "name": HEADER, "args": [], "time_start": T - 3} for i in active]},
                        "reserved": {"w1@host": [{"id": i, "name": HEADER, "args": []} for i in reserved]}, "scheduled": {}},
            "broker": broker,
            "config": {"task_ignore_result": False, "ignoring_tasks": [], "chord_expires": [86400.0, "result_expires"],
                       "visibility_timeout": 3600, "routes": routes or {CALLBACK: "celery", HEADER: "celery"},
                       "route_explanations": {}, **config},
            "ref": ref, "keys": keys or {}, "metas": metas or {},
            "backend": {"kind": "redis", "chord_keys": {cid: keys or {}}, "metas": metas or {}, "stats": {"evicted_keys": 0}},
            "logs": {}}
    if candidates is not None:
        data["candidates"] = candidates
    return data


def long_header(**over) -> dict:
    """4 header parts of 20 s on 2 workers' concurrency, task_track_started off: 2 returned, 2 running."""
    base = dict(header_ids=["p1", "p2"], size=4,
                keys={".s": {"type": "string", "value": "4", "pttl_ms": 86_000_000},
                      ".j": {"type": "zset", "pttl_ms": 86_000_000, "members": [[1, "p1", "SUCCESS", 1], [1, "p2", "SUCCESS", 1]]},
                      ".d": {"type": "set", "pttl_ms": 86_000_000, "members": ["p1:0", "p2:1"]}},
                metas={"p1": meta(), "p2": meta()}, active=["p3", "p4"])
    return reading(**{**base, **over})


# -- the headline: weaker evidence says less ---------------------------------------------------------


def test_a_long_header_with_parts_still_running_is_running_not_stuck():
    """Parts that workers hold are in flight whether or not task_track_started is on: never stuck."""
    d = diagnose(long_header())
    assert d.verdict == "running", d
    assert d.cause is None and d.fix is None
    assert "w1@host" in d.summary


def test_running_parts_linked_by_id_are_running_too():
    d = diagnose(long_header(header_ids=["p1", "p2", "p3", "p4"]))
    assert d.verdict == "running", d
    assert "holds part p3 (active, for 3 s)" in d.summary


def test_reserved_parts_are_in_flight():
    d = diagnose(long_header(active=[], reserved=["p3", "p4"]))
    assert d.verdict == "running", d


def test_a_size_that_counts_parts_nothing_names_is_unknown_not_a_counter_mismatch():
    """.s says 4, two parts are named and returned, nothing is held or queued: whether the other two ran,
    failed to report or were lost cannot be told without their ids; say which ids would tell."""
    d = diagnose(long_header(active=[]))
    assert d.verdict in ("unknown", "stuck"), d
    assert d.cause != "chord-counter-mismatch", d
    if d.verdict == "unknown":
        assert any("ids of the 2 other header part(s)" in m for m in d.missing), d.missing


# -- RabbitMQ: counted, not read ---------------------------------------------------------------------


def dispatched_on_rabbitmq(**over) -> dict:
    keys = {".c": {"type": "string", "value": "done", "pttl_ms": 290_000}}
    base = dict(asked="cb1", asked_is="callback", callback="cb1", callback_task=None, header_ids=["p1", "p2"], size=2,
                keys=keys, metas={"p1": meta(), "p2": meta()}, broker_kind="rabbitmq", counts_only=True,
                queues={"celery": {"length": 0, "consumers": 1, "messages": []},
                        "summary": {"length": 1, "consumers": 0, "messages": []}})
    return reading(**{**base, **over})


def test_rabbitmq_dispatched_callback_in_an_unconsumed_queue_is_stuck_by_elimination():
    d = diagnose(dispatched_on_rabbitmq())
    assert (d.verdict, d.cause) == ("stuck", "callback-queue-unconsumed"), d
    assert "'summary'" in d.summary and "not read" in d.summary
    assert d.fix and "-Q summary" in d.fix


def test_rabbitmq_with_the_callback_routed_names_its_queue():
    d = diagnose(dispatched_on_rabbitmq(callback_task=CALLBACK, routes={CALLBACK: "summary"}))
    assert (d.verdict, d.cause) == ("stuck", "callback-queue-unconsumed"), d
    assert "summarize" in d.summary


def test_rabbitmq_with_a_consumer_on_that_queue_is_not_stuck():
    d = diagnose(dispatched_on_rabbitmq(queues={"summary": {"length": 1, "consumers": 1, "messages": []}}))
    assert d.verdict != "stuck", d


def test_rabbitmq_two_unconsumed_queues_and_no_route_is_not_decided():
    d = diagnose(dispatched_on_rabbitmq(queues={"a": {"length": 1, "consumers": 0, "messages": []},
                                                "b": {"length": 2, "consumers": 0, "messages": []}}))
    assert d.cause != "callback-queue-unconsumed" or d.verdict != "stuck", d


# -- an id nothing links: by elimination, or say which ids would ---------------------------------------


def candidate(gid: str, **over) -> dict:
    r = dispatched_on_rabbitmq(asked=gid, asked_is="group", group=gid, callback=None, **over)
    return {k: r[k] for k in ("ref", "keys", "backend", "metas")}


def test_an_unlinked_callback_id_takes_the_answer_every_candidate_gives():
    data = dispatched_on_rabbitmq(asked="cb9", asked_is="unknown", group=None, callback=None, header_ids=[], size=None,
                                  candidates=[candidate("g1")])
    d = diagnose(data)
    assert (d.verdict, d.cause) == ("stuck", "callback-queue-unconsumed"), d
    assert "nothing in this deployment names cb9" in d.summary and "if cb9 is the callback of a chord here" in d.summary
    assert d.ids["candidate_groups"] == ["g1"]


def test_candidates_that_differ_decide_nothing_and_name_the_groups():
    other = candidate("g2", metas={})  # its header has stored nothing yet
    data = dispatched_on_rabbitmq(asked="cb9", asked_is="unknown", group=None, callback=None, header_ids=[],
                                  candidates=[candidate("g1"), other])
    d = diagnose(data)
    assert d.verdict == "unknown", d


def test_no_candidate_is_untraceable():
    d = diagnose(reading(asked="zz", asked_is="unknown", group=None, callback=None))
    assert d.verdict == "unknown" and "nothing in this deployment names zz" in d.summary


# -- a reading is data: stored, loaded, judged again the same --------------------------------------------


def test_a_stored_reading_is_judged_again_the_same():
    for data in (long_header(), dispatched_on_rabbitmq(), long_header(active=[])):
        again = json.loads(json.dumps(data))
        assert diagnose(again) == diagnose(data)


def test_reading_view_reads_only_the_reading():
    r = Reading(long_header())
    assert r.meta("p1")["status"] == "SUCCESS" and r.meta("nope") is None
    assert [h["task_id"] for h in r.held] == ["p3", "p4"]


# -- the chord size key gone: which way it went, and only as far as the evidence goes ------------------


def size_key_gone(uptime: int, worker_backend: str | None = None, **over) -> dict:
    """3 parts returned into .j, .s gone, 20 s after the last write of keys that live a day."""
    r = reading(header_ids=["p1", "p2", "p3"], size=None, result_backend="redis://10.0.0.5:6379/1",
                keys={".j": {"type": "zset", "pttl_ms": 86_380_000,
                             "members": [[1, p, "SUCCESS", i] for i, p in enumerate(("p1", "p2", "p3"))]},
                      ".d": {"type": "set", "pttl_ms": 86_380_000, "members": ["p1:0", "p2:1", "p3:2"]}},
                metas={p: meta() for p in ("p1", "p2", "p3")}, **over)
    r["backend"]["stats"] = {"evicted_keys": 0, "flushes": 0, "uptime_in_seconds": uptime}
    if worker_backend is not None:
        r["workers"]["conf"] = {"w1@host": {"result_backend": worker_backend}}
    return r


def test_a_worker_writing_to_another_backend_is_read_from_its_own_config():
    d = diagnose(size_key_gone(30, worker_backend="redis://10.0.0.5:6379/2"))
    assert (d.verdict, d.cause) == ("stuck", "backend-mismatch"), d
    assert "w1@host stores results in redis://10.0.0.5:6379/2 (inspect conf)" in d.summary


def test_same_backend_and_a_young_server_is_unknown_not_a_guessed_mismatch():
    """Workers write where the app reads, nothing evicted or flushed, Redis younger than the keys' lifetime: a restart
    lost .s, or the producer (whose config doctor cannot read) wrote it elsewhere.  Unknown, leaning to the restart."""
    d = diagnose(size_key_gone(30, worker_backend="redis://:********@10.0.0.5:6379/1"))
    assert (d.verdict, d.cause, d.likely_cause) == ("unknown", None, "backend-data-lost"), d
    assert "every worker writes to the backend the app reads" in d.summary and "started 30 s ago" in d.summary
    assert any("producer's result_backend" in m for m in d.missing), d.missing


def test_a_young_server_and_workers_silent_on_their_backend_is_unknown_naming_the_witness():
    """Restart or mismatch cannot be told apart without the workers' backend: say unknown, and what would decide."""
    d = diagnose(size_key_gone(30))
    assert d.verdict == "unknown" and d.cause is None, d
    assert "restart, or the producer wrote it to another backend" in d.summary
    assert any("result_backend" in m for m in d.missing), d.missing


def test_a_server_older_than_any_chord_key_leaves_only_the_mismatch():
    d = diagnose(size_key_gone(200_000))
    assert (d.verdict, d.cause) == ("stuck", "backend-mismatch"), d


def test_the_size_key_in_another_database_of_the_server_proves_the_mismatch():
    r = size_key_gone(30, worker_backend="redis://10.0.0.5:6379/1")
    r["backend"]["size_key_elsewhere"] = {"key": "celery-taskset-meta-g1.s", "db": 1, "looked": [0, 1, 2],
                                          "found": [{"db": 2, "key": "celery-taskset-meta-g1.s", "value": "3", "pttl_ms": 86_390_000}]}
    d = diagnose(r)
    assert (d.verdict, d.cause) == ("stuck", "backend-mismatch"), d
    assert ".s = 3 is in database 2 of this Redis server, and the parts returned into database 1" in d.summary


def test_the_size_key_under_another_prefix_proves_the_mismatch():
    r = size_key_gone(30, worker_backend="redis://10.0.0.5:6379/1")
    r["backend"]["size_key_elsewhere"] = {"key": "worker:celery-taskset-meta-g1.s", "db": 1, "looked": [1],
                                          "found": [{"db": 1, "key": "celery-taskset-meta-g1.s", "value": "3", "pttl_ms": 1}]}
    d = diagnose(r)
    assert (d.verdict, d.cause) == ("stuck", "backend-mismatch"), d
    assert "different key prefixes" in d.summary


def test_every_key_gone_under_a_short_expiry_names_the_expiry_not_eviction():
    """All chord keys expired (result_expires 3 s), nothing evicted: unknown, and the summary points at the setting."""
    d = diagnose(reading(header_ids=[], chord_expires=[3.0, "result_expires"]))
    assert d.verdict == "unknown", d
    assert "evicted" not in d.summary or "nothing was evicted" in d.summary, d.summary
    assert d.likely_cause == "chord-size-key-missing"
    assert any("result_expires = 3 s" in m for m in d.missing), d.missing


def test_a_callback_waiting_where_the_app_would_not_route_it_says_so_without_contradiction():
    """The callback waits in 'summary' (routed by .set(queue=...) or the worker's own routes); the app given routes
    it to 'celery'.  Doctor says the message waits in 'summary' and that something else routed it there."""
    msg = {"task_id": "cb1", "name": CALLBACK, "where": "queue summary"}
    r = reading(callback="cb1", asked="cb1", asked_is="callback", header_ids=["p1", "p2"], size=2,
                keys={".c": {"type": "string", "value": "done", "pttl_ms": 80_000}},
                metas={"p1": meta(), "p2": meta()},
                queues={"celery": {"length": 0, "messages": []}, "summary": {"length": 1, "messages": [msg]}},
                route_explanations={CALLBACK: f"there are no task_routes, so {CALLBACK!r} goes to the default queue 'celery'"})
    r["broker"]["found"] = [msg]
    d = diagnose(r)
    assert (d.verdict, d.cause) == ("stuck", "callback-queue-unconsumed"), d
    route = [e for e in d.evidence if e.startswith("route:")]
    assert route and "but its message waits in 'summary'" in route[0], d.evidence
    assert "summary" in (d.fix or ""), d.fix
