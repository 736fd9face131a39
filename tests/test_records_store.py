"""The campaign store: gzip members appended whole, torn members skipped, compaction and the move out of runs.jsonl lossless.

Pure: files in the test's own store, no lab process (threads stand in for concurrent writers).
"""

from __future__ import annotations

import gzip
import json
import threading
import time
import zlib

import pytest
from click.testing import CliRunner

from lab import records
from lab.records import gzjsonl
from lab.errors import LabError


def _rec(i: int, *, store: str = "/somewhere/results", t: float | None = None, **extra) -> dict:
    return {"run_id": f"s-{i:03d}", "scenario": "s", "started_at": 1_795_950_000.0 + i if t is None else t,
            "elapsed_s": 1.0, "run_dir": f"{store}/runs/s-{i:03d}", "observations": {"pad": "x" * 2000}, **extra}


def _ids(recs) -> list[str]:
    return [r["run_id"] for r in recs]


def _members(path) -> int:
    data, n = path.read_bytes(), 0
    while data:
        d = zlib.decompressobj(wbits=31)
        d.decompress(data)
        assert d.eof, "a torn member"
        data, n = d.unused_data, n + 1
    return n


def test_append_writes_one_member_per_record_to_the_campaign(lab_results, monkeypatch):
    """Each record is one gzip member of one line in records/<LAB_CAMPAIGN>.jsonl.gz; gzip itself reads the file."""
    monkeypatch.setenv("LAB_CAMPAIGN", "trial-1")
    for i in range(3):
        assert records.append(_rec(i)) == lab_results / "records" / "trial-1.jsonl.gz"
    path = records.campaign_file()
    assert _members(path) == 3
    assert [json.loads(line) for line in gzip.decompress(path.read_bytes()).splitlines()] == [_rec(i) for i in range(3)]
    assert list(records.load_all()) == [_rec(i) for i in range(3)]
    assert records.find("s-001") == _rec(1)
    assert records.find("latest") == _rec(2)


def test_the_default_campaign_is_the_month_and_a_bad_name_is_one_sentence(lab_results, monkeypatch):
    monkeypatch.delenv("LAB_CAMPAIGN", raising=False)
    assert records.campaign() == time.strftime("runs-%Y-%m", time.gmtime())
    for bad in ("../escape", "a/b", ".hidden", "x" * 101):
        monkeypatch.setenv("LAB_CAMPAIGN", bad)
        with pytest.raises(LabError, match="cannot name a campaign"):
            records.check_store_writable()
    assert not lab_results.exists()


def test_a_torn_last_member_is_skipped_at_every_cut(lab_results):
    """A crash mid-append, cut at any byte of the last member: the earlier records read, no error, nothing half."""
    for i in range(3):
        records.append(_rec(i))
    path = records.campaign_file()
    whole = path.read_bytes()
    last = len(gzjsonl.member(records._line(_rec(2))))
    for cut in range(len(whole) - last, len(whole)):
        path.write_bytes(whole[:cut])
        assert _ids(records.load_all()) == ["s-000", "s-001"], cut


