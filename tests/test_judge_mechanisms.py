"""The checker on hand-built observations of the mechanisms beyond the foundation.

No processes: each test builds what a run would store (ledger, probe,
timeline) for one mechanism of shared/notes/mechanisms.md and checks the
verdict, the cause and the evidence the checker derives.  The integration
tests in test_mechanisms.py prove the same causes on real runs.
"""

from __future__ import annotations

from builders import PARTS, T0, VALUES, W1, chord, end, keys, parts_ran, publish, start
from builders import observations as obs

from lab.judge import CAUSES, judge, summarize


def text(v) -> str:
    return "\n".join(v.evidence)


def test_every_new_cause_is_described():
    """Each cause the checker can name has a one-line description (printed under the verdict and in RESULTS.md)."""
    for cause in ("chord-key-evicted", "backend-data-lost", "backend-mismatch", "join-hang", "chord-refused",
                  "result-ignored", "message-redelivered", "header-part-lost", "chord-unlock-retrying"):
        assert CAUSES[cause]


# -- mechanism 5: eviction, flush, restart ---------------------------------


def test_size_key_evicted_under_maxmemory_is_named_eviction():
    """Mechanism 5: .s is gone long before its TTL, .j exists, Redis counts evictions: stuck, chord-key-evicted."""
    o = obs(parts_ran(), chord_keys=keys(s=None, j=3),
            stats={"evicted_keys": 129, "maxmemory": 4194304, "maxmemory_policy": "allkeys-lru"},
            size_ttls=[{"chord_id": "cb-1", "pttl_ms": 86_400_000, "t": T0 + 1}],
            timeline=[{"t": T0 + 1.5, "kind": "fault", "fault": "fill-redis", "what": "filled db 1 with 150 x 65536 B keys"}])
    (v,) = judge(o)
    assert (v.verdict, v.cause) == ("stuck", "chord-key-evicted")
    assert "evicted_keys = 129, maxmemory-policy allkeys-lru" in text(v)
    assert "nemesis: filled db 1" in text(v)
    assert "would have expired" in text(v)


def test_size_key_expired_by_its_ttl_stays_chord_size_key_missing():
    """Mechanism 4 is not mistaken for eviction: when .s's TTL ran out before the parts returned, the cause stays chord-size-key-missing."""
    o = obs(parts_ran(t=T0 + 5), chord_keys=keys(s=None, j=3), stats={"evicted_keys": 2},
            size_ttls=[{"chord_id": "cb-1", "pttl_ms": 1000, "t": T0 + 1}])
    (v,) = judge(o)
    assert (v.verdict, v.cause) == ("stuck", "chord-size-key-missing")


def test_flushdb_of_the_backend_before_the_parts_returned_is_data_lost():
    """Mechanism 5: a FLUSHDB of the backend's database between send and the part returns: stuck, backend-data-lost."""
    o = obs(parts_ran(), chord_keys=keys(s=None, j=3),
            timeline=[{"t": T0 + 1.5, "kind": "fault", "fault": "flushdb", "db": 1, "what": "FLUSHDB on db 1 (4 keys)"}])
    (v,) = judge(o)
    assert (v.verdict, v.cause) == ("stuck", "backend-data-lost")
    assert text(v).startswith("nemesis: FLUSHDB on db 1")


def test_flushdb_of_another_database_proves_nothing():
    """A FLUSHDB of a database the backend does not use is not taken as the cause."""
    o = obs(parts_ran(), chord_keys=keys(s=None, j=3),
            timeline=[{"t": T0 + 1.5, "kind": "fault", "fault": "flushdb", "db": 5, "what": "FLUSHDB on db 5"}])
    (v,) = judge(o)
    assert v.cause != "backend-data-lost"


