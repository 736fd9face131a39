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


# -- the flight recorder's history: proofs that outlive the chord keys ------------------------------------------------

DB1 = {"scheme": "redis", "host": "10.0.0.5", "port": 6379, "db": 1, "keyprefix": None}


def history(parts=("p1", "p2", "p3"), *, producer=DB1, workers=DB1, extra=(), records=None,
            expires=(86400.0, "result_expires")) -> dict:
    """The recorder's events of chord cb1 (group g1): the producer sent the header at T - 20 with its backend, each
    part ended SUCCESS on w1 a second later with the worker's backend (and ``records``, what that recorder records
    beyond the ledger: none for a recorder older than chord errors); ``extra`` events appended."""
    events = []
    more = {"records": list(records)} if records is not None else {}
    for i, p in enumerate(parts):
        events.append({"event": "publish", "t": T - 20 + i * 0.01, "task_id": p, "name": HEADER, "group_id": "g1",
                       "group_index": i, "chord_callback": "cb1", "by": "producer@host", "queue": "celery",
                       "chord_expires": list(expires), **({"backend": producer} if producer else {}), **more})
        events.append({"event": "start", "t": T - 19.9, "task_id": p, "pid": 100 + i, "worker": "w1@host",
                       "group_id": "g1", "chord_callback": "cb1"})
        events.append({"event": "end", "t": T - 19 + i * 0.01, "task_id": p, "pid": 100 + i, "state": "SUCCESS",
                       "worker": "w1@host", "group_id": "g1", "chord_callback": "cb1",
                       **({"backend": workers} if workers else {}), **more})
    events += list(extra)
    return {"events": sorted(events, key=lambda e: e["t"]), "dropped": 0, "oldest_t": T - 20, "store": "redis://rec/3"}


def recorded(keys: dict | None = None, metas: dict | None = None, uptime: int = 100_000, flushes: int = 0,
             **rec) -> dict:
    """Chord cb1 asked by its callback id, with its recorded history; the chord keys and metas as given (none: every
    key and result expired)."""
    r = reading(asked="cb1", asked_is="callback", callback="cb1", header_ids=["p1", "p2", "p3"], size=3, keys=keys,
                metas=metas, result_backend="redis://10.0.0.5:6379/1", backend_identity=DB1)
    r["recorded"] = history(**rec)
    r["backend"]["stats"] = {"evicted_keys": 0, "flushes": flushes, "uptime_in_seconds": uptime,
                             "maxmemory": 4194304, "maxmemory_policy": "noeviction"}
    return r


def refused(p: str, t: float, where=("mark_as_done", "store_result")) -> dict:
    return {"event": "internal_error", "t": t, "task_id": p, "name": HEADER, "group_id": "g1", "chord_callback": "cb1",
            "worker": "w1@host", "in": list(where),
            "error": "OutOfMemoryError: command not allowed when used memory > 'maxmemory'."}


OPEN = {".s": {"type": "string", "value": "3", "pttl_ms": 86_380_000},
        ".j": {"type": "zset", "pttl_ms": 86_380_000, "card": 1, "members": [[1, "p1", "SUCCESS", 1]]}}


def test_a_return_the_backend_refused_is_part_return_error_while_the_keys_live_and_after_they_expired():
    """p2 and p3 ended SUCCESS, then storing their results raised OOM (recorded internal_error in mark_as_done) and
    no failure of them was taken after: they were never counted.  .j holds 1 of 3 while the keys live (the checker
    reads a counter mismatch; the recorded errors say why), and once every key expired the history alone proves it."""
    extra = [refused("p2", T - 18.9), refused("p3", T - 18.8, ("mark_as_done", "on_chord_part_return"))]
    for keys in (OPEN, None):
        d = diagnose(recorded(keys=keys, metas={"p1": meta()} if keys else None, extra=extra))
        assert (d.verdict, d.cause, d.rule) == ("stuck", "part-return-error", "doctor"), d
        assert "2 of 3 part return(s) raised OutOfMemoryError" in d.summary, d.summary
        text = "\n".join(d.evidence)
        assert "recorder: part p2 ended SUCCESS" in text and "in mark_as_done > store_result" in text, text
        assert "mark_as_done > on_chord_part_return" in text and "no worker published the callback" in text, text
        assert ("1 against .s = 3" in d.summary) if keys else ("every chord key has expired since" in d.summary)


