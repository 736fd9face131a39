"""The casebook (``lab casebook``): pages rendered from hand-built records, and the real folder opened in a real browser.

The pure tests build a split-queue run by hand (``builders``), judge it with the lab's judge, and check what each
page says: the set-up, the config as Python, the proof lines, the cause's meaning and fix from the catalogue, and
relative links to the pictures.  The browser test writes the casebook for a few scenarios from the committed
records into a temporary folder and opens every page with Debian's chromium, headless, over the DevTools protocol
on a pipe: every picture must load, and every relative link must lead to a file (and to its anchor) that exists.
"""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from functools import partial
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from builders import CALLBACK_TASK, W1, callback_published, chord, observations, parts_ran

from lab.judge import judge
from lab.report import casebook as C

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None)

SPLIT = {"name": "split-queues", "description": "callback routed to 'reports', which <no> worker consumes",
         "expect": "stuck", "expect_cause": "callback-queue-unconsumed", "mechanism": "1", "fix": "split-queues-fixed",
         "broker": "redis", "backend": "redis", "config": {"task_routes": {CALLBACK_TASK: {"queue": "reports"}}},
         "workers": [{"name": "w1", "queues": ["execution"], "concurrency": 2, "pool": "prefork", "argv": ""}],
         "chords": [{"header": 3, "header_task": "lab.part", "callback": "lab.collect"}]}
obs = partial(observations, scenario=SPLIT, chords=[chord(header_queue="execution", callback_queue="reports")],
              consumers={W1: ["execution"]})


def split_record() -> dict:
    o = obs(parts_ran() + [callback_published(queue="reports")],
            queues={"reports": {"length": 1, "messages": [{"task_id": "cb-1", "name": "lab.collect"}]}})
    return {"run_id": o["run_id"], "scenario": "split-queues", "seed": 7, "replay": "python -m lab run split-queues --seed 7",
            "versions": {"celery": "5.7.0", "kombu": "5.7.0", "redis-server": "7.0.15"}, "outcome": {"status": "matched"},
            "observations": o}


def entry(svg: str | None = "timelines/split-queues.svg") -> tuple[dict, list[dict]]:
    rec = split_record()
    verdicts = [v.to_dict() for v in judge(rec["observations"])]
    return C.scenario_entry("split-queues", rec, verdicts, runs=2, matched=2, celery_versions=["5.7.0", "5.3.6"],
                            doc="Mechanism 1: the callback goes to ``reports``.", source="scenario = ...\n",
                            svg=svg), verdicts


def test_scenario_page_shows_set_up_config_proof_meaning_and_fix():
    """A scenario's page says what it sets up (workers, queues, the config as Python), shows the run's picture by a
    relative path, the re-judged verdict with every proof line, and the catalogue's meaning and fix."""
    e, verdicts = entry()
    assert [(g["verdict"], g["cause"]) for g in e["groups"]] == [("stuck", "callback-queue-unconsumed")]
    fixed = {**C.scenario_entry("split-queues-fixed", None, [], scenario={**SPLIT, "name": "split-queues-fixed",
                                                                          "expect": "completed", "fix": None}),
             "svg": "timelines/split-queues-fixed.svg", "run": {"run_id": "fixed-run"}}
    text = C.render_scenario(e, fixed)
    assert "callback routed to &#x27;reports&#x27;, which &lt;no&gt; worker consumes" in text  # escaped, never raw HTML
    assert "<code>-Q execution</code>" in text and "2 / prefork" in text
    assert "app.conf.update(task_routes={&#x27;lab.collect&#x27;: {&#x27;queue&#x27;: &#x27;reports&#x27;}})" in text
    for line in verdicts[0]["evidence"]:
        assert C.esc(line) in text
    assert "the callback message waits in a queue that no worker consumes" in text  # the catalogue's meaning
    assert "<strong>Fix:</strong> start a worker with <code>-Q reports,execution</code>" in text  # its fix, over the run
    assert 'src="../timelines/split-queues.svg"' in text and 'src="../timelines/split-queues-fixed.svg"' in text
    assert 'href="split-queues-fixed.html"' in text and 'href="../index.html"' in text
    assert "<code>reports</code>" in text  # the docstring's reST code
    assert "Celery versions run: 5.3.6, 5.7.0" in text