def test_restart_without_persistence_is_data_lost_and_with_persistence_is_not():
    """Mechanism 5: a restart without persistence before the part returns explains a missing .s; one with persistence does not."""
    lost = [{"t": T0 + 1.5, "kind": "fault", "fault": "restart-redis", "persist": False, "what": "restarted redis-server without persistence"}]
    (v,) = judge(obs(parts_ran(), chord_keys=keys(s=None, j=3), timeline=lost))
    assert (v.verdict, v.cause) == ("stuck", "backend-data-lost")
    kept = [{**lost[0], "persist": True, "what": "restarted redis-server with persistence"}]
    (v,) = judge(obs(parts_ran(), chord_keys=keys(s=None, j=3), timeline=kept))
    assert v.cause != "backend-data-lost"


# -- mechanism 7: a worker killed mid-header --------------------------------


def test_part_that_died_with_its_killed_worker_is_lost_even_after_a_restart():
    """Mechanism 7: the part started in pid 101, the nemesis SIGKILLed the worker, the restarted worker (same hostname) answers inspect; the part never ended and its message is nowhere: stuck, header-part-lost."""
    ledger = [start("p1", T0 + 2, pid=101, value=5), start("p2", T0 + 2, pid=102, value=6),
              start("p3", T0 + 3, pid=201, value=7), end("p3", T0 + 3.1, pid=201, result=7)]
    timeline = [{"t": T0 + 2.3, "kind": "fault", "fault": "kill-worker", "target": W1, "pids": [50, 101, 102],
                 "what": "SIGKILL worker w1 main process (pid 50)"},
                {"t": T0 + 2.8, "kind": "heal", "target": W1, "what": "restarted worker w1 (pid 200), ready"}]
    (v,) = judge(obs(ledger, timeline=timeline))
    assert (v.verdict, v.cause) == ("stuck", "header-part-lost")
    assert "acks_late=False" in v.summary
    assert "nemesis: SIGKILL worker w1 main process (pid 50)" in text(v)
    assert "restarted worker w1" in text(v)


def test_prefetched_parts_of_a_killed_worker_are_named_as_waiting_for_the_visibility_timeout():
    """Mechanism 7: besides the lost part, parts the dead worker had prefetched sit in the unacked hash until visibility_timeout."""
    ledger = [start("p1", T0 + 2, pid=101, value=5)]
    timeline = [{"t": T0 + 2.3, "kind": "fault", "fault": "kill-worker", "target": W1, "pids": [50, 101],
                 "what": "SIGKILL worker w1 main process (pid 50)"}]
    o = obs(ledger, timeline=timeline, unacked=[{"task_id": "p2"}, {"task_id": "p3"}])
    (v,) = judge(o)
    assert v.cause == "header-part-lost"
    assert "2 more part(s) the dead worker had prefetched wait in the unacked hash" in text(v)
    assert "(3600 s)" in text(v)


def test_part_whose_process_died_by_itself_is_lost():
    """Mechanism 7 without a nemesis: quiescence found the part's pid gone while it had no end."""
    ledger = [start("p1", T0 + 2, pid=101, value=5)] + parts_ran(ids=("p2", "p3"), values=(6, 7))
    o = obs(ledger, quiescence={"how": "quiet", "dead_parts": [{"task_id": "p1", "pid": 101, "worker": W1}]})
    (v,) = judge(o)
    assert (v.verdict, v.cause) == ("stuck", "header-part-lost")
    assert "pid 101, which ran part p1, no longer runs" in text(v)


def test_running_part_of_a_live_worker_is_not_lost():
    """A part still running in a live process is in flight: no verdict yet."""
    ledger = [start("p1", T0 + 2, pid=101, value=5)] + parts_ran(ids=("p2", "p3"), values=(6, 7))
    (v,) = judge(obs(ledger, probe_t=T0 + 2.5))
    assert v.verdict == "unknown" and not v.final


# -- mechanism 3: a header that stores no results ----------------------------


