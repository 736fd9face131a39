"""Every mechanism of the catalog as a real run: faults, RabbitMQ, the database backend.

Each test runs one scenario for real (its own redis-server, real celery
workers, the nemesis's real faults, RabbitMQ or PostgreSQL where named) and
checks the verdict, the cause and the evidence the lab read from the broker,
the backend, the workers, the ledger and the timeline.  Each docstring names
the mechanism (the row of shared/notes/mechanisms.md) and what the run proves
on this Celery version, which is sometimes not what the catalog claimed.

The fast ones run by default; ``-m slow`` runs the rest (faults that wait for
a restart or a timeout, and every fixed variant).
"""

from __future__ import annotations

import pytest

from lab.runtime.process import services as brokers
from lab.experiments.run import run_scenario
from lab.scenario import load


def run(name: str, seed: int = 11):
    result = run_scenario(load(name), seed=seed)
    return result, result.record["verdicts"]


def only(verdicts: list[dict]) -> dict:
    assert len(verdicts) == 1, verdicts
    return verdicts[0]


def evidence(verdict: dict) -> str:
    return "\n".join(verdict["evidence"])


def timeline(result, kind: str = "fault") -> list[dict]:
    return [e for e in result.record["observations"]["timeline"] if e["kind"] == kind]


def needs_rabbitmq() -> None:
    why = brokers.rabbitmq_unavailable()
    if why:
        pytest.skip(why)


def needs_redis_7() -> None:
    import subprocess

    from lab.runtime.process.redis_server import find_redis_server

    out = subprocess.run([find_redis_server(), "--version"], capture_output=True, text=True).stdout
    major = int(out.split("v=", 1)[1].split(".", 1)[0]) if "v=" in out else 0
    if major < 7:
        pytest.skip(f"redis-server {out.strip()!r} predates enable-debug-command (Redis 7), which this scenario sets")


def needs_postgres() -> None:
    why = brokers.postgres_unavailable()
    if why:
        pytest.skip(why)


# -- mechanism 9: a header part raises -----------------------------------------


def test_header_failure_is_failed_with_chord_error_not_stuck():
    """Mechanism 9, confirmed: one header part raises; the callback's meta is FAILURE ChordError('Dependency … raised PartFailed(…)'), never PENDING."""
    result, verdicts = run("header-failure")
    v = only(verdicts)
    assert (v["verdict"], v["cause"]) == ("failed", "header-part-failed")
    assert "ChordError: Dependency" in v["summary"] and "PartFailed('part" in v["summary"]
    assert "the callback never ran" in evidence(v)


# -- mechanism 3: a header that stores no results ------------------------------


def test_ignore_result_on_redis_still_completes():
    """Mechanism 3 on Redis, refuted as a stuck case: parts with ignore_result=True still report to the chord (the part return does not need their metas), so the callback runs with every result."""
    result, verdicts = run("ignore-result")
    assert only(verdicts)["verdict"] == "completed"
    metas = result.record["observations"]["probe"]["backend"]["metas"]
    assert not any(h in metas for h in result.record["observations"]["chords"][0]["header_ids"])  # no part stored a result


@pytest.mark.slow
def test_ignore_result_on_the_database_backend_retries_chord_unlock_forever():
    """Mechanism 3 on the database backend, confirmed: the parts store nothing, so celery.chord_unlock finds them PENDING and retries every second, forever."""
    result, verdicts = run("ignore-result-database")
    v = only(verdicts)
    assert (v["verdict"], v["cause"]) == ("stuck", "chord-unlock-retrying")
    text = evidence(v)
    assert "stored no result" in v["summary"] and "so they read PENDING" in text
    assert "celery.chord_unlock ran" in text


@pytest.mark.slow
def test_app_wide_ignore_result_on_the_database_backend_retries_chord_unlock_forever():
    """Mechanism 3, task_ignore_result=True on the database backend: the same endless chord_unlock retries."""
    result, verdicts = run("ignore-result-database-app-wide")
    assert (only(verdicts)["verdict"], only(verdicts)["cause"]) == ("stuck", "chord-unlock-retrying")