def test_pages_load_nothing_from_outside():
    """No CDN, no web font, no script: every src and href is relative, the CSS inline."""
    e, _ = entry()
    f = {"id": "early-order-1", "finding_kind": "early/order", "verdict": "early", "summary": "ran with [1, 0]",
         "files": {"run.sh": "celery -A tasks worker -Q execution\n"}, "copied": ["fuzz"], "evidence": ["oracle: [0, 1]"]}
    pages = [C.render_scenario(e), C.render_finding(f), C.render_code({"fuzz": "x = 1\n"}),
             C.render_index([e], [f], targets=[{"name": "split-queues", "kind": "scenario", "href": "scenarios/split-queues.html"}])]
    for text in pages:
        assert C.MARKER in text and "<style>" in text
        assert not re.search(r"<(script|link)\b", text)
        for url in re.findall(r'(?:src|href)="([^"]*)"', text):
            assert not re.match(r"^[a-z]+:|^//|^/", url), url
    assert "not bisected yet" in pages[3]
    assert 'href="../code.html#fuzz"' in pages[1] and 'id="fuzz"' in pages[2]


def test_fix_text_is_the_catalogues_fix_over_the_run():
    """The fix of an expiry cause names the scenario's own setting; a cause the catalogue has no fix for has none."""
    o = obs(parts_ran())
    o["scenario"] = {**SPLIT, "config": {"result_expires": 2}}
    assert "now result_expires = 2 s" in C.fix_text("chord-size-key-missing", o)
    assert C.fix_text("failure-unrecorded", o) is None and C.fix_text(None, o) is None


def test_release_rows_use_the_bisection_or_say_not_bisected_yet():
    """A bisected target shows its range (lab.report.bisect's words); the others say they are not bisected yet."""
    rows = C.release_rows([{"name": "a", "kind": "finding", "href": "findings/a.html", "versions": ["5.7.0"],
                            "range": "5.5.0..5.7.0", "changed": "**5.5.0** (kombu 5.5.0)"},
                           {"name": "b", "kind": "scenario", "versions": []}])
    assert rows[0][3] == "5.5.0..5.7.0" and "<strong>5.5.0</strong>" in rows[0][4]
    assert rows[1][3] == "not bisected yet" and rows[1][2] == "—"


def test_markdown_sections_become_html_tables():
    """The matrix section RESULTS.md prints is shown as an HTML table, its inline marks kept."""
    md = "## Which versions\n\n_Generated._\n\n| scenario | celery 5.7.0 |\n|---|---|\n| `split-queues` | 3/3 · **stuck** |\n"
    text = C.md_blocks(md.split("\n"))
    assert "<h2>Which versions</h2>" in text and "<p><em>Generated.</em></p>" in text
    assert "<tr><td><code>split-queues</code></td><td>3/3 · <strong>stuck</strong></td></tr>" in text


def test_the_picture_is_lab_shows_timeline_made_smaller(tmp_path):
    """draw_timeline draws the stored run with lab show's write_svg and keeps every label and every mark, in fewer
    bytes: no metadata (so no timestamp: the same run draws the same file), rounded coordinates, circles as arcs."""
    from lab.views.timeline import write_svg

    rec = split_record()
    verdicts = [v.to_dict() for v in judge(rec["observations"])]
    raw = write_svg(rec["observations"], verdicts, tmp_path / "raw.svg").read_text()
    size = C.draw_timeline(rec["observations"], verdicts, tmp_path / "small.svg")
    small = (tmp_path / "small.svg").read_text()
    assert size == len(small.encode()) < len(raw.encode()) * 0.8
    C.draw_timeline(rec["observations"], verdicts, tmp_path / "again.svg")
    assert (tmp_path / "again.svg").read_text() == small

    def texts(svg: str) -> list[str]:
        return sorted("".join(t.itertext()) for t in ET.fromstring(svg.encode()).iter("{http://www.w3.org/2000/svg}text"))

    assert texts(small) == texts(raw) and "reports" in " ".join(texts(small))
    assert "<metadata" not in small
    circle = ("M0 72.6C0.159 72.6 0.312 72.54 0.424 72.42C0.537 72.31 0.6 72.16 0.6 72C0.6 71.84 0.537 71.69 0.424 71.58"
              "C0.312 71.46 0.159 71.4 0 71.4C-0.159 71.4 -0.312 71.46 -0.424 71.58C-0.537 71.69 -0.6 71.84 -0.6 72"
              "C-0.6 72.16 -0.537 72.31 -0.424 72.42C-0.312 72.54 -0.159 72.6 0 72.6z")
    assert C._circles_as_arcs(circle + " M1 2 L3 4") == "M-0.6 72a0.6 0.6 0 1 0 1.2 0a0.6 0.6 0 1 0 -1.2 0z M 1 2 L 3 4"