def test_chord_unlock_polling_parts_that_stored_nothing_is_retrying_forever():
    """Mechanism 3 on the database backend: parts ended SUCCESS but no part meta exists; chord_unlock ran again and again: stuck, chord-unlock-retrying."""
    unlock = []
    for i in range(4):
        unlock += [{"event": "publish", "t": T0 + 1 + i, "task_id": "u-1", "name": "celery.chord_unlock", "queue": "celery"},
                   {"event": "start", "t": T0 + 2 + i, "task_id": "u-1", "name": "celery.chord_unlock", "worker": W1}]
    logs = {W1: ["[..: INFO/ForkPoolWorker-1] Task celery.chord_unlock[u-1] retry: Retry in 1s"]}
    o = obs(parts_ran() + unlock, backend_kind="database", logs=logs)
    (v,) = judge(o)
    assert (v.verdict, v.cause) == ("stuck", "chord-unlock-retrying")
    assert "3 of 3 header parts ended SUCCESS but stored no result" in v.summary
    assert "celery.chord_unlock ran 4 times" in text(v)
    assert "retry: Retry in 1s" in text(v)


def test_chord_unlock_with_stored_parts_is_not_retrying_forever():
    """The parts' metas exist: chord_unlock is about to succeed, so no stuck verdict yet."""
    unlock = [{"event": "start", "t": T0 + 2 + i, "task_id": "u-1", "name": "celery.chord_unlock", "worker": W1} for i in range(4)]
    o = obs(parts_ran() + unlock, backend_kind="database", metas={p: {"status": "SUCCESS"} for p in PARTS})
    (v,) = judge(o)
    assert v.verdict == "unknown" and not v.final


def test_callback_result_ignored_app_wide_is_unrecorded_with_its_cause():
    """Mechanism 3, app-wide: the callback ran, but task_ignore_result kept its result out of the backend: unrecorded, result-ignored."""
    ledger = parts_ran() + [start("cb-1", T0 + 3, name="lab.collect", value=list(VALUES)),
                            end("cb-1", T0 + 3.1, name="lab.collect", result=list(VALUES))]
    o = obs(ledger, scenario={"name": "t", "expect": "unrecorded", "expect_cause": "result-ignored",
                              "config": {"task_ignore_result": True}})
    (v,) = judge(o)
    assert (v.verdict, v.cause) == ("unrecorded", "result-ignored")
    assert summarize(o["scenario"], [v])["status"] == "matched"


# -- mechanism 8: visibility-timeout redelivery -------------------------------


def test_callback_redelivered_by_the_visibility_timeout_is_duplicated_with_its_cause():
    """Mechanism 8: the callback and a part ran more than once, some runs redelivered: duplicated, message-redelivered, and what each run got."""
    ledger = parts_ran() + [start("p1", T0 + 3, pid=103, value=5, redelivered=True), end("p1", T0 + 3.1, pid=103, result=5)]
    for i in range(2):
        ledger += [start("cb-1", T0 + 4 + i, name="lab.collect", value=list(VALUES), redelivered=bool(i)),
                   end("cb-1", T0 + 4.1 + i, name="lab.collect", result=list(VALUES))]
    scenario = {"name": "t", "expect": "duplicated", "config": {"broker_transport_options": {"visibility_timeout": 1}}}
    (v,) = judge(obs(ledger, scenario=scenario, metas={"cb-1": {"status": "SUCCESS"}}))
    assert (v.verdict, v.cause) == ("duplicated", "message-redelivered")
    assert "visibility_timeout (1 s)" in v.summary
    assert "every run got the right results [5, 6, 7]" in text(v)
    assert "part p1 started 2 times" in text(v)