def test_a_torn_member_does_not_swallow_the_next_append(lab_results):
    """After a torn member, the next append is a member of its own, and is read."""
    records.append(_rec(0))
    path = records.campaign_file()
    torn = gzjsonl.member(records._line(_rec(1)))
    with open(path, "ab") as f:
        f.write(torn[: len(torn) // 2])
    records.append(_rec(2))
    records.append(_rec(3))
    assert _ids(records.load_all()) == ["s-000", "s-002", "s-003"]


def test_compaction_keeps_every_record_in_one_member(lab_results, monkeypatch):
    """Compaction: one member, every record byte for byte and in order, a torn member dropped, the file smaller."""
    monkeypatch.setenv("LAB_CAMPAIGN", "a")
    for i in range(40):
        records.append(_rec(i))
    with open(records.campaign_file(), "ab") as f:
        f.write(gzjsonl.member(records._line(_rec(99)))[:30])
    monkeypatch.setenv("LAB_CAMPAIGN", "b")
    records.append(_rec(50))
    before = {p.name: list(gzjsonl.read_lines(p)) for p in records.campaign_files()}
    done = records.compact()
    assert [(name, n) for name, _, _, n in done] == [("a", 40), ("b", 1)]
    assert done[0][2] < done[0][1] / 3
    for p in records.campaign_files():
        assert _members(p) == 1
        assert list(gzjsonl.read_lines(p)) == before[p.name]
    assert _ids(records.load_all()) == [f"s-{i:03d}" for i in [*range(40), 50]]
    assert not [p for p in records.records_dir().iterdir() if p.name.startswith(".")], "a temp file was left"
    monkeypatch.setenv("LAB_CAMPAIGN", "a")
    records.append(_rec(41))  # appends go on after compaction
    assert _ids(records.load_all())[-2:] == ["s-041", "s-050"]


def test_compaction_loses_no_record_appended_meanwhile(lab_results):
    """Writers append while compaction replaces the file: every record is in the file at the path afterwards."""
    records.append(_rec(0))

    def writer(start: int) -> None:
        for i in range(start, start + 25):
            records.append(_rec(i), latest=False)

    threads = [threading.Thread(target=writer, args=(k * 100 + 1,)) for k in range(3)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        records.compact()
    for t in threads:
        t.join()
    records.compact()
    assert sorted(_ids(records.load_all())) == sorted(["s-000"] + [f"s-{k * 100 + i:03d}" for k in range(3) for i in range(1, 26)])
    assert _members(records.campaign_file()) == 1


def _legacy(lab_results, recs: list[dict], tail: bytes = b"") -> bytes:
    lab_results.mkdir(parents=True, exist_ok=True)
    data = b"".join(records._line(r) for r in recs) + tail
    records.legacy_runs_file().write_bytes(data)
    return data


def _stores() -> list[dict]:
    """Runs of three stores in a legacy file, the second not in time order, with values JSON is fussy about."""
    odd = {"float": 1795952423.368098, "tiny": 5e-324, "text": "ünïcode ✓ \u2028", "nested": [{"a": None, "b": [True, 1.5]}]}
    return ([_rec(i, store="/w/results-final-staging", t=2000.0 + i, **odd) for i in range(3)]
            + [_rec(i, store="/w/results-stability-staging", t=1000.0 - i) for i in range(3, 6)]
            + [_rec(i, store="/tmp/p8/partition-results", t=1500.0,
                    observations={"topology": {"runtime": "docker"}}) for i in range(6, 8)])


def test_migrate_is_lossless_and_keeps_the_order(lab_results):
    """runs.jsonl into one campaign per store, named from the records, every line byte for byte; runs.jsonl gone."""
    recs = _stores()
    data = _legacy(lab_results, recs, tail=b'{"run_id": "torn", "sce')
    before = list(records.load_all())
    moved = records.migrate()
    assert not records.legacy_runs_file().exists()
    assert moved["records"] == 8 and moved["skipped"] == 1 and moved["legacy_bytes"] == len(data)
    names = [p.name for p in records.campaign_files()]
    assert names == ["1970-01-01-1-final.jsonl.gz", "1970-01-01-2-stability.jsonl.gz",
                     "1970-01-01-3-partition-docker.jsonl.gz"]
    assert list(records.load_all()) == before == recs  # parsed objects, in the old file's order
    lines = b"".join(line for p in records.campaign_files() for line in gzjsonl.read_lines(p))
    assert lines + b'{"run_id": "torn", "sce' == data  # and every byte of every record
    assert all(_members(p) == 1 for p in records.campaign_files())
    assert records.migrate() is None


def test_a_migration_cut_short_reads_the_same_and_finishes_when_run_again(lab_results):
    """Campaign files written, runs.jsonl not yet removed: each run is read once, in the old order; migrate again finishes."""
    recs = _stores()
    data = _legacy(lab_results, recs)
    records.migrate()
    records.legacy_runs_file().write_bytes(data)  # as if the crash came before the unlink
    assert list(records.load_all()) == recs
    records.migrate()
    assert not records.legacy_runs_file().exists() and list(records.load_all()) == recs


def test_migrate_never_overwrites_a_campaign_that_holds_other_records(lab_results, monkeypatch):
    recs = _stores()
    _legacy(lab_results, recs)
    monkeypatch.setenv("LAB_CAMPAIGN", "1970-01-01-2-stability")
    records.append(_rec(42))
    with pytest.raises(LabError, match="already exists and holds other records"):
        records.migrate()
    assert records.legacy_runs_file().exists()
    assert _ids(records.load_all(records.campaign_file())) == ["s-042"]


def test_legacy_and_campaigns_read_together(lab_results, monkeypatch):
    """runs.jsonl first, then the campaigns in name order; `find` sees both; `latest` is the newest run, wherever it is."""
    _legacy(lab_results, [_rec(0, t=100.0), _rec(1, t=300.0)])
    monkeypatch.setenv("LAB_CAMPAIGN", "zz-later-name")
    records.append(_rec(2, t=200.0), latest=False)
    monkeypatch.setenv("LAB_CAMPAIGN", "aa-earlier-name")
    records.append(_rec(3, t=150.0), latest=False)
    assert _ids(records.load_all()) == ["s-000", "s-001", "s-003", "s-002"]
    assert records.find("s-000")["run_id"] == "s-000" and records.find("s-002")["run_id"] == "s-002"
    assert records.find("latest")["run_id"] == "s-001"  # no pointer: the last to finish
    records.append(_rec(4, t=50.0))  # a run recorded now is `latest`, whatever its clock said
    assert records.find("latest")["run_id"] == "s-004"
    (lab_results / "latest").unlink()
    assert records.find("latest")["run_id"] == "s-001"
    assert _ids(records.load_all(lab_results)) == _ids(records.load_all())  # a store named by its folder


def test_the_store_check_names_the_campaign_paths(lab_results):
    """records/ that is a file, or a campaign file that is a folder: one sentence naming it (exit 254)."""
    lab_results.mkdir()
    (lab_results / "records").write_text("x")
    with pytest.raises(LabError, match="holds records, which is not a folder"):
        records.check_store_writable()
    (lab_results / "records").unlink()
    records.campaign_file().mkdir(parents=True)
    with pytest.raises(LabError, match=r"holds records/runs-\d{4}-\d\d\.jsonl\.gz, which is not a file"):
        records.check_store_writable()


def test_the_records_commands(lab_results):
    """`lab records migrate | compact | list`, in process."""
    from lab.cli.main import main

    _legacy(lab_results, _stores())
    runner = CliRunner()
    done = runner.invoke(main, ["records", "migrate"])
    assert done.exit_code == 0 and "moved 8 record(s) from runs.jsonl" in done.output, done.output
    records.append(_rec(9))
    records.append(_rec(10))
    done = runner.invoke(main, ["records", "compact"])
    assert done.exit_code == 0 and "2 record(s)" in done.output, done.output
    done = runner.invoke(main, ["records", "list"])
    assert done.exit_code == 0 and "records/1970-01-01-1-final.jsonl.gz: 3 record(s)" in done.output, done.output
    assert "nothing to migrate" in runner.invoke(main, ["records", "migrate"]).output