def _lab(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lab", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}, cwd=ROOT)


def test_bad_input_is_one_sentence_and_254(tmp_path):
    """An unknown scenario, an --out that is a file, or a folder that is not a casebook: one sentence, exit 254."""
    (tmp_path / "file").write_text("x")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    for args, words in [(["--scenario", "no-such-scenario", "--out", str(tmp_path / "cb")], "unknown scenario 'no-such-scenario'"),
                        (["--out", str(tmp_path / "file")], "is a file"),
                        (["--out", str(tmp_path / "mine"), "--scenario", "healthy"], "other than a casebook")]:
        p = _lab("casebook", *args)
        assert p.returncode == 254, p.stderr
        assert words in p.stderr and "Traceback" not in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me" and not (tmp_path / "cb").exists()


# -- the real thing, in a real browser --------------------------------------------------------------------------


class Browser:
    """Debian's chromium, headless, driven over the DevTools protocol on a pipe (fd 3 in, fd 4 out): no extra package."""

    def __init__(self, binary: str, profile: Path):
        to_r, self._w = os.pipe()
        self._r, from_w = os.pipe()

        def fds() -> None:
            os.dup2(to_r, 3)
            os.dup2(from_w, 4)

        self.proc = subprocess.Popen([binary, "--headless", "--remote-debugging-pipe", "--no-sandbox", "--disable-gpu",
                                      "--no-first-run", "--no-default-browser-check", f"--user-data-dir={profile}",
                                      "about:blank"], pass_fds=(3, 4), preexec_fn=fds, start_new_session=True,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_r)
        os.close(from_w)
        self._buf, self._id = b"", 0

    def _send(self, method: str, params: dict | None = None, session: str | None = None) -> int:
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}, **({"sessionId": session} if session else {})}
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        return self._id

    def _until(self, wanted, bound: float, what: str) -> dict:
        deadline = time.monotonic() + bound
        while True:
            while b"\0" in self._buf:
                raw, self._buf = self._buf.split(b"\0", 1)
                msg = json.loads(raw)
                if wanted(msg):
                    return msg
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"chromium: {what} not seen within {bound:g} s")
            if select.select([self._r], [], [], left)[0]:
                chunk = os.read(self._r, 1 << 16)
                if not chunk:
                    raise AssertionError(f"chromium closed its pipe while waiting for {what}")
                self._buf += chunk

    def call(self, method: str, params: dict | None = None, session: str | None = None, bound: float = 30) -> dict:
        i = self._send(method, params, session)
        msg = self._until(lambda m: m.get("id") == i, bound, f"the answer to {method}")
        assert "error" not in msg, f"{method}: {msg['error']}"
        return msg["result"]

    def visit(self, url: str) -> dict:
        """Open ``url`` in a new tab, wait for its load event, and read its pictures, links and ids."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.call("Page.enable", session=session)
        self.call("Page.navigate", {"url": url}, session=session)
        self._until(lambda m: m.get("method") == "Page.loadEventFired" and m.get("sessionId") == session, 30,
                    f"the load event of {url}")
        js = ("Promise.all([...document.images].map(i => { i.loading = 'eager'; return i.decode().catch(() => null); }))"
              ".then(() => JSON.stringify({images: [...document.images].map(i => [i.getAttribute('src'), i.src,"
              " i.complete, i.naturalWidth]), links: [...document.querySelectorAll('a[href]')].map(a =>"
              " [a.getAttribute('href'), a.href]), ids: [...document.querySelectorAll('[id]')].map(e => e.id),"
              " title: document.title}))")
        got = self.call("Runtime.evaluate", {"expression": js, "returnByValue": True, "awaitPromise": True}, session=session)
        self.call("Target.closeTarget", {"targetId": target})
        return json.loads(got["result"]["value"])

    def close(self) -> None:
        try:
            self._send("Browser.close")
            self.proc.wait(10)
        except Exception:  # noqa: BLE001 - it must go, whatever state it is in
            pass
        finally:
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
            os.close(self._w)
            os.close(self._r)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian: apt-get install chromium; .ci/run does)")
def test_every_page_opens_in_a_real_browser_with_every_picture_and_link(tmp_path, monkeypatch):
    """The casebook of two scenarios (and their fixed variants) and one finding, written from the committed
    records, opened page by page in headless chromium from file://: each <img> has loaded (naturalWidth > 0, so
    the SVG parsed), and each relative link leads to a file that exists, and to an element with its #anchor."""
    scenarios = ["split-queues", "worker-crash"]
    store = tmp_path / "store"
    _copy_legacy(set(scenarios) | {"split-queues-fixed", "worker-crash-acks-late"}, store)
    findings = tmp_path / "findings"
    findings.mkdir()
    shutil.copy(ROOT / "findings" / "early_order_168d50.py", findings)
    out = tmp_path / "site" / "casebook"
    p = _lab("casebook", "--out", str(out), *sum((["--scenario", n] for n in [*scenarios, "early-order-168d50"]), []),
             env={"LAB_RESULTS": str(store), "LAB_FINDINGS": str(findings)})
    assert p.returncode == 0, p.stderr
    pages = sorted(out.rglob("*.html"))
    assert {q.relative_to(out).as_posix() for q in pages} == {
        "index.html", "code.html", "findings/early-order-168d50.html", "scenarios/split-queues.html",
        "scenarios/split-queues-fixed.html", "scenarios/worker-crash.html", "scenarios/worker-crash-acks-late.html"}
    assert len(list((out / "timelines").glob("*.svg"))) == 4

    assert _open_all(pages, tmp_path) >= 4 + 2  # each scenario's own picture, and the fixed variant's on the two pages