def test_completed_chord_that_survived_duplicate_parts_says_so():
    """Celery 5.7 de-duplicates part returns: the callback ran once with the right results although a part ran twice; completed, and the evidence shows the rerun."""
    ledger = parts_ran() + [start("p1", T0 + 3, pid=103, value=5, redelivered=True), end("p1", T0 + 3.1, pid=103, result=5),
                            start("cb-1", T0 + 4, name="lab.collect", value=list(VALUES)),
                            end("cb-1", T0 + 4.1, name="lab.collect", result=list(VALUES))]
    (v,) = judge(obs(ledger, metas={"cb-1": {"status": "SUCCESS"}}))
    assert v.verdict == "completed" and v.final
    assert "although 1 header part(s) ran more than once" in v.summary


def test_completed_chord_with_a_copy_still_queued_is_not_final():
    """A redelivered copy of the callback still waits in the broker: completed so far, but not final."""
    ledger = parts_ran() + [start("cb-1", T0 + 4, name="lab.collect", value=list(VALUES)),
                            end("cb-1", T0 + 4.1, name="lab.collect", result=list(VALUES))]
    (v,) = judge(obs(ledger, metas={"cb-1": {"status": "SUCCESS"}}, unacked=[{"task_id": "cb-1"}]))
    assert v.verdict == "completed" and not v.final


# -- mechanism 11: producer and workers on different backends ------------------


def test_parts_returned_into_another_backend_than_the_chord_size_is_backend_mismatch():
    """Mechanism 11: .s in the producer's db 1, .j in the worker's db 2 without .s: stuck, backend-mismatch, with both places named."""
    elsewhere = {W1: {"url": "redis://127.0.0.1:7000/2", "keyprefix": "", "metas": {},
                      "chord_keys": {"cb-1": {".j": {"type": "zset", "card": 3}, ".s": {"type": "none"}}}}}
    o = obs(parts_ran(), chord_keys=keys(s=3, j=None), extra_backend={"worker_backends": elsewhere})
    (v,) = judge(o)
    assert (v.verdict, v.cause) == ("stuck", "backend-mismatch")
    assert "backend (producer's, redis://127.0.0.1:7000/1): .s = 3, .j absent" in text(v)
    assert "backend (w1's, redis://127.0.0.1:7000/2): .j holds 3 part result(s), no .s" in text(v)


def test_callback_meta_in_the_reporting_workers_backend_is_unrecorded_backend_mismatch():
    """Mechanism 11: the callback ran and stored SUCCESS in another worker's backend; the producer reads PENDING: unrecorded, backend-mismatch."""
    ledger = parts_ran() + [start("cb-1", T0 + 3, name="lab.collect", value=list(VALUES), worker="reporter@run-abc"),
                            end("cb-1", T0 + 3.1, name="lab.collect", result=list(VALUES), worker="reporter@run-abc")]
    elsewhere = {"reporter@run-abc": {"url": "redis://127.0.0.1:7000/2", "keyprefix": "", "chord_keys": {},
                                      "metas": {"cb-1": {"status": "SUCCESS", "result": [5, 6, 7]}}}}
    (v,) = judge(obs(ledger, extra_backend={"worker_backends": elsewhere}))
    assert (v.verdict, v.cause) == ("unrecorded", "backend-mismatch")
    assert "reporter's backend redis://127.0.0.1:7000/2 holds callback meta SUCCESS" in text(v)


def test_key_prefix_is_part_of_where_a_backend_is():
    """Mechanism 11: the same URL with another global_keyprefix is another place, and the evidence says so."""
    elsewhere = {W1: {"url": "redis://127.0.0.1:7000/1", "keyprefix": "worker:", "metas": {},
                      "chord_keys": {"cb-1": {".j": {"type": "zset", "card": 3}, ".s": {"type": "none"}}}}}
    (v,) = judge(obs(parts_ran(), chord_keys=keys(s=3, j=None), extra_backend={"worker_backends": elsewhere}))
    assert v.cause == "backend-mismatch"
    assert "with global_keyprefix 'worker:'" in v.summary


# -- mechanism 12: rpc:// ---------------------------------------------------