def test_a_refused_return_whose_failure_was_then_stored_proves_nothing_once_the_keys_expired():
    """The failure of p2 was taken after its refused return (task_failure: stored and counted as FAILURE): the chord
    may have failed with a ChordError since expired.  Not stuck: unknown."""
    extra = [refused("p2", T - 18.9), {"event": "failure", "t": T - 18.85, "task_id": "p2", "worker": "w1@host",
                                       "error": "OutOfMemoryError: ..."}]
    d = diagnose(recorded(extra=extra))
    assert d.verdict == "unknown" and d.cause is None, d


def test_a_timeout_in_a_part_return_proves_no_uncounted_part_after_expiry():
    """A TimeoutError may come after the write landed: with the keys gone it proves nothing."""
    extra = [{**refused("p2", T - 18.9), "error": "TimeoutError: Timeout reading from socket"}]
    d = diagnose(recorded(extra=extra))
    assert d.verdict == "unknown" and d.cause is None, d


def test_the_counter_mismatch_with_recorded_return_errors_is_part_return_error_not_a_contradiction():
    """The live count is short and the recorder saw the returns raise in the backend: part-return-error, as the lab
    proves it from the workers' logs; never chord-counter-mismatch."""
    extra = [{**refused("p2", T - 18.9), "error": "TimeoutError: Timeout reading from socket"},
             {**refused("p3", T - 18.8), "error": "TimeoutError: Timeout reading from socket"}]
    d = diagnose(recorded(keys=OPEN, metas={"p1": meta()}, extra=extra))
    assert (d.verdict, d.cause) == ("stuck", "part-return-error"), d
    assert any("whether the write landed cannot be told" in e for e in d.evidence), d.evidence


def test_the_recorded_backends_prove_the_mismatch_after_every_key_expired():
    """The producer recorded db 1 on the header's publish, the worker db 2 on each part's end: stuck, backend-mismatch,
    with no key left to read; a key prefix of the workers' alone proves it too."""
    for theirs, how in (({**DB1, "db": 2}, "another database"), ({**DB1, "keyprefix": "worker:"}, "another key prefix")):
        d = diagnose(recorded(workers=theirs))
        assert (d.verdict, d.cause, d.rule) == ("stuck", "backend-mismatch", "doctor"), d
        assert how in d.summary and "3 of 3 header part(s) returned into" in d.summary, d.summary
        text = "\n".join(d.evidence)
        assert "recorder: producer@host sent the header" in text and "redis://10.0.0.5:6379/1: Celery sets .s there" in text
        assert "recorder: part p1 ended SUCCESS on w1@host" in text and "password" not in text


def test_another_host_name_alone_proves_no_mismatch():
    """redis://localhost and redis://127.0.0.1 may be one server: another host or port is no proof."""
    d = diagnose(recorded(workers={**DB1, "host": "redis.internal"}))
    assert d.cause != "backend-mismatch" and d.verdict != "stuck", d