def _open_all(pages: list[Path], tmp_path: Path) -> int:
    """Open every page in headless chromium; assert every picture loaded and every relative link (and its #anchor)
    resolves; return how many pictures loaded."""
    browser = Browser(CHROMIUM, Path(tempfile.mkdtemp(dir=tmp_path, prefix="chromium-")))
    try:
        seen = {q: browser.visit(q.as_uri()) for q in pages}
    finally:
        browser.close()
    ids = {q.resolve(): set(v["ids"]) for q, v in seen.items()}
    pictures = 0
    for q, v in seen.items():
        assert v["title"], q
        for src, url, complete, width in v["images"]:
            assert complete and width > 0, f"{q.name}: picture {src} did not load"
            pictures += 1
        for href, url in v["links"]:
            parts = urlsplit(url)
            assert parts.scheme == "file" and not re.match(r"^[a-z]+:", href), f"{q.name}: {href} is not relative"
            target = Path(unquote(parts.path))
            assert target.is_file(), f"{q.name}: link {href} is broken"
            if parts.fragment and target.suffix == ".html":
                assert parts.fragment in ids[target.resolve()], f"{q.name}: {href} names no element of {target.name}"
    return pictures


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (Debian: apt-get install chromium; .ci/run does)")
def test_the_committed_casebook_has_every_scenario_and_opens_whole(tmp_path):
    """docs/casebook as committed: a page for every scenario of the catalogue and every finding, and every page,
    picture and link good in a real browser (the casebook is regenerated by hand: `python -m lab casebook`)."""
    from lab.scenario import scenario_paths

    site = ROOT / "docs" / "casebook"
    pages = sorted(site.rglob("*.html"))
    have = {q.stem for q in (site / "scenarios").glob("*.html")}
    missing = sorted(set(scenario_paths()) - have)
    assert not missing, f"the committed casebook lacks {missing}: run python -m lab casebook"
    findings = {q.stem for q in (site / "findings").glob("*.html")}
    assert len(findings) == len(list((ROOT / "findings").glob("*.py")))
    assert _open_all(pages, tmp_path) >= len(have)


def _copy_legacy(names: set[str], store: Path) -> None:
    """The committed records of ``names`` only, as a store of their own (an older lab's runs.jsonl, which the
    readers still take), so that the casebook reads those and nothing else."""
    from lab import records

    store.mkdir(parents=True, exist_ok=True)
    recs = [r for r in records.load_all(ROOT / "results") if r.get("scenario") in names]
    assert {r["scenario"] for r in recs} == names, f"no committed record of {sorted(names - {r['scenario'] for r in recs})}"
    records.legacy_runs_file(store).write_text("".join(json.dumps(r) + "\n" for r in recs))