def test_chord_refused_at_apply_is_failed_not_stuck():
    """Mechanism 12: chord() raised NotImplementedError at the producer; nothing was sent: failed, chord-refused."""
    c = chord(header_ids=[], group_id=None, apply_error='NotImplementedError: The "rpc" result backend does not support chords!')
    o = obs([], chords=[c], backend_kind="rpc", topology={"result_backend": "rpc://"})
    (v,) = judge(o)
    assert (v.verdict, v.cause) == ("failed", "chord-refused")
    assert "does not support chords" in v.summary
    assert "config: result_backend 'rpc://'" in text(v)


def test_chord_refused_inside_a_worker_is_failed_chord_refused():
    """Mechanism 12, in a worker: the launcher task raised NotImplementedError; its state came back FAILURE."""
    c = chord(header_ids=[], expected=[], callback_task="lab.launch_chord")
    ledger = [start("cb-1", T0 + 2, name="lab.launch_chord", value=[]),
              end("cb-1", T0 + 2.1, name="lab.launch_chord", state="FAILURE",
                  result='NotImplementedError: The "rpc" result backend does not support chords!')]
    metas = {"cb-1": {"status": "FAILURE", "result": {"exc_type": "NotImplementedError",
                                                      "exc_message": ['The "rpc" result backend does not support chords!\n\nNote ...']}}}
    (v,) = judge(obs(ledger, chords=[c], backend_kind="rpc", metas=metas))
    assert (v.verdict, v.cause) == ("failed", "chord-refused")
    assert "\n" not in v.summary


# -- mechanism 13: the chord join ---------------------------------------------


def test_part_blocked_after_storing_its_result_with_a_complete_count_is_join_hang():
    """Mechanism 13: the last part's meta is SUCCESS, it never ended 20 s later, .j == .s: stuck, join-hang (not 'still running')."""
    ledger = [start("p0", T0 + 2, pid=100, value=1), end("p0", T0 + 2.1, pid=100, result=1)]
    ledger += parts_ran(ids=("p2", "p3"), values=(6, 7)) + [start("p1", T0 + 2.2, pid=109, value=5)]
    c = chord(header_ids=["p0", "p1", "p2", "p3"], durations=[0.1] * 4, expected=[[5, 6], 7])
    metas = {"p0": {"status": "SUCCESS"}, "p1": {"status": "SUCCESS"}, "p3": {"status": "SUCCESS"}}
    (v,) = judge(obs(ledger, chords=[c], metas=metas, chord_keys=keys(s=3, j=3), probe_t=T0 + 22))
    assert (v.verdict, v.cause) == ("stuck", "join-hang")
    assert "part p1 meta SUCCESS: its result was stored before the part return" in text(v)
    assert "no meta for part(s) p2: the join waits for a result that will never exist" in text(v)


def test_unstored_part_that_completed_the_count_and_never_finished_is_join_hang():
    """Mechanism 13, the other order: the part that stores nothing returns last, so its own worker joins and waits for its own result."""
    ledger = [start("p0", T0 + 2, pid=100, value=1), end("p0", T0 + 2.1, pid=100, result=1)]
    ledger += parts_ran(ids=("p1", "p3"), values=(5, 7)) + [start("p2", T0 + 2.2, pid=109, value=6)]
    c = chord(header_ids=["p0", "p1", "p2", "p3"], durations=[0.1] * 4, expected=[[5, 6], 7])
    metas = {"p0": {"status": "SUCCESS"}, "p1": {"status": "SUCCESS"}, "p3": {"status": "SUCCESS"}}
    (v,) = judge(obs(ledger, chords=[c], metas=metas, chord_keys=keys(s=3, j=3), probe_t=T0 + 22))
    assert (v.verdict, v.cause) == ("stuck", "join-hang")
    assert "no meta for part p2: it stores none, yet .j counts it" in text(v)