def test_a_restart_after_the_header_was_sent_is_proven_when_the_recorder_shows_one_backend():
    """.s gone, .j holding all 3, nothing evicted or flushed, Redis started 19 s ago (after the header was sent at
    T - 20, before the parts returned at T - 19), and the recorder shows producer and workers on the backend read
    here: lost in the restart."""
    keys = {".j": {"type": "zset", "pttl_ms": 86_381_000, "members": [[1, p, "SUCCESS", 1] for p in ("p1", "p2", "p3")]},
            ".d": {"type": "set", "pttl_ms": 86_381_000, "members": ["p1:0", "p2:1", "p3:2"]}}
    metas = {p: meta(at=T - 19) for p in ("p1", "p2", "p3")}
    d = diagnose(recorded(keys=keys, metas=metas, uptime=19))
    assert (d.verdict, d.cause) == ("stuck", "backend-data-lost"), d
    assert "lost in that restart" in d.summary and "started 19 s ago" in d.summary, d.summary
    assert any(e.startswith("recorder: producer@host sent the header") for e in d.evidence), d.evidence
    assert any(e.startswith("backend (INFO): uptime_in_seconds 19") for e in d.evidence), d.evidence
    # Redis floors its start to the second: a start just after T - 20 can read as uptime 21 (the CI failure of stop 24)
    d = diagnose(recorded(keys=keys, metas=metas, uptime=21))
    assert (d.verdict, d.cause) == ("stuck", "backend-data-lost"), d
    assert "within a second of the producer set .s" in d.summary, d.summary
    # a server up since before the header was sent: the restart cannot be it, and nothing says what was
    d = diagnose(recorded(keys=keys, metas=metas, uptime=60))
    assert d.verdict == "unknown" and d.cause is None, d
    assert "since before the producer set .s" in d.summary, d.summary


def test_a_flush_or_a_restart_after_every_key_expired_leans_to_data_loss_and_says_why_it_cannot_tell():
    """With every key and result gone, a loss before the last return cannot be told from a failed dispatch whose
    ChordError went with the rest: unknown, likely backend-data-lost, and what would decide."""
    for over in ({"flushes": 1}, {"uptime": 15}):
        d = diagnose(recorded(**over))
        assert (d.verdict, d.cause, d.likely_cause) == ("unknown", None, "backend-data-lost"), (over, d)
        assert "cannot be told" in d.summary and "dispatch that failed" in d.summary, d.summary
        assert any("--log" in m for m in d.missing), d.missing


CHORD_ERRORS = ("chord_error",)


def test_a_flush_or_a_restart_after_every_key_expired_is_proven_where_the_recorder_records_chord_errors():
    """The same history, written by a recorder that records chord errors (each part's end says so): a completed count
    always ends in a recorded publish or chord error, and neither was recorded, so the count never completed; .s lives
    a day and nothing was evicted: stuck, backend-data-lost, with why the dispatch cannot have failed."""
    for over, how in (({"flushes": 1}, "FLUSHDB/FLUSHALL 1 time(s)"), ({"uptime": 19}, "this Redis started 19 s ago")):
        d = diagnose(recorded(records=CHORD_ERRORS, **over))
        assert (d.verdict, d.cause, d.rule) == ("stuck", "backend-data-lost", "doctor"), (over, d)
        assert how in d.summary and "the count never completed" in d.summary, d.summary
        assert "every chord key and result has expired since" in d.summary, d.summary
        text = "\n".join(d.evidence)
        assert "records chord errors" in text and "none was recorded for callback cb1 or group g1" in text, text
        assert "so no dispatch was tried, and none failed" in text, text
        assert "within .s's lifetime (86400 s, result_expires)" in text, text
        assert "recorder: producer@host sent the header" in text, text
    # Redis started between T - 20 and T - 18 (to the second), the parts ended at T - 19: it may be a second late
    d = diagnose(recorded(records=CHORD_ERRORS, uptime=19))
    assert "and before (or within a second of) the last part's return at" in d.summary, d.summary