@pytest.mark.slow
def test_app_wide_ignore_result_on_redis_runs_the_callback_but_records_nothing():
    """Mechanism 3, task_ignore_result=True on Redis: the callback runs with every result, but its own result is ignored too, so the producer reads PENDING forever."""
    result, verdicts = run("ignore-result-app-wide")
    v = only(verdicts)
    assert (v["verdict"], v["cause"]) == ("unrecorded", "result-ignored")
    assert "callback ran" in evidence(v)


# -- mechanism 7: a worker killed mid-header -----------------------------------


def test_worker_killed_mid_header_loses_the_running_parts():
    """Mechanism 7, confirmed: SIGKILL of the worker's main process with acks_late=False; the running parts (already acked) die with it, the restarted worker never sees them; the parts it had prefetched wait for the visibility timeout."""
    result, verdicts = run("worker-crash")
    v = only(verdicts)
    assert (v["verdict"], v["cause"]) == ("stuck", "header-part-lost")
    text = evidence(v)
    assert "acks_late=False" in v["summary"]
    assert "nemesis: SIGKILL worker w1 main process" in text and "restarted worker w1" in text
    assert "is in no queue and unacked by no worker" in text
    (fault,) = timeline(result)
    assert fault["fault"] == "kill-worker" and len(fault["pids"]) == 3  # the main process and its two pool children


@pytest.mark.slow
def test_pool_child_killed_mid_header_fails_the_chord_with_worker_lost_error():
    """Mechanism 7, a pool child only: the worker sees WorkerLostError and fails the part, so the chord fails with ChordError instead of hanging."""
    result, verdicts = run("worker-crash-pool-child")
    v = only(verdicts)
    assert (v["verdict"], v["cause"]) == ("failed", "header-part-failed")
    assert "WorkerLostError" in v["summary"]
    assert "nemesis: SIGKILL pool child" in evidence(v)


# -- mechanism 5: eviction, flush, restart -------------------------------------


def test_allkeys_lru_evicts_the_chord_size_key():
    """Mechanism 5, confirmed: maxmemory 4 MB with allkeys-lru while 64 KB results are stored; the chord size key is evicted and the parts that return after it can never complete the chord."""
    result, verdicts = run("redis-eviction")
    v = only(verdicts)
    assert (v["verdict"], v["cause"]) == ("stuck", "chord-key-evicted")
    assert "policy allkeys-lru" in v["summary"]
    assert result.record["observations"]["probe"]["backend"]["stats"]["evicted_keys"] > 0
    assert "backend: .s absent now" in evidence(v)


@pytest.mark.slow
def test_volatile_lru_evicts_the_chord_size_key_because_it_has_a_ttl():
    """Mechanism 5, volatile-lru: the filler has no TTL, the chord keys do, so the chord size key is among the first evicted."""
    result, verdicts = run("redis-eviction-volatile")
    assert (only(verdicts)["verdict"], only(verdicts)["cause"]) == ("stuck", "chord-key-evicted")
    assert "volatile-lru" in only(verdicts)["summary"]


@pytest.mark.slow
def test_noeviction_held_full_refuses_every_part_result_and_the_chord_stays_pending():
    """Mechanism 15 via noeviction: while Redis stays full, storing a part's result hits OOM, and so does storing
    its failure, so no part is counted; the chord stays PENDING and the workers' OOM lines are the proof."""
    result, verdicts = run("redis-eviction-noeviction")
    v = only(verdicts)
    assert (v["verdict"], v["cause"]) == ("stuck", "part-return-error")
    assert "OutOfMemoryError" in v["summary"] + evidence(v)


@pytest.mark.slow
def test_redis_restart_without_persistence_loses_the_chord():
    """Mechanism 5, confirmed: broker and backend restart without persistence mid-chord; the chord size key is gone when the parts return."""
    result, verdicts = run("redis-restart")
    v = only(verdicts)
    assert (v["verdict"], v["cause"]) == ("stuck", "backend-data-lost")
    assert "restarted redis-server without persistence" in evidence(v)