def test_part_storing_slowly_is_not_a_join_hang():
    """The same state 1 s after the part started is a part still running, not proof of a hang."""
    ledger = parts_ran(ids=("p2", "p3"), values=(6, 7)) + [start("p1", T0 + 2.2, pid=109, value=5)]
    metas = {"p1": {"status": "SUCCESS"}}
    (v,) = judge(obs(ledger, metas=metas, chord_keys=keys(s=3, j=3), probe_t=T0 + 3.2))
    assert v.verdict == "unknown" and not v.final


# -- mechanism 1 on RabbitMQ: proof by count -----------------------------------


def test_rabbitmq_queue_count_and_zero_consumers_prove_the_callback_waits():
    """Mechanism 1 on RabbitMQ: messages cannot be peeked, so the broker's message count (2), its consumer count (0) and the ledger's publishes prove it: stuck, callback-queue-unconsumed."""
    c2 = chord(index=1, chord_id="cb-2", group_id="g-2", header_ids=["q1", "q2", "q3"])
    ledger = parts_ran() + parts_ran(ids=("q1", "q2", "q3"))
    ledger += [publish(cid, T0 + 2.5, name="lab.collect", queue="reports", by=W1) for cid in ("cb-1", "cb-2")]
    o = obs(ledger, chords=[chord(), c2], consumers={W1: ["execution"]},
            queues={"reports": {"length": 2, "consumers": 0, "messages": []}},
            scenario={"name": "t", "expect": "stuck", "config": {"task_routes": {"lab.collect": {"queue": "reports"}}}})
    verdicts = judge(o)
    assert [(v.verdict, v.cause) for v in verdicts] == [("stuck", "callback-queue-unconsumed")] * 2
    t = text(verdicts[0])
    assert "queue 'reports' holds 2 message(s) and has 0 consumer(s)" in t
    assert "2 message(s) were published to 'reports' and 2 never ran" in t


def test_rabbitmq_queue_with_a_consumer_is_not_stuck():
    """The same counts with one consumer on the queue: the callback is in flight, not stuck."""
    ledger = parts_ran() + [publish("cb-1", T0 + 2.5, name="lab.collect", queue="reports", by=W1)]
    o = obs(ledger, consumers={W1: ["execution", "reports"]}, queues={"reports": {"length": 1, "consumers": 1, "messages": []}})
    (v,) = judge(o)
    assert v.verdict == "unknown" and not v.final


def test_silence_from_every_worker_is_not_proof_of_no_consumer():
    """A callback waits in a queue and no worker answered inspect (reconnecting after a broker restart): not final, never stuck."""
    ledger = parts_ran() + [publish("cb-1", T0 + 2.5, name="lab.collect", queue="celery", by=W1)]
    o = obs(ledger, consumers={}, queues={"celery": {"length": 1, "messages": [{"task_id": "cb-1"}]}})
    (v,) = judge(o)
    assert v.verdict == "unknown" and not v.final


# -- mechanism 15: a backend error inside the part return ---------------------------


def test_part_return_that_timed_out_is_never_counted():
    """Mechanism 15, "a part is lost": storing results timed out under CLIENT PAUSE; one part is neither stored nor counted (.j 2 of 3): stuck, part-return-error."""
    logs = {W1: ["[..: WARNING/ForkPoolWorker-1] ... RuntimeWarning: Exception raised outside body: network:TimeoutError:"]}
    metas = {"p1": {"status": "FAILURE", "result": {"exc_type": "TimeoutError"}}, "p2": {"status": "FAILURE"}}
    timeline = [{"t": T0 + 1.9, "kind": "fault", "fault": "client-pause", "what": "CLIENT PAUSE 3000 ms ALL"}]
    (v,) = judge(obs(parts_ran(), chord_keys=keys(s=3, j=2), metas=metas, logs=logs, timeline=timeline))
    assert (v.verdict, v.cause) == ("stuck", "part-return-error")
    assert "1 part return(s) raised TimeoutError" in v.summary
    assert "no meta for part(s) p3" in text(v) and "nemesis: CLIENT PAUSE" in text(v)
    assert v.final


