"""The flight recorder as the lab's witness (``lab run --witness recorder``): the same scenario, run once with the
file ledger and once with the recorder installed in the producer and every worker in its place, is judged the
same by the unchanged judge.  This is what shows the recorder and the ledger are one mechanism.

Real runs: real redis-servers (the run's own, and the witness's own), real ``celery worker`` processes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from lab.experiments.run import run_scenario
from lab.experiments.witness import compare, stored_pairs, witness_rows
from lab.observe.follow import Cursor, RecorderWatch, read_since
from lab.recorder import StreamSink
from lab.runtime.process.processes import ProcessOwner
from lab.runtime.process.redis_server import start_redis
from lab.scenario import load

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def both(name: str, seed: int = 5):
    """The scenario run under each witness with one seed: {witness: RunResult}."""
    s = load(name)
    return {w: run_scenario(s, seed=seed, witness=w) for w in ("ledger", "recorder")}


def kinds(result) -> Counter:
    return Counter(e["event"] for e in result.record["observations"]["ledger"])


def test_split_queues_is_stuck_under_the_recorder_as_under_the_ledger():
    """Mechanism 1 (the callback waits in a queue nobody consumes), witnessed by the recorder alone: the same
    verdict and cause for each chord, from the same events (the worker's publish of the callback included)."""
    runs = both("split-queues")
    row = compare("split-queues", {w: r.record["verdicts"] for w, r in runs.items()})
    assert row["agree"] == row["chords"] == 2, row
    assert set(row["recorder"]) == {"stuck·callback-queue-unconsumed"}
    rec = runs["recorder"].record
    obs = rec["observations"]
    assert obs["witness"] == "recorder" and runs["ledger"].record["observations"]["witness"] == "ledger"
    assert kinds(runs["recorder"]) == kinds(runs["ledger"])
    assert obs["recorder"]["dropped"] == 0 and obs["recorder"]["read_errors"] == 0
    assert obs["topology"]["witness"]["port"] != obs["topology"]["redis"]["port"]  # a redis-server of its own
    assert not list((Path(rec["run_dir"]) / "ledger").glob("*.jsonl"))  # the file ledger was not written
    text = "\n".join(rec["verdicts"][0]["evidence"])
    assert "published callback" in text and "none consumes 'reports'" in text
    assert rec["replay"].endswith("--witness recorder")


def test_healthy_completes_under_both_witnesses_with_the_oracle_results():
    """The control: every chord completes under both.  The judge compares each callback's arguments with the
    oracle, so the recorder must keep them here (a recorder without arguments would read as "early")."""
    runs = both("healthy")
    row = compare("healthy", {w: r.record["verdicts"] for w, r in runs.items()})
    assert row["recorder"] == ["completed"] * 3 and row["agree"] == 3
    starts = [e for e in runs["recorder"].record["observations"]["ledger"] if e["event"] == "start"]
    assert starts and all("args" in e for e in starts)


def test_the_experiment_stores_both_records_of_a_pair(lab_results):
    """``lab witness``'s function: both runs recorded in its campaign, found again as a pair by the report."""
    from lab import records

    result = witness_rows(["split-queues-fixed"], seed=1, campaign="test-witness")
    (row,) = result["rows"]
    assert row["agree"] == row["chords"] and not row["disagreements"]
    recs = list(records.load_all())
    assert records.campaign_files()[0].name.startswith("test-witness")
    (pair,) = stored_pairs(recs)
    assert {w: r["observations"]["witness"] for w, r in pair.items()} == {"ledger": "ledger", "recorder": "recorder"}


def test_read_since_returns_each_event_once_across_a_burst_wider_than_its_window(tmp_path):
    """The incremental reader over the recorder's own writer: a first read of 1,000 events (wider than its
    window), then only what came after, then nothing."""
    with ProcessOwner(tmp_path) as owner:
        server = start_redis(owner, tmp_path)
        sink = StreamSink(server.url(0))
        for i in range(1000):
            sink({"event": "start", "t": 1000.0 + i, "pid": os.getpid(), "task_id": f"t{i}"})
        sink.flush()
        cursor = Cursor()
        first = read_since(server.url(0), cursor)
        assert [e["task_id"] for e in first] == [f"t{i}" for i in range(1000)]
        for i in range(1000, 1005):
            sink({"event": "end", "t": 1000.0 + i, "pid": os.getpid(), "task_id": f"t{i}"})
        sink.flush()
        assert [e["task_id"] for e in read_since(server.url(0), cursor)] == [f"t{i}" for i in range(1000, 1005)]
        assert read_since(server.url(0), cursor) == []
        watch = RecorderWatch(server.url(0))
        assert watch.poll() == 1005 and watch.poll() == 0
        server.stop()
        assert watch.poll() == 0 and watch.read_errors == 1  # a store gone is counted, not raised


@pytest.mark.parametrize("argv, says", [
    (["run", "split-queues", "--witness", "recorder", "--runtime", "docker"], "drop --runtime docker"),
    (["run", "trailing-group-after-failure", "--witness", "recorder"], "follows the file ledger only"),
    (["run", "split-queues", "--witness", "files"], "'files' is not one of"),
])
def test_a_witness_the_run_cannot_have_is_one_sentence(argv, says):
    done = subprocess.run([sys.executable, "-m", "lab", *argv], check=False, capture_output=True, text=True,
                          timeout=120, cwd=PROJECT_ROOT)
    assert done.returncode == 254, done.stderr
    assert says in " ".join(done.stderr.split()) and "Traceback" not in done.stderr