@pytest.mark.slow
def test_flushdb_of_the_backend_loses_the_chord():
    """Mechanism 5: FLUSHDB on the result backend's database mid-chord; stuck, and the timeline names the flush."""
    result, verdicts = run("redis-flushdb")
    v = only(verdicts)
    assert (v["verdict"], v["cause"]) == ("stuck", "backend-data-lost")
    assert "FLUSHDB on db 1" in evidence(v)


# -- mechanism 15: the backend stalls during the part return ---------------------


@pytest.mark.slow
def test_client_pause_longer_than_the_socket_timeout_fails_the_chord_or_loses_a_part():
    """Mechanism 15, both outcomes: CLIENT PAUSE 3 s while the parts store their results with a 1 s socket timeout; TimeoutError, so ChordError (most runs), or a part return that times out uncounted and the chord stays PENDING."""
    result, verdicts = run("redis-client-pause")
    v = only(verdicts)
    assert (v["verdict"], v["cause"]) in {("failed", "header-part-failed"), ("stuck", "part-return-error")}
    assert "TimeoutError" in v["summary"] and "CLIENT PAUSE" in evidence(v)


@pytest.mark.slow
def test_debug_sleep_longer_than_the_socket_timeout_fails_the_chord():
    """Mechanism 15 with DEBUG SLEEP: the whole server blocks; the same TimeoutError and ChordError."""
    needs_redis_7()
    result, verdicts = run("redis-debug-sleep")
    assert (only(verdicts)["verdict"], only(verdicts)["cause"]) in {("failed", "header-part-failed"), ("stuck", "part-return-error")}
    assert not timeline(result, "fault-failed"), "DEBUG SLEEP was refused: the fault did not happen"


@pytest.mark.slow
def test_worker_paused_and_resumed_completes():
    """A paused worker is not a lost one: SIGSTOP for 3 s mid-header, then SIGCONT; the chord completes."""
    result, verdicts = run("worker-pause")
    assert only(verdicts)["verdict"] == "completed"
    assert [e["what"] for e in timeline(result, "heal")] == ["SIGCONT worker w1"]


# -- mechanism 8: visibility-timeout redelivery -----------------------------------


@pytest.mark.slow
def test_visibility_timeout_shorter_than_acks_late_parts_runs_the_callback_again():
    """Mechanism 8, confirmed in part: parts run longer than visibility_timeout and are redelivered; Celery 5.7 de-duplicates the part returns, so every callback run gets the right results, but the callback itself is redelivered and runs more than once."""
    result, verdicts = run("visibility-timeout")
    v = only(verdicts)
    assert (v["verdict"], v["cause"]) == ("duplicated", "message-redelivered")
    text = evidence(v)
    assert "every run got the right results" in text
    assert "(redelivered)" in text


@pytest.mark.slow
def test_visibility_timeout_with_a_countdown_reruns_parts_but_the_chord_completes_once():
    """Mechanism 8 with countdown: the held ETA parts are redelivered and run twice; 5.7's de-duplication (.d) and dispatch claim (.c) keep the callback to one run with the right results."""
    result, verdicts = run("visibility-timeout-countdown")
    v = only(verdicts)
    assert v["verdict"] == "completed"
    assert "ran more than once" in v["summary"]


# -- mechanism 2: chord_unlock unconsumed -----------------------------------------


def test_chord_unlock_waits_in_the_callbacks_unconsumed_queue():
    """Mechanism 2, confirmed: database backend; chord_unlock follows the callback's route to 'reports', which no worker consumes, so it never polls and the callback is never sent."""
    result, verdicts = run("chord-unlock-unconsumed")
    v = only(verdicts)
    assert (v["verdict"], v["cause"]) == ("stuck", "chord-unlock-unconsumed")
    assert "queue 'reports' holds celery.chord_unlock" in evidence(v)
    assert "chord_unlock ran 0 time(s)" in evidence(v)


@pytest.mark.slow
def test_chord_unlock_defaults_to_the_celery_queue():
    """Mechanism 2, defaulted: only the header is routed; chord_unlock goes to the default queue 'celery', which the worker (-Q execution) does not consume."""
    result, verdicts = run("chord-unlock-unconsumed-default")
    v = only(verdicts)
    assert (v["verdict"], v["cause"]) == ("stuck", "chord-unlock-unconsumed")
    assert "queue 'celery' holds celery.chord_unlock" in evidence(v)


