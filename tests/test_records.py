"""The store: whole records appended atomically, torn lines skipped, runs found by id or `latest` (the campaign files: test_records_store.py)."""

from __future__ import annotations

import json
import multiprocessing

import pytest

from lab import records
from lab.records import gzjsonl
from lab.errors import LabError


def _rec(i: int) -> dict:
    return {"run_id": f"s-{i:03d}", "scenario": "s", "observations": {"pad": "x" * 5000}}


def _writer(start: int) -> None:
    for i in range(start, start + 20):
        records.append(_rec(i))


def test_append_and_find(lab_results):
    """Records are appended one line each and found by id, prefix and `latest`."""
    records.append(_rec(1))
    records.append(_rec(2))
    assert [r["run_id"] for r in records.load_all()] == ["s-001", "s-002"]
    assert records.find("latest")["run_id"] == "s-002"
    assert records.find("s-001")["run_id"] == "s-001"
    with pytest.raises(LabError, match="no stored run matches"):
        records.find("zzz")


def test_torn_last_line_is_skipped_and_next_append_is_whole(lab_results):
    """A plain JSON Lines file (runs.jsonl, diagnoses.jsonl): a line cut by a crash is not a record; the next record still lands whole on its own line."""
    legacy = records.legacy_runs_file()
    records.append(_rec(1), path=legacy)
    with open(legacy, "ab") as f:
        f.write(b'{"run_id": "torn", "scen')
    records.append(_rec(2), path=legacy)
    assert [r["run_id"] for r in records.load_all()] == ["s-001", "s-002"]


def test_concurrent_writers_never_interleave(lab_results):
    """Four processes appending large records at once leave 80 whole records."""
    procs = [multiprocessing.Process(target=_writer, args=(k * 100,)) for k in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    lines = list(gzjsonl.read_lines(records.runs_file()))
    assert len(lines) == 80
    assert all(json.loads(line)["observations"]["pad"] == "x" * 5000 for line in lines)


def test_versions_are_recorded():
    """Every record carries the versions the verdict depends on."""
    v = records.versions("7.0.15")
    assert set(v) >= {"python", "celery", "kombu", "redis-py", "redis-server"}
    assert v["celery"] and v["redis-server"] == "7.0.15"