def test_a_recorded_chord_error_or_a_recorder_that_could_miss_one_keeps_cannot_tell():
    """What keeps "cannot tell" after every key expired: a chord error recorded (the dispatch failed: the callback
    held a ChordError, expired since), a recorder that records none (an older version: doctor says which would
    decide), dropped events, a history that starts after the header was sent, a restart after the last return, a
    part whose return raised, a part's backend not proven the one read here.  A lifetime of .s the header outlasted
    is expiry, not a loss."""
    error = {"event": "chord_error", "t": T - 18.9, "task_id": "cb1", "name": CALLBACK, "group_id": "g1",
             "by_task": "p3", "worker": "w1@host", "error": "ChordError: Callback error: ConnectionError()"}
    d = diagnose(recorded(records=CHORD_ERRORS, flushes=1, extra=[error]))
    assert (d.verdict, d.likely_cause) == ("unknown", "backend-data-lost"), d
    d = diagnose(recorded(flushes=1))  # the recorder of these parts records no chord errors
    assert (d.verdict, d.likely_cause) == ("unknown", "backend-data-lost"), d
    assert any("records no" not in m and "records chord errors" in m for m in d.missing), d.missing
    dropped = recorded(records=CHORD_ERRORS, flushes=1)
    dropped["recorded"]["dropped"] = 4
    late = recorded(records=CHORD_ERRORS, flushes=1)
    late["recorded"]["oldest_t"] = T - 19.5
    for r in (dropped, late):  # no history to prove an absence (the checker may still read the live state)
        assert diagnose(r).cause != "backend-data-lost", diagnose(r)
    d = diagnose(recorded(records=CHORD_ERRORS, flushes=1, expires=(0.5, "result_chord_expires")))
    assert (d.verdict, d.cause) == ("stuck", "chord-size-key-missing"), d  # it lapsed: the recorded lifetime says so
    for r in (recorded(records=CHORD_ERRORS, uptime=10),
              recorded(records=CHORD_ERRORS, flushes=1, extra=[{**refused("p2", T - 18.9), "error": "TimeoutError: x"}]),
              recorded(records=CHORD_ERRORS, flushes=1, workers={**DB1, "host": "redis.internal"})):
        d = diagnose(r)
        assert d.verdict != "stuck", d


def test_backend_identity_names_the_store_never_its_credentials():
    from celery import Celery

    from lab.observe.recorder import backend_identity

    app = Celery("t", backend="redis://user:s3cret@Cache.Example:6380/4", set_as_current=False)
    app.conf.result_backend_transport_options = {"global_keyprefix": "w:"}
    assert backend_identity(app) == {"scheme": "redis", "host": "cache.example", "port": 6380, "db": 4, "keyprefix": "w:"}
    assert backend_identity(Celery("t", backend="redis://h", set_as_current=False))["db"] == 0
    assert "s3cret" not in json.dumps(backend_identity(app))


def test_a_history_that_cannot_stand_as_a_ledger_proves_no_part_missing_once_every_key_expired():
    """Every chord key and result is gone, and the recorder dropped events (or its history starts after the header
    was sent): its ids still name the parts, but a part with no result, in no queue and held by no worker may have run
    and expired with the rest.  Not stuck · header-part-missing: unknown, saying why.  A complete history with no start
    of p3 still proves it never ran."""
    never_ran = recorded()
    never_ran["recorded"]["events"] = [e for e in never_ran["recorded"]["events"]
                                       if e["task_id"] != "p3" or e["event"] == "publish"]
    d = diagnose(never_ran)
    assert (d.verdict, d.cause) == ("stuck", "header-part-missing"), d
    dropped, late, both = recorded(), recorded(), json.loads(json.dumps(never_ran))
    dropped["recorded"]["dropped"] = 4
    late["recorded"]["oldest_t"] = T - 19.5  # after the header's recorded publish at T - 20
    both["recorded"]["dropped"] = 1
    for r, why in ((dropped, "dropped 4 event(s)"), (late, "starts after"), (both, "dropped 1 event(s)")):
        d = diagnose(r)
        assert (d.verdict, d.cause) == ("unknown", None), d
        assert "may have run" in d.summary and why in d.summary, d.summary
        assert any("recorder" in m for m in d.missing), d.missing


# -- a join that never returns: the saved header's nesting and the recorded returns --------------------------------

NESTED = [{"id": "ng", "group": True, "members": ["p1", "p2"]}, {"id": "p3"}]  # [chain(p0, group(p1, p2)), p3]