def test_dispatch_claimed_then_failed_on_oom_is_part_return_error():
    """Mechanism 15 under noeviction: the count completed and a worker claimed the dispatch (.c holds its token) but hit OOM storing the chord's failure: stuck, part-return-error."""
    logs = {W1: ["[..: ERROR/ForkPoolWorker-3] Chord 'g-1' raised: ChordError('Dependency p1 raised server:OutOfMemoryError')"]}
    k = keys(s=3, j=3, c="9f1c")
    (v,) = judge(obs(parts_ran(), chord_keys=k, metas={"p1": {"status": "FAILURE"}}, logs=logs))
    assert (v.verdict, v.cause) == ("stuck", "part-return-error")
    assert "claimed the dispatch hit OutOfMemoryError" in v.summary
    assert ".c = '9f1c' (a dispatch claim" in text(v)


def test_backend_error_right_after_the_parts_is_not_final_yet():
    """A backend error seen a moment after the last part ended may still be followed by a stored failure: not final."""
    logs = {W1: ["... raised unexpected: server:OutOfMemoryError"]}
    (v,) = judge(obs(parts_ran(), chord_keys=keys(s=3, j=3, c="9f1c"), logs=logs, probe_t=T0 + 2.5))
    assert v.cause == "part-return-error" and not v.final


def test_part_redelivered_after_its_process_died_is_running_not_lost():
    """Mechanism 7 with acks_late: the run of the part that died is gone, but the part was redelivered and runs again in a live process: in flight, not lost."""
    ledger = [start("p1", T0 + 2, pid=101, value=5), start("p1", T0 + 4, pid=201, value=5, redelivered=True)]
    ledger += parts_ran(ids=("p2", "p3"), values=(6, 7))
    q = {"how": "quiet", "t": T0 + 3.9, "dead_parts": [{"task_id": "p1", "pid": 101, "worker": W1}]}
    (v,) = judge(obs(ledger, quiescence=q, probe_t=T0 + 4.5))
    assert v.verdict == "unknown" and not v.final


def test_dispatched_chord_whose_callback_is_not_visible_yet_is_not_final():
    """Celery 5.7 leaves .c = 'done' after sending the callback: with every other key gone, the callback is on its way, not lost."""
    (v,) = judge(obs(parts_ran(), chord_keys={"cb-1": {".s": {"type": "none"}, ".j": {"type": "none"},
                                                        ".c": {"type": "string", "value": "done"}}}))
    assert v.verdict == "unknown" and not v.final


def test_header_part_nowhere_right_after_quiescence_is_not_final():
    """A part that is in no queue and not unacked just after quiescence may be in transit (a restore, a fetch): stuck only once that lasts."""
    ledger = parts_ran(ids=("p2", "p3"), values=(6, 7))
    (v,) = judge(obs(ledger, quiescence={"how": "quiet", "t": T0 + 4.8}, probe_t=T0 + 5))
    assert (v.verdict, v.cause, v.final) == ("stuck", "header-part-missing", False)
    (v,) = judge(obs(ledger, quiescence={"how": "quiet", "t": T0 + 4.8}, probe_t=T0 + 6))
    assert v.final


def test_part_of_a_killed_pool_child_is_not_final_while_its_worker_lives():
    """Mechanism 7, pool child: the live worker may still report the lost part (WorkerLostError, late under load), so 'lost' is not final yet."""
    ledger = [start("p1", T0 + 2, pid=101, value=5)] + parts_ran(ids=("p2", "p3"), values=(6, 7))
    timeline = [{"t": T0 + 2.3, "kind": "fault", "fault": "kill-pool-child", "target": W1, "pids": [101],
                 "what": "SIGKILL pool child 101 of worker w1"}]
    (v,) = judge(obs(ledger, timeline=timeline))
    assert (v.verdict, v.cause, v.final) == ("stuck", "header-part-lost", False)