@pytest.mark.postgres
def test_chord_unlock_unconsumed_on_postgresql():
    """Mechanism 2 on a PostgreSQL result backend (a database of the run's own, dropped after): the same proof."""
    needs_postgres()
    result, verdicts = run("chord-unlock-unconsumed-postgres")
    assert (only(verdicts)["verdict"], only(verdicts)["cause"]) == ("stuck", "chord-unlock-unconsumed")
    assert result.record["observations"]["topology"]["result_backend"].startswith("db+postgresql")


# -- mechanism 11: producer and workers on different backends -----------------------


def test_producer_and_workers_on_different_result_databases():
    """Mechanism 11, confirmed: the producer writes the chord size to db 1, the workers count parts in db 2, where no size exists."""
    result, verdicts = run("backend-mismatch")
    v = only(verdicts)
    assert (v["verdict"], v["cause"]) == ("stuck", "backend-mismatch")
    text = evidence(v)
    assert "/1): .s = 3, .j absent" in text and "/2): .j holds 3 part result(s), no .s" in text


@pytest.mark.slow
def test_status_read_from_the_wrong_database_is_pending_although_the_callback_ran():
    """Mechanism 11: the worker that runs the callback stores its result in db 2; the producer reads db 1 and sees PENDING although the callback ran."""
    result, verdicts = run("backend-mismatch-status")
    v = only(verdicts)
    assert (v["verdict"], v["cause"]) == ("unrecorded", "backend-mismatch")
    assert "holds callback meta SUCCESS" in evidence(v)


@pytest.mark.slow
def test_workers_with_another_key_prefix_count_where_the_producer_never_wrote():
    """Mechanism 11 by global_keyprefix: same Redis database, but the workers' chord keys carry a prefix the producer's .s lacks."""
    result, verdicts = run("backend-mismatch-prefix")
    v = only(verdicts)
    assert (v["verdict"], v["cause"]) == ("stuck", "backend-mismatch")
    assert "global_keyprefix 'worker:'" in v["summary"]


# -- mechanism 12: rpc:// ------------------------------------------------------------


def test_rpc_backend_refuses_the_chord_at_apply():
    """Mechanism 12, confirmed: with result_backend='rpc://' the producer's chord() raises NotImplementedError; nothing is sent."""
    result, verdicts = run("rpc-backend")
    v = only(verdicts)
    assert (v["verdict"], v["cause"]) == ("failed", "chord-refused")
    assert 'The "rpc" result backend does not support chords' in v["summary"]
    assert not [e for e in result.record["observations"]["ledger"] if e["event"] == "publish"]


@pytest.mark.slow
def test_rpc_backend_chord_built_inside_a_worker_fails_the_launching_task():
    """Mechanism 12 in a worker: the task that builds the chord raises NotImplementedError; it is more than a log line: the task is FAILURE, and the producer reads it over rpc://."""
    result, verdicts = run("rpc-backend-in-worker")
    v = only(verdicts)
    assert (v["verdict"], v["cause"]) == ("failed", "chord-refused")
    assert result.record["observations"]["probe"]["backend"]["metas"][v["chord_id"]]["status"] == "FAILURE"


# -- mechanism 14: Reject / Ignore ---------------------------------------------------


def test_reject_in_a_header_part_fails_the_chord():
    """Mechanism 14 for Reject, refuted: Reject(requeue=False) in a header part is reported to the chord on Celery 5.7, which fails with ChordError instead of staying PENDING."""
    result, verdicts = run("reject-ignore")
    v = only(verdicts)
    assert (v["verdict"], v["cause"]) == ("failed", "header-part-failed")
    assert "reject requeue=False" in v["summary"]


@pytest.mark.slow
def test_ignore_in_a_header_part_leaves_the_chord_pending():
    """Mechanism 14 for Ignore, confirmed: the part ends IGNORED, records no return, and the count stays one short forever."""
    result, verdicts = run("reject-ignore-ignore")
    v = only(verdicts)
    assert (v["verdict"], v["cause"]) == ("stuck", "part-return-missing")
    assert "ended IGNORED" in evidence(v)
    assert ".j holds 2 of 3 parts" in evidence(v)


