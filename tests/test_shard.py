"""Shards: ``--shard K/N`` partitions a campaign, and ``lab report --merge`` puts the shards' stores back together.

The pure tests prove the partitions (every seed of the fuzzer, every cell of the matrix, taken by exactly one
shard) and the merge rules on hand-built stores (each record once, one finding per mechanism with its
witnesses, merging twice adds nothing).  One test runs a real two-shard campaign: two ``lab fuzz`` processes,
each with its own store and its own redis-server and workers, merged into a third store and one RESULTS.md.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lab import records
from lab.errors import LabError
from lab.experiments import shards as SH
from lab.fuzz import findings as F
from lab.fuzz.search import shard_seed

ROOT = Path(__file__).resolve().parent.parent


# -- parsing ------------------------------------------------------------------------------------


@pytest.mark.parametrize("text,want", [("3/8", (3, 8)), ("1/1", (1, 1)), (" 8 / 8 ", (8, 8))])
def test_a_shard_is_k_of_n(text, want):
    assert SH.parse_shard(text) == want
    assert SH.shard_text(want) == f"{want[0]}/{want[1]}"


@pytest.mark.parametrize("text", ["0/8", "9/8", "3", "3/0", "a/b", "-1/2", "", "1/2/3"])
def test_a_bad_shard_is_one_sentence(text):
    with pytest.raises(SH.ShardError) as e:
        SH.parse_shard(text)
    msg = str(e.value)
    assert "\n" not in msg and msg.endswith(".") and "--shard" in msg
    assert e.value.exit_code == 254


def test_fuzz_refuses_a_bad_shard_before_anything_starts(lab_results):
    """The CLI checks --shard before any process starts: a LabError, which the trunk prints as one line, exit 254."""
    from lab.cli.main import main

    with pytest.raises(LabError, match="K must be between 1 and N"):
        main.main(["fuzz", "healthy", "--shard", "9/8"], standalone_mode=False)
    with pytest.raises(LabError, match="not a shard"):
        main.main(["matrix", "--celery", "5.7", "--shard", "two", "--seed", "1"], standalone_mode=False)
    assert not (lab_results / "runs").exists()


# -- the fuzzer's seeds -------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 3, 8])
def test_n_fuzz_shards_take_every_seed_of_the_campaign_once(n):
    """Hypothesis run r of the unsharded campaign uses seed + r; n shards of R runs each use seeds seed..seed+nR-1,
    each exactly once."""
    seed, runs = 7, 25
    taken = [shard_seed(seed, r, (k, n)) for k in range(1, n + 1) for r in range(runs)]
    assert sorted(taken) == list(range(seed, seed + n * runs))
    assert [shard_seed(seed, r, (1, 1)) for r in range(runs)] == list(range(seed, seed + runs))


@pytest.mark.parametrize("shard,jobs", [((1, 1), 2), ((1, 1), 4), ((3, 8), 2), ((2, 3), 5)])
def test_jobs_cut_a_shard_finer_without_changing_its_seeds(shard, jobs):
    """`--shard K/M --jobs N`: the N jobs together take exactly the seeds of K/M, whatever N is."""
    seed, runs = 100, 12
    parts = SH.job_shards(shard, jobs)
    assert len(parts) == jobs and all(n == shard[1] * jobs and 1 <= k <= n for k, n in parts)
    by_jobs = sorted(shard_seed(seed, r, p) for p in parts for r in range(runs))
    alone = sorted(shard_seed(seed, r, shard) for r in range(runs * jobs))
    assert by_jobs == alone


def test_the_jobs_of_every_shard_partition_the_finer_campaign():
    """M machines each running --jobs N are the M*N shards of one campaign, each once."""
    m, jobs = 3, 4
    every = [p for k in range(1, m + 1) for p in SH.job_shards((k, m), jobs)]
    assert sorted(every) == [(k, m * jobs) for k in range(1, m * jobs + 1)]


@pytest.mark.parametrize("examples,jobs", [(40, 2), (41, 2), (6, 4), (3, 8), (1, 2)])
def test_examples_are_divided_among_the_jobs(examples, jobs):
    split = SH.split_examples(examples, jobs)
    assert sum(split) == examples and all(x >= 1 for x in split) and max(split) - min(split) <= 1
    assert len(split) == min(jobs, examples)
    assert SH.split_examples(None, 3) == [None, None, None]  # a budget: each job runs it whole


# -- the matrix's cells -------------------------------------------------------------------------


def _cells():
    versions = [((5, 3, 6), "5.3.6"), ((5, 4), "5.4"), ((5, 5), "5.5"), ((5, 7), "5.7")]
    scenarios = ["healthy", "split-queues", "route-glob-mismatch", "/x/scenarios/mine.py", "eviction"]
    return [(v, s) for s in scenarios for v in versions]


def _key(cell):
    (release, text), ref = cell
    return SH.matrix_cell_key(release, text, Path(ref).stem if ref.endswith(".py") else ref, ref)


@pytest.mark.parametrize("n", [1, 2, 3, 7, 20, 25])
def test_n_matrix_shards_take_every_cell_once(n):
    cells = _cells()
    parts = [SH.partition(cells, (k, n), key=_key) for k in range(1, n + 1)]
    taken = [c for p in parts for c in p]
    assert sorted(taken, key=_key) == sorted(cells, key=_key)  # every cell, none twice
    assert max(map(len, parts)) - min(map(len, parts)) <= 1


def test_a_matrix_shard_does_not_depend_on_the_order_cells_were_given():
    """The same command on another machine (scenarios listed in another order) gives each shard the same cells."""
    cells = _cells()
    shuffled = cells[:]
    random.Random(4).shuffle(shuffled)
    for k in range(1, 4):
        assert sorted(SH.partition(cells, (k, 3), key=_key), key=_key) == \
            sorted(SH.partition(shuffled, (k, 3), key=_key), key=_key)


# -- merging stores ------------------------------------------------------------------------------


def _run_record(run_id: str) -> dict:
    return {"run_id": run_id, "scenario": "healthy", "started_at": time.time(), "elapsed_s": 1.0}


def test_merging_run_records_keeps_each_once_and_twice_adds_nothing(tmp_path, monkeypatch):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for store, ids, camp in ((a, ["r1", "r2", "shared"], "shard-1"), (b, ["r3", "shared"], "shard-2")):
        for rid in ids:
            records.append(_run_record(rid), path=records.campaign_file(camp, store), latest=False)
    monkeypatch.setenv("LAB_RESULTS", str(c))
    records.append(_run_record("already"), path=records.campaign_file("old", c), latest=False)
    first = [records.merge(a), records.merge(b)]
    assert [x["added"] for x in first] == [3, 1] and first[1]["present"] == 1
    ids = [r["run_id"] for r in records.load_all(c)]
    assert sorted(ids) == ["already", "r1", "r2", "r3", "shared"]  # nothing lost, nothing twice
    assert {p.name for p in records.campaign_files(c)} == {"old.jsonl.gz", "shard-1.jsonl.gz", "shard-2.jsonl.gz"}
    before = {p.name: p.read_bytes() for p in records.campaign_files(c)}
    again = [records.merge(a), records.merge(b)]
    assert [x["added"] for x in again] == [0, 0]
    assert {p.name: p.read_bytes() for p in records.campaign_files(c)} == before


def _finding(fid: str, seed: int, shard: str, kind: str = "early/order") -> dict:
    return {"kind": "fuzz-finding", "id": fid, "finding_kind": kind, "t": time.time(), "space": "shapes",
            "base": "healthy", "verdict": kind.split("/")[0], "cause": None, "summary": f"{kind} by {fid}",
            "evidence": ["ledger: something"], "canvas": f"chord([fuzz.part.s(value={seed})], fuzz.total.s())",
            "shapes": [], "failing_index": 0, "mechanism": {"known": False, "id": None, "name": None, "why": "new"},
            "seed": seed, "replay": {"runs": 3, "reproduced": 3, "rate": 1.0, "flaky": False},
            "examples_before": 3, "shrink_s": 1.0, "plan": {"shard": shard}, "versions": {"celery": "5.7.0"},
            "path": f"/elsewhere/{fid.replace('-', '_')}.py"}


def _fuzz_store(store: Path, shard: str, seed: int, fid: str, kind: str = "early/order") -> None:
    (store / "findings").mkdir(parents=True)
    (store / "findings" / f"{fid.replace('-', '_')}.py").write_text(f"# finding {fid}\n")
    F.append_record({"kind": "fuzz-run", "id": f"fuzz-{shard.replace('/', '-')}", "t": time.time(), "space": "shapes",
                     "base": "healthy", "seed": seed, "plan": {"shard": shard},
                     "stats": {"examples": 5, "chords": 9, "elapsed_s": 2.0, "example_s": 1.5, "verdicts": {}},
                     "findings": [fid]}, store / "fuzz.jsonl")
    F.append_record(_finding(fid, seed, shard, kind), store / "fuzz.jsonl")


def test_two_findings_of_one_mechanism_merge_into_one_with_two_witnesses(tmp_path, monkeypatch):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    _fuzz_store(a, "1/2", 3, "early-order-aaaaaa")
    _fuzz_store(b, "2/2", 4, "early-order-bbbbbb")
    monkeypatch.setenv("LAB_RESULTS", str(c))
    fdir = tmp_path / "findings"
    merged = SH.merge([a, b], findings_dir=fdir)
    assert merged.fuzz["findings"] == 1 and merged.fuzz["witnesses"] == 1 and merged.fuzz["added"] == 4
    recs = F.load_records()
    found = F.latest_records(recs)
    assert list(found) == ["early-order-aaaaaa"]  # one finding ...
    ws = found["early-order-aaaaaa"]["witnesses"]
    assert [(w["id"], w["seed"], w["shard"]) for w in ws] == [("early-order-aaaaaa", 3, "1/2"),
                                                              ("early-order-bbbbbb", 4, "2/2")]  # ... two witnesses
    witness = next(r for r in recs if r["kind"] == "fuzz-witness")
    assert witness["witness_of"] == "early-order-aaaaaa"  # the second finding's record is kept whole, as a witness
    assert (fdir / "early_order_aaaaaa.py").is_file() and (fdir / "witnesses" / "early_order_bbbbbb.py").is_file()
    assert found["early-order-aaaaaa"]["path"] == str(fdir / "early_order_aaaaaa.py")
    section = F.fuzzing_section()
    assert "_Witnesses:_ 2" in section and "shard 2/2" in section
    assert "2 fuzz run(s)" in section and "`early/order`" in section
    size = (c / "fuzz.jsonl").stat().st_size
    again = SH.merge([a, b], findings_dir=fdir)
    assert again.added == 0 and again.fuzz["present"] == 4 and (c / "fuzz.jsonl").stat().st_size == size


def test_findings_of_different_kinds_stay_apart(tmp_path, monkeypatch):
    a, b = tmp_path / "a", tmp_path / "b"
    _fuzz_store(a, "1/2", 3, "early-order-aaaaaa")
    _fuzz_store(b, "2/2", 4, "stuck-x-bbbbbb", kind="stuck/x")
    monkeypatch.setenv("LAB_RESULTS", str(tmp_path / "c"))
    merged = SH.merge([a, b], findings_dir=tmp_path / "findings")
    assert merged.fuzz["findings"] == 2 and merged.fuzz["witnesses"] == 0
    assert sorted(F.latest_records()) == ["early-order-aaaaaa", "stuck-x-bbbbbb"]


def test_merge_refuses_what_is_not_a_shards_store(tmp_path, monkeypatch, lab_results):
    (tmp_path / "empty").mkdir()
    with pytest.raises(LabError, match="holds no records"):
        SH.merge([tmp_path / "empty"])
    with pytest.raises(LabError, match="no such folder"):
        SH.merge([tmp_path / "missing"])
    lab_results.mkdir(parents=True, exist_ok=True)
    (lab_results / "fuzz.jsonl").write_text("")
    with pytest.raises(LabError, match="the current store"):
        SH.merge([lab_results])


# -- a real two-shard campaign -------------------------------------------------------------------


def _lab(*args: str, store: Path, timeout: float = 120) -> subprocess.Popen:
    env = {**os.environ, "LAB_RESULTS": str(store), "LAB_FINDINGS": str(store / "findings"), "COLUMNS": "200"}
    return subprocess.Popen([sys.executable, "-m", "lab", *args], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def test_a_two_shard_campaign_run_as_two_processes_merges_into_one_results_md(tmp_path):
    """Two `lab fuzz --shard k/2` processes, each with its own store (its own redis-server and workers), run side
    by side; `lab report --merge` brings both into a third store and writes one RESULTS.md from it.  Every record
    of both is there once, and merging again adds nothing."""
    stores = [tmp_path / "shard1", tmp_path / "shard2"]
    procs = [_lab("fuzz", "healthy", "--examples", "6", "--seed", "3", "--shard", f"{k}/2", "--json", store=s)
             for k, s in enumerate(stores, 1)]
    try:
        outs = [p.communicate(timeout=240)[0] for p in procs]
    finally:
        for p in procs:  # a timed-out shard must not outlive the test with its redis-server and workers
            if p.poll() is None:
                p.terminate()
                p.wait(timeout=30)
    for p, text in zip(procs, outs):
        assert p.returncode in (0, 1), text[-2000:]
    runs = [json.loads(text.strip().splitlines()[-1]) for text in outs]
    shard_recs = [F.load_records(s / "fuzz.jsonl") for s in stores]
    plans = [next(r for r in recs if r["kind"] == "fuzz-run")["plan"] for recs in shard_recs]
    assert [p["shard"] for p in plans] == ["1/2", "2/2"] and all(p["in_flight"] >= 1 for p in plans)
    for recs in shard_recs:
        for r in recs:
            if r["kind"] == "fuzz-finding":  # each shard's hypothesis runs used its own seeds: 3 (+2r) and 4 (+2r)
                assert (r["seed"] - 3) % 2 == (r["plan"]["shard"] == "2/2")

    merged_store, report = tmp_path / "merged", tmp_path / "RESULTS.md"
    p = _lab("report", "--merge", *map(str, stores), "--output", str(report), store=merged_store)
    text = p.communicate(timeout=60)[0]
    assert p.returncode == 0, text
    merged = F.load_records(merged_store / "fuzz.jsonl")
    made = [r for r in merged if r["kind"] == "fuzz-finding-update" and "witnesses" in r.get("updates", {})]
    keys = [F._merge_key(r) for r in merged if r not in made]
    assert len(keys) == len(set(keys)) == sum(map(len, shard_recs))  # every record of both shards, once
    assert set(keys) == {F._merge_key(r) for recs in shard_recs for r in recs}
    found = F.latest_records(merged)
    kinds = {r["finding_kind"] for recs in shard_recs for r in recs if r["kind"] == "fuzz-finding"}
    assert sorted(r["finding_kind"] for r in found.values()) == sorted(kinds)  # one finding per kind
    body = report.read_text()
    examples = sum(r["stats"]["examples"] for r in runs)
    assert f"Generated from 2 fuzz run(s) stored in `fuzz.jsonl`: {examples} examples" in body

    before = (merged_store / "fuzz.jsonl").read_bytes()
    p = _lab("report", "--merge", *map(str, stores), "--output", str(report), store=merged_store)
    text = p.communicate(timeout=60)[0]
    assert p.returncode == 0 and "0 fuzz record(s) added" in text, text
    assert (merged_store / "fuzz.jsonl").read_bytes() == before