def join_hanging(hung: str = "p2", unstored: str = "p2", returned_ago: float = 19.5, header=NESTED,
                 metas: dict | None = None) -> dict:
    """Chord cb1 with header [chain(p0, group(p1, p2)), p3]: the count is complete (.j holds 3 of .s = 3), ``unstored``
    returned without storing its result (its recorded return and end say stored false, and it has no meta), and
    ``hung`` returned ``returned_ago`` s ago (recorded) and is still active with no end: the joiner."""
    keys = {".s": {"type": "string", "value": "3", "pttl_ms": 86_380_000},
            ".j": {"type": "zset", "pttl_ms": 86_380_000, "members": [[1, p, "SUCCESS", 1] for p in ("p1", "p2", "p3")]},
            ".d": {"type": "set", "pttl_ms": 86_380_000, "members": ["p1:0", "p2:1", "p3:2"]}}
    if header is not None:
        keys["meta"] = {"type": "string", "pttl_ms": 86_380_000, "value": None, "header": header}
    r = reading(asked="cb1", asked_is="callback", callback="cb1", header_ids=["p1", "p2", "p3"], size=3, keys=keys,
                metas=metas if metas is not None else {p: meta(at=T - 19) for p in ("p1", "p2", "p3") if p != unstored},
                active=[hung], result_backend="redis://10.0.0.5:6379/1", backend_identity=DB1)
    rec = history(records=("chord_error", "return"))
    events = []
    for e in rec["events"]:
        if e["event"] == "end" and e["task_id"] == hung:
            continue  # blocked in its return: no end
        if e["event"] == "end":
            e = {**e, "stored": e["task_id"] != unstored}
            events.append({**e, "event": "return", "t": e["t"] - 0.001})
        events.append(e)
    events.append({"event": "return", "t": T - returned_ago, "task_id": hung, "name": HEADER, "group_id": "g1",
                   "chord_callback": "cb1", "worker": "w1@host", "stored": hung != unstored})
    r["recorded"] = {**rec, "events": sorted(events, key=lambda e: e["t"])}
    return r


def test_a_part_blocked_joining_a_nested_member_that_stored_no_result_is_join_hang():
    """The count is complete, p2 returned 19.5 s ago and is still active, and the saved header's nested group holds
    p2, whose recorded return stored no result and which has no meta: Celery joins a nested member with .get() and no
    timeout, so the join can never return.  Stuck · join-hang, whether the joiner waits for its own result or for a
    sibling's."""
    for hung, unstored in (("p2", "p2"), ("p3", "p2")):
        d = diagnose(join_hanging(hung, unstored))
        assert (d.verdict, d.cause, d.rule) == ("stuck", "join-hang", "doctor"), d
        assert f"header part {hung} returned 20 s ago" in d.summary and f"holds member {unstored}" in d.summary, d.summary
        assert "no timeout" in d.summary and "can never return" in d.summary, d.summary
        text = "\n".join(d.evidence)
        assert f"recorder: part {hung} returned at" in text and "nested group ng (members p1, p2)" in text, text
        assert f"nested member {unstored}" in text and "stored false" in text, text
        assert d.fix, d


def test_a_join_hang_is_not_proven_where_a_piece_is_missing():
    """Running, as before, when: the part returned less than HANG_AFTER_S ago; no saved header (its nesting unknown);
    the member stored its result (its meta may yet come, or went another way); a top-level member has no result (the
    join times out: a join error, not a hang); a recorder that records no returns; a history that dropped events."""
    old = join_hanging()
    old["recorded"]["events"] = [{k: v for k, v in e.items() if k != "stored"} for e in old["recorded"]["events"]
                                 if e["event"] != "return"]
    dropped = join_hanging()
    dropped["recorded"]["dropped"] = 2
    stored = join_hanging()
    stored["recorded"]["events"] = [{**e, "stored": True} if "stored" in e else e for e in stored["recorded"]["events"]]
    for r in (join_hanging(returned_ago=2.0), join_hanging(header=None), stored,
              join_hanging(header=[{"id": "ng", "group": True, "members": ["p1", "p2"]}, {"id": "p3"}],
                           metas={"p1": meta()}), old, dropped):
        d = diagnose(r)
        assert d.verdict == "running" and d.cause is None, d