# -- mechanism 13: the chord join -----------------------------------------------------


@pytest.mark.slow
def test_complex_header_slower_than_the_join_timeout_still_completes():
    """Mechanism 13 as stated, refuted: the join starts only when every part has returned, so a complex header whose part takes 4 s > result_chord_join_timeout (3 s) completes with the nested results."""
    result, verdicts = run("join-timeout")
    assert only(verdicts)["verdict"] == "completed"


def test_complex_header_with_an_unstored_top_level_part_runs_the_callback_with_none():
    """Mechanism 13: a top-level part of a complex header stores no result; the join does not wait, and the callback runs at once with None in its place."""
    result, verdicts = run("join-timeout-unstored")
    v = only(verdicts)
    assert v["verdict"] == "early"
    assert "None" in evidence(v)


@pytest.mark.slow
def test_complex_header_with_an_unstored_nested_part_hangs_the_join_forever():
    """Mechanism 13: a nested part stores no result; the join waits for it without a timeout (result_chord_join_timeout is not applied to a nested group's children), holding the chord and that pool process."""
    result, verdicts = run("join-timeout-nested-unstored")
    v = only(verdicts)
    assert (v["verdict"], v["cause"]) == ("stuck", "join-hang")
    assert "the count is complete" in evidence(v)


@pytest.mark.slow
def test_complex_header_with_a_failing_nested_part_is_a_join_error():
    """Mechanism 13's symptom by another trigger: a nested part raises; the join propagates it and the chord fails with ChordError('Join error: …')."""
    result, verdicts = run("join-timeout-part-fails")
    v = only(verdicts)
    assert (v["verdict"], v["cause"]) == ("failed", "join-error")
    assert "Join error: PartFailed" in v["summary"]


# -- mechanism 1 on RabbitMQ ------------------------------------------------------------


@pytest.mark.rabbitmq
def test_rabbitmq_split_queues_is_proven_by_the_brokers_counts():
    """Mechanism 1 on RabbitMQ, in a vhost of the run's own: the broker counts the callbacks in 'reports' and zero consumers on it."""
    needs_rabbitmq()
    result, verdicts = run("rabbitmq-split-queues")
    assert [(v["verdict"], v["cause"]) for v in verdicts] == [("stuck", "callback-queue-unconsumed")] * 2
    text = evidence(verdicts[0])
    assert "queue 'reports' holds 2 message(s) and has 0 consumer(s)" in text
    assert result.record["observations"]["topology"]["vhost"].startswith("lab-rabbitmq-split-queues-")


# -- every fixed variant completes ---------------------------------------------------------


FIXED = ["header-failure-fixed", "ignore-result-fixed", "worker-crash-acks-late", "worker-crash-pool-child-fixed",
         "redis-eviction-fixed", "redis-restart-fixed", "redis-client-pause-fixed", "visibility-timeout-fixed",
         "chord-unlock-unconsumed-fixed", "backend-mismatch-fixed", "rpc-backend-fixed", "reject-ignore-fixed",
         "rabbitmq-split-queues-fixed"]


@pytest.mark.slow
@pytest.mark.parametrize("name", FIXED)
def test_fixed_variant_completes_every_chord(name):
    """Each mechanism's fix, run for real: every chord completes with exactly the oracle's results."""
    if name.startswith("rabbitmq"):
        needs_rabbitmq()
    result, verdicts = run(name)
    assert result.outcome["status"] == "matched", [(v["verdict"], v["summary"]) for v in verdicts]
    assert all(v["verdict"] == "completed" for v in verdicts)


def test_every_new_scenario_names_its_fix_or_is_a_fix():
    """Each failure scenario points at a variant that completes, and that variant exists."""
    from lab.scenario import scenario_paths

    names = set(scenario_paths())
    for name in names:
        s = load(name)
        if s.expect != "completed" and s.mechanism and s.name not in ("redis-flushdb",):
            assert s.fix in names, f"{name} names no existing fix"
