"""The casebook: every scenario and every fuzzing finding as a static site, with the pictures, for teaching.

    records (runs, fuzz.jsonl, bisect.json) → **casebook** (HTML pages + timeline SVGs) → docs/casebook/

``python -m lab casebook`` writes a folder that opens from the file system (no server, no external
asset: the CSS is inline, every link relative):

- ``index.html``: every scenario and finding, and the versions and release ranges as tables;
- ``scenarios/NAME.html``: what the scenario sets up (its workers and queues, its config as Python),
  the timeline of a representative stored run (``timelines/NAME.svg``, drawn by
  ``lab.views.timeline.write_svg`` from the stored observations, never from a new run), the verdicts
  re-judged with their proof, each cause's meaning and fix from ``lab.judge.causes``, and the picture
  of its fixed variant;
- ``findings/ID.html``: the reproducer exactly as ``lab export`` writes it (``code.html`` holds the
  lab's task modules it copies, once).

The pages are pure functions of plain dicts (``scenario_entry``, ``render_scenario``, ``render_finding``,
``render_index``), so they are tested over hand-built records; ``write_casebook`` reads the store and
writes the folder.  ``optimise_svg`` keeps the committed pictures small.
"""

from __future__ import annotations

import ast
import html
import os
import re
import shutil
import tempfile
import xml.etree.ElementTree as ET
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from lab.errors import LabError

MARKER = '<meta name="generator" content="lab casebook">'
CSS = """
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;max-width:72rem;margin:0 auto;padding:1rem 1.5rem;color:#1d1d1d}
nav{font-size:.9rem;margin-bottom:1rem}a{color:#1f4f8f}h1{margin:.2rem 0}h1 code{font-size:1.6rem}
pre{background:#f6f6f4;border:1px solid #e2e2dc;padding:.6rem .8rem;overflow-x:auto;font-size:.82rem;line-height:1.35}
code{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:.9em}
table{border-collapse:collapse;margin:.6rem 0;font-size:.9rem}td,th{border:1px solid #ddd;padding:.25rem .5rem;vertical-align:top;text-align:left}
th{background:#f2f2f2}figure{margin:1rem 0}figure img{max-width:100%;height:auto;border:1px solid #e4e4e4}
figcaption{font-size:.85rem;color:#555}.v pre{white-space:pre-wrap}.v{padding:.5rem .8rem;margin:.6rem 0;border-left:5px solid #999;background:#fafafa}
.v-stuck,.v-failed,.v-unknown{border-color:#b01e1e}.v-early,.v-duplicated,.v-unrecorded{border-color:#c77700}.v-completed{border-color:#2e7d32}
.tag{display:inline-block;padding:0 .4rem;border-radius:.3rem;font-size:.82rem;background:#eee}
.t-stuck,.t-failed,.t-unknown{background:#fbe3e3;color:#8b1212}.t-early,.t-duplicated,.t-unrecorded{background:#fff0d6;color:#7a4a00}
.t-completed{background:#e3f3e4;color:#1e5e22}details{margin:.6rem 0}summary{cursor:pointer}.muted{color:#666}
""".strip()

VERDICT_ORDER = ("stuck", "failed", "early", "duplicated", "unrecorded", "unknown", "completed")


class CasebookError(LabError):
    """A casebook asked for wrongly (an unknown scenario, a folder it cannot write): one sentence, exit 254."""


# -- small pure helpers -----------------------------------------------------------------------------------


def esc(text: Any) -> str:
    return html.escape("" if text is None else str(text), quote=True)


def md_inline(text: str) -> str:
    """Markdown's inline marks as HTML (code, bold, italics), everything else escaped."""
    codes: list[str] = []

    def keep(m: re.Match) -> str:
        codes.append(f"<code>{html.escape(m.group(1) or m.group(2), quote=False)}</code>")
        return f"\x00{len(codes) - 1}\x00"

    s = re.sub(r"``(.+?)``|`([^`]+)`", keep, text)  # a docstring's reST ``code`` too
    s = html.escape(s, quote=False)
    s = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", s)
    s = re.sub(r"(?<![\w*])\*(?![\s*])(.+?)(?<![\s*])\*(?![\w*])", r"<em>\1</em>", s)
    s = re.sub(r"(?<![\w])_(?![\s_])(.+?)(?<![\s_])_(?![\w])", r"<em>\1</em>", s)
    return re.sub(r"\x00(\d+)\x00", lambda m: codes[int(m.group(1))], s)


def md_blocks(lines: Iterable[str], *, shift: int = 0) -> str:
    """The markdown the report's sections are written in (headings, tables, lists, fences, paragraphs) as HTML."""
    flat = [ln for item in lines for ln in str(item).split("\n")]
    out: list[str] = []
    para: list[str] = []
    i = 0

    def flush() -> None:
        if para:
            out.append("<p>" + md_inline(" ".join(para)) + "</p>")
            para.clear()

    while i < len(flat):
        ln = flat[i]
        if ln.startswith("```"):
            flush()
            j = i + 1
            while j < len(flat) and not flat[j].startswith("```"):
                j += 1
            out.append("<pre><code>" + esc("\n".join(flat[i + 1:j])) + "</code></pre>")
            i = j + 1
            continue
        heading = re.match(r"^(#{1,6}) (.*)", ln)
        if heading:
            flush()
            level = min(6, len(heading.group(1)) + shift)
            out.append(f"<h{level}>{md_inline(heading.group(2))}</h{level}>")
        elif ln.startswith("|"):
            flush()
            rows = []
            while i < len(flat) and flat[i].startswith("|"):
                rows.append(flat[i])
                i += 1
            out.append(_md_table(rows))
            continue
        elif re.match(r"^[-*] ", ln):
            flush()
            items = []
            while i < len(flat) and re.match(r"^[-*] ", flat[i]):
                items.append(flat[i][2:])
                i += 1
            out.append("<ul>" + "".join(f"<li>{md_inline(x)}</li>" for x in items) + "</ul>")
            continue
        elif not ln.strip():
            flush()
        else:
            para.append(ln.strip())
        i += 1
    flush()
    return "\n".join(out)


def _cells(row: str) -> list[str]:
    return [c.strip() for c in re.split(r"(?<!\\)\|", row.strip().strip("|"))]


def _md_table(rows: list[str]) -> str:
    body = [r for r in rows if not re.match(r"^\|[\s:|-]+\|?$", r)]
    if not body:
        return ""
    head, rest = _cells(body[0]), body[1:]
    return ("<table><tr>" + "".join(f"<th>{md_inline(c)}</th>" for c in head) + "</tr>"
            + "".join("<tr>" + "".join(f"<td>{md_inline(c)}</td>" for c in _cells(r)) + "</tr>" for r in rest)
            + "</table>")


def table(head: list[str] | None, rows: list[list[str]]) -> str:
    """An HTML table whose cells are HTML already (no header row when ``head`` is None)."""
    return ("<table>" + ("<tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>" if head else "")
            + "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows) + "</table>")


def tag(verdict: str | None, text: str | None = None) -> str:
    return f'<span class="tag t-{esc(verdict)}">{esc(text or verdict)}</span>'


def page(title: str, body: str, *, depth: int = 0) -> str:
    """A whole HTML page: inline CSS, no external asset, a relative link home."""
    home = "../" * depth + "index.html"
    nav = "" if depth == 0 else f'<nav><a href="{home}">chord failure lab · casebook</a></nav>\n'
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n" + MARKER + "\n"
            '<meta name="viewport" content="width=device-width,initial-scale=1">\n'
            f"<title>{esc(title)}</title>\n<style>{CSS}</style></head>\n<body>\n{nav}{body}\n</body></html>\n")


def slug(name: str) -> str:
    """A file name for a scenario or finding: letters, digits, '-', '_' and '.' only."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


# -- the pictures, small ------------------------------------------------------------------------------------

SVG_NS, XLINK_NS = "http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"
_NUM = re.compile(r"-?\d+\.\d+(?:e-?\d+)?")


def _round_num(m: re.Match) -> str:
    x = float(m.group(0))
    text = f"{x:.1f}" if abs(x) >= 100 else f"{x:.2f}" if abs(x) >= 1 else f"{x:.3g}"
    if "." in text and "e" not in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


_TOKEN = re.compile(r"[A-Za-z]|-?(?:\d+\.?\d*|\.\d+)(?:e-?\d+)?")


def _circles_as_arcs(d: str) -> str:
    """A path's data with each circle matplotlib writes as eight cubic curves (a dot hatch holds hundreds)
    written as two arcs; every other subpath as it was."""
    tokens = _TOKEN.findall(d)
    subpaths, cur = [], []
    for t in tokens:
        if t in "Mm" and cur:
            subpaths.append(cur)
            cur = []
        cur.append(t)
    if cur:
        subpaths.append(cur)
    out = []
    for sp in subpaths:
        circle = None
        if len(sp) == 3 + 8 * 7 + 1 and sp[0] == "M" and sp[-1] in "zZ" and all(sp[3 + 7 * i] == "C" for i in range(8)):
            try:
                pts = [(float(sp[1]), float(sp[2]))] + [(float(sp[3 + 7 * i + 5]), float(sp[3 + 7 * i + 6])) for i in range(8)]
            except ValueError:
                pts = []
            if pts:
                xs, ys = [p[0] for p in pts], [p[1] for p in pts]
                cx, cy = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2
                r = (max(xs) - min(xs)) / 2
                if r > 0 and abs((max(ys) - min(ys)) / 2 - r) <= 0.02 * r and \
                        all(abs(((x - cx) ** 2 + (y - cy) ** 2) ** 0.5 - r) <= 0.02 * r for x, y in pts):
                    circle = f"M{cx - r:.6g} {cy:.6g}a{r:.6g} {r:.6g} 0 1 0 {2 * r:.6g} 0a{r:.6g} {r:.6g} 0 1 0 {-2 * r:.6g} 0z"
        out.append(circle or " ".join(sp))
    return " ".join(out)


def optimise_svg(text: str) -> str:
    """The same picture in fewer bytes: no metadata (nor its timestamp), no unreferenced ids, no bare groups,
    no indentation, coordinates rounded (0.1 pt where they are large), path commands written tight."""
    ET.register_namespace("", SVG_NS)
    ET.register_namespace("xlink", XLINK_NS)
    root = ET.fromstring(text.encode("utf-8"))
    refs = set(re.findall(r"url\(#([^)\"']+)\)", text)) | set(re.findall(r"href=\"#([^\"]+)\"", text))

    def clean(el: ET.Element) -> None:
        kept: list[ET.Element] = []
        for ch in list(el):
            local = ch.tag.rsplit("}", 1)[-1]
            if local == "metadata":
                continue
            clean(ch)
            if "id" in ch.attrib and ch.attrib["id"] not in refs:
                del ch.attrib["id"]
            if local == "g" and not ch.attrib:
                kept.extend(ch)  # a group with nothing of its own: its children, in its place
                continue
            kept.append(ch)
        el[:] = kept
        for k, v in list(el.attrib.items()):
            if k == "transform" and re.fullmatch(r"rotate\(-?0 [^)]*\)", v):
                del el.attrib[k]  # matplotlib's "rotate(-0 x y)" on every label: no rotation at all
                continue
            if k == "d":
                v = re.sub(r"\s*([MLCQZHVAmlcqzhva])\s*", r"\1", _circles_as_arcs(v))
            elif k == "style":
                v = re.sub(r"\s*([:;])\s*", r"\1", v).strip()
            el.attrib[k] = _NUM.sub(_round_num, v)
        if el.text is not None and not el.text.strip():
            el.text = None
        for ch in el:
            if ch.tail is not None and not ch.tail.strip():
                ch.tail = None

    clean(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def draw_timeline(observations: dict[str, Any], verdicts: list[dict[str, Any]], path: Path) -> int:
    """The stored run drawn by ``lab show``'s own function, optimised into ``path``; returns its size in bytes."""
    from lab.views.timeline import write_svg

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".svg", dir=path.parent)
    os.close(fd)
    try:
        write_svg(observations, verdicts, Path(tmp))
        small = optimise_svg(Path(tmp).read_text(encoding="utf-8"))
    finally:
        Path(tmp).unlink(missing_ok=True)
    path.write_text(small, encoding="utf-8")
    return len(small.encode("utf-8"))


# -- a scenario's entry, from its record (pure) ----------------------------------------------------------------


def _queues(w: dict[str, Any]) -> str:
    return ("-Q " + ",".join(w["queues"])) if w.get("queues") else "no -Q (consumes celery)"


def verdict_groups(verdicts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The chords' verdicts, one group per (verdict, cause), worst first; each with its first chord's proof."""
    groups: dict[tuple, dict[str, Any]] = {}
    for v in verdicts:
        key = (v.get("verdict"), v.get("cause"))
        g = groups.setdefault(key, {"verdict": v.get("verdict"), "cause": v.get("cause"), "chords": [],
                                    "summary": v.get("summary") or "", "evidence": list(v.get("evidence") or [])})
        g["chords"].append(v.get("index"))
    order = {k: i for i, k in enumerate(VERDICT_ORDER)}
    return sorted(groups.values(), key=lambda g: (order.get(g["verdict"], 99), g["cause"] or ""))


def fix_text(cause: str | None, observations: dict[str, Any], chord_index: int | None = None) -> str | None:
    """The catalogue's fix for ``cause``, written over what the run read (its workers' queues and registered
    tasks, the chord's tasks and queues, the scenario's expiry): the same words doctor prints."""
    from lab.judge.causes import CATALOGUE
    from lab.judge.live import Reading

    c = CATALOGUE.get(cause or "")
    if c is None or c.fix is None:
        return None
    chords = observations.get("chords") or []
    ch = next((x for x in chords if x.get("index") == chord_index), chords[0] if chords else {}) or {}
    cfg = (observations.get("scenario") or {}).get("config") or {}
    expires = next(([cfg[k], k] for k in ("result_chord_expires", "result_expires") if isinstance(cfg.get(k), (int, float))),
                   None)
    reading = Reading({"ref": {"asked": ch.get("chord_id") or "?", "group_id": ch.get("group_id"),
                               "callback_id": ch.get("chord_id"), "header_task": ch.get("header_task"),
                               "callback_task": ch.get("callback_task"), "header_ids": ch.get("header_ids") or []},
                       "workers": (observations.get("probe") or {}).get("workers") or {},
                       "config": {"chord_expires": expires} if expires else {}})
    queue = {"header-queue-unconsumed": ch.get("header_queue")}.get(cause or "", ch.get("callback_queue"))
    try:
        return c.fix(reading, queue)
    except Exception:  # noqa: BLE001 - a fix that needs more than a run records: the meaning still stands
        return None


def cause_notes(causes: Iterable[str | None], observations: dict[str, Any],
                chord_of: dict[str, int] | None = None) -> list[dict[str, Any]]:
    """Each cause once: its id, its meaning (the catalogue's) and its fix (None when the catalogue has none)."""
    from lab.judge.causes import CATALOGUE

    out = []
    for cause in dict.fromkeys(c for c in causes if c):
        c = CATALOGUE.get(cause)
        out.append({"id": cause, "meaning": c.meaning if c else None,
                    "fix": fix_text(cause, observations, (chord_of or {}).get(cause))})
    return out


def scenario_source(text: str) -> str:
    """A scenario file without its module docstring (the page shows that as prose)."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return text
    first = tree.body[0] if tree.body else None
    if isinstance(first, ast.Expr) and isinstance(getattr(first, "value", None), ast.Constant) \
            and isinstance(first.value.value, str):
        lines = text.splitlines()
        return "\n".join(lines[first.end_lineno:]).strip("\n") + "\n"
    return text


def _vkey(v: str) -> tuple:
    return tuple(int(x) if x.isdigit() else 0 for x in re.split(r"[.+-]", str(v))[:3])


def scenario_entry(name: str, rec: dict[str, Any] | None, verdicts: list[dict[str, Any]], *,
                   runs: int = 0, matched: int = 0, celery_versions: Iterable[str] = (), doc: str = "",
                   source: str = "", svg: str | None = None, fixes_for: Iterable[str] = (),
                   scenario: dict[str, Any] | None = None) -> dict[str, Any]:
    """Everything a scenario's page shows, as plain data: from its representative record (None: no stored run;
    then ``scenario``, the scenario as data, says what it sets up)."""
    from lab.report.results import _config_snippet

    obs = (rec or {}).get("observations") or {}
    sc = obs.get("scenario") or scenario or {}
    groups = verdict_groups(verdicts)
    first_chord = {g["cause"]: (g["chords"] or [None])[0] for g in groups if g["cause"]}
    return {
        "name": name, "description": sc.get("description") or "", "expect": sc.get("expect"),
        "expect_cause": sc.get("expect_cause"), "mechanism": sc.get("mechanism"), "doc": doc, "source": source,
        "broker": sc.get("broker") or "redis", "backend": sc.get("backend") or "redis",
        "redis_options": sc.get("redis_options") or {}, "faults": sc.get("faults") or [],
        "runtime": (obs.get("topology") or {}).get("runtime") or "process",
        "workers": [{"name": w.get("name"), "queues": _queues(w), "concurrency": w.get("concurrency"),
                     "pool": w.get("pool"), "argv": w.get("argv") or "", "tasks": ", ".join(w.get("tasks") or []),
                     "app": w.get("app")} for w in sc.get("workers") or []],
        "snippet": _config_snippet(sc, obs.get("canvas")) if sc else "",
        "run": None if rec is None else {
            "run_id": rec.get("run_id"), "seed": rec.get("seed"), "replay": rec.get("replay"),
            "versions": rec.get("versions") or {}, "status": (rec.get("outcome") or {}).get("status"),
            "elapsed_s": rec.get("elapsed_s")},
        "runs": runs, "matched": matched, "celery_versions": sorted(set(celery_versions), key=_vkey),
        "groups": groups, "causes": cause_notes([g["cause"] for g in groups], obs, first_chord),
        "svg": svg, "fix": sc.get("fix"), "fixes_for": sorted(set(fixes_for)),
    }


# -- the pages (pure) ------------------------------------------------------------------------------------------


def _picture(svg: str | None, alt: str, caption: str, *, depth: int) -> str:
    if not svg:
        return f'<p class="muted">No picture: {esc(caption)}</p>'
    src = "../" * depth + svg
    return (f'<figure><a href="{esc(src)}"><img src="{esc(src)}" alt="{esc(alt)}" loading="lazy"></a>'
            f"<figcaption>{caption}</figcaption></figure>")


def _expects(e: dict[str, Any]) -> str:
    return tag(e.get("expect")) + (f" <code>{esc(e['expect_cause'])}</code>" if e.get("expect_cause") else "")


def render_scenario(e: dict[str, Any], fixed: dict[str, Any] | None = None) -> str:
    """A scenario's page; ``fixed``: the entry of its fixed variant, for its picture."""
    name = e["name"]
    parts = [f"<h1><code>{esc(name)}</code></h1>",
             f"<p>expects {_expects(e)}" + (f" · catalog row {esc(e['mechanism'])}" if e.get("mechanism") else "")
             + (f" · {esc(e['runtime'])} runtime" if e.get("runtime") not in (None, "process") else "") + "</p>",
             f"<p><strong>{esc(e['description'])}</strong></p>"]
    if e.get("doc"):
        parts.append(md_blocks(e["doc"].split("\n"), shift=2))
    parts.append("<h2>What it sets up</h2>")
    setup = [["broker", esc(e["broker"])], ["result backend", esc(e["backend"])]]
    if e.get("redis_options"):
        setup.append(["redis-server", "<code>" + esc(" ".join(f"--{k} {v}" for k, v in e["redis_options"].items()))
                      + "</code>"])
    if e.get("faults"):
        setup.append(["faults", "<br>".join(esc(", ".join(f"{k}={v}" for k, v in f.items() if v not in (None, "", [], {})))
                                            for f in e["faults"])])
    parts.append(table(None, setup))
    if e.get("workers"):
        parts.append(table(["worker", "queues", "concurrency / pool", "other arguments", "task code"],
                           [[f"<code>{esc(w['name'])}</code>", f"<code>{esc(w['queues'])}</code>",
                             f"{esc(w['concurrency'])} / {esc(w['pool'])}",
                             f"<code>{esc(w['argv'])}</code>" if w["argv"] else "",
                             esc(w["tasks"] or "the scenario's") + (f" (app <code>{esc(w['app'])}</code>)" if w.get("app") else "")]
                            for w in e["workers"]]))
    if e.get("snippet"):
        parts.append("<h3>Its configuration, as Celery</h3>")
        parts.append(f'<pre><code class="language-python">{esc(e["snippet"])}</code></pre>')
    if e.get("source"):
        parts.append(f"<details><summary>The scenario file</summary><pre><code class=\"language-python\">"
                     f"{esc(e['source'])}</code></pre></details>")
    parts.append("<h2>A representative run</h2>")
    run = e.get("run")
    if run is None:
        parts.append(f"<p>No stored run yet: <code>python -m lab run {esc(name)}</code> makes one.</p>")
    else:
        v = run.get("versions") or {}
        parts.append(f"<p>Run <code>{esc(run['run_id'])}</code> (seed {esc(run['seed'])}; celery {esc(v.get('celery'))}, "
                     f"kombu {esc(v.get('kombu'))}, redis-server {esc(v.get('redis-server'))}): "
                     f"{esc(run.get('status') or '?')}. {e['matched']} of {e['runs']} stored run(s) matched the expectation"
                     + (f"; Celery versions run: {esc(', '.join(e['celery_versions']))}" if e.get("celery_versions") else "")
                     + ".</p>")
        parts.append(_picture(e.get("svg"), f"timeline of {name}",
                              f"The timeline of run <code>{esc(run['run_id'])}</code>, drawn from its stored observations "
                              "(<code>python -m lab show</code> draws the same).", depth=1))
        parts.append("<h2>Verdicts and proof</h2>")
        for g in e["groups"]:
            chords = ", ".join(f"#{i}" for i in dict.fromkeys(g["chords"]))  # a canvas's finals share its index
            parts.append(f'<div class="v v-{esc(g["verdict"])}"><p>{tag(g["verdict"])}'
                         + (f" <code>{esc(g['cause'])}</code>" if g.get("cause") else "")
                         + f" · {esc(chords)}: {esc(g['summary'])}</p>"
                         + ("<pre><code>" + esc("\n".join(f"• {x}" for x in g["evidence"])) + "</code></pre>"
                            if g["evidence"] else "") + "</div>")
        if not e["groups"]:
            parts.append("<p class=\"muted\">The run judged no chord.</p>")
        if run.get("replay"):
            parts.append(f"<p>Replay: <code>{esc(run['replay'])}</code></p>")
    if e.get("causes"):
        parts.append("<h2>What the cause means, and the fix</h2>")
        for c in e["causes"]:
            parts.append(f"<h3><code>{esc(c['id'])}</code></h3><p>{esc(c['meaning'] or 'not in the catalogue')}.</p>"
                         + (f"<p><strong>Fix:</strong> {md_inline(c['fix'])}</p>" if c.get("fix") else ""))
    if e.get("fix"):
        fix = e["fix"]
        link = f"<code>{esc(fix)}</code>" if fixed is None else f'<a href="{esc(slug(fix))}.html"><code>{esc(fix)}</code></a>'
        parts.append(f"<h2>The fixed variant: {link}</h2>")
        if fixed is None:
            parts.append(f"<p class=\"muted\">Not in this casebook (<code>python -m lab casebook --scenario {esc(fix)}</code>).</p>")
        else:
            parts.append(f"<p>{esc(fixed['description'])}. {fixed['matched']} of {fixed['runs']} stored run(s) matched its "
                         f"expectation ({tag(fixed.get('expect'))}).</p>")
            if fixed.get("run"):
                parts.append(_picture(fixed.get("svg"), f"timeline of {fix}",
                                      f"The fixed variant, run <code>{esc(fixed['run']['run_id'])}</code>.", depth=1))
    if e.get("fixes_for"):
        parts.append("<h2>The fixed variant of</h2><p>" + ", ".join(
            f'<a href="{esc(slug(n))}.html"><code>{esc(n)}</code></a>' for n in e["fixes_for"]) + "</p>")
    return page(f"{name} · chord failure lab casebook", "\n".join(parts), depth=1)


def render_finding(f: dict[str, Any]) -> str:
    """A finding's page: what it is, its proof, and its reproducer as ``lab export`` writes it."""
    fid = f["id"]
    parts = [f"<h1><code>{esc(fid)}</code></h1>",
             f"<p>{tag(f.get('verdict'), f.get('finding_kind'))}"
             + (f" <code>{esc(f['cause'])}</code>" if f.get("cause") else "") + f": {esc(f.get('summary'))}</p>"]
    fam = f.get("family")
    if fam:
        parts.append(f"<h2>{esc(fam['title'])}</h2><p>{md_inline(fam['meaning'])}</p>"
                     f"<p><strong>Fix:</strong> {md_inline(fam['fix'])}</p>"
                     + (f"<p>Upstream: {md_inline(fam['upstream'])}.</p>" if fam.get("upstream") else ""))
    elif (f.get("mechanism") or {}).get("why"):
        parts.append(f"<p>{md_inline(f['mechanism']['why'])}.</p>")
    if f.get("meaning"):
        parts.append(f"<p><code>{esc(f['cause'])}</code>: {esc(f['meaning'])}.</p>")
    if f.get("canvas"):
        parts.append(f"<h2>The canvas, as sent</h2><pre><code class=\"language-python\">{esc(f['canvas'])}</code></pre>")
    if f.get("evidence"):
        parts.append("<h2>Proof</h2><pre><code>" + esc("\n".join(f"• {x}" for x in f["evidence"])) + "</code></pre>")
    rep = f.get("replay") or {}
    v = f.get("versions") or {}
    facts = [["replayed", esc(f"{rep.get('reproduced')}/{rep.get('runs')}" + (" (flaky)" if rep.get("flaky") else ""))
              if rep else "not replayed"],
             ["versions", esc(", ".join(f"{k} {val}" for k, val in v.items() if val)) or "—"],
             ["seed", esc(f.get("seed"))], ["hypothesis blob", f"<code>{esc(f.get('blob'))}</code>" if f.get("blob") else "—"],
             ["rerun", f"<code>python -m lab run {esc(fid)}</code>; <code>python -m lab replay {esc(fid)}</code>"],
             ["file", f"<code>{esc(f.get('path'))}</code>"]]
    parts.append(table(None, facts))
    parts.append(f"<h2>The reproducer, as <code>python -m lab export {esc(fid)} --to DIR</code> writes it</h2>")
    if f.get("refused"):
        parts.append(f"<p>Not exportable as plain Celery: {esc(f['refused'])}</p>")
    for fname, text in (f.get("files") or {}).items():
        parts.append(f"<h3><code>{esc(fname)}</code></h3><pre><code>{esc(text)}</code></pre>")
    if f.get("copied"):
        parts.append("<p>Also copied, unchanged from <code>lab/apps</code>: " + ", ".join(
            f'<a href="../code.html#{esc(m)}"><code>{esc(m)}.py</code></a>' for m in f["copied"]) + ".</p>")
    return page(f"{fid} · chord failure lab casebook", "\n".join(parts), depth=1)


def render_code(modules: dict[str, str]) -> str:
    """The lab's task modules the reproducers copy, each once."""
    parts = ["<h1>Task code the reproducers copy</h1>",
             "<p><code>lab export</code> copies these modules from <code>lab/apps</code> beside every reproducer that "
             "uses them; they are plain Celery.</p>"]
    for name, text in sorted(modules.items()):
        parts.append(f'<h2 id="{esc(name)}"><code>{esc(name)}.py</code></h2><pre><code>{esc(text)}</code></pre>')
    return page("task code · chord failure lab casebook", "\n".join(parts))


def release_rows(targets: list[dict[str, Any]]) -> list[list[str]]:
    """One row per target of the versions table: its page, what it is, the versions run, the bisected range."""
    rows = []
    for t in targets:
        link = f'<a href="{esc(t["href"])}"><code>{esc(t["name"])}</code></a>' if t.get("href") else f"<code>{esc(t['name'])}</code>"
        rows.append([link, esc(t["kind"]), esc(", ".join(t.get("versions") or [])) or "—",
                     md_inline(t["range"]) if t.get("range") else "not bisected yet",
                     md_inline(t["changed"]) if t.get("changed") else ""])
    return rows


def render_index(scenarios: list[dict[str, Any]], findings: list[dict[str, Any]], *, targets: list[dict[str, Any]],
                 matrix_md: str = "", bisect_note: str = "", stored_runs: int = 0, partial: bool = False) -> str:
    """The front page: every scenario and finding, and the versions and release ranges."""
    main = [e for e in scenarios if not e["name"].endswith("-fixed") and e["name"] != "healthy"]
    fixed = [e for e in scenarios if e not in main]
    parts = ["<h1>The chord failure lab: a casebook</h1>",
             "<p>Each case is a Celery chord whose callback never runs, runs early, twice, or fails, brought about "
             "with real processes (its own redis-server, real <code>celery worker</code>s), and judged with proof. "
             "Every picture is the timeline of a stored run, drawn from its recorded observations; every verdict is "
             "judged again from them. Generated by <code>python -m lab casebook</code>"
             + (f" from {stored_runs} stored run(s)" if stored_runs else "") + "; do not edit by hand.</p>"]
    if partial:
        parts.append("<p class=\"muted\">A partial casebook: only the scenarios asked for (and their fixed variants).</p>")

    def scen_rows(entries: list[dict[str, Any]]) -> list[list[str]]:
        rows = []
        for e in entries:
            seen = " ".join(tag(g["verdict"], f"{len(g['chords'])} {g['verdict']}") for g in e["groups"]) or "no run"
            fix = (f'<a href="scenarios/{esc(slug(e["fix"]))}.html"><code>{esc(e["fix"])}</code></a>'
                   if e.get("fix") and any(x["name"] == e["fix"] for x in scenarios) else
                   (f"<code>{esc(e['fix'])}</code>" if e.get("fix") else ""))
            rows.append([f'<a href="scenarios/{esc(slug(e["name"]))}.html"><code>{esc(e["name"])}</code></a>',
                         _expects(e), seen, esc(e["description"]), fix])
        return rows

    parts.append(f"<h2>Scenarios ({len(main)})</h2>")
    parts.append(table(["scenario", "expects", "representative run", "what it sets up", "fixed variant"], scen_rows(main)))
    if fixed:
        parts.append(f"<h2>Fixed variants and the healthy baseline ({len(fixed)})</h2>")
        parts.append(table(["scenario", "expects", "representative run", "what it sets up", ""], scen_rows(fixed)))
    if findings:
        parts.append(f"<h2>Fuzzing findings ({len(findings)})</h2>")
        parts.append("<p>Shrunk by hypothesis, saved under <code>findings/</code>, each with its reproducer in plain "
                     "Celery.</p>")
        parts.append(table(["finding", "kind", "what happened", "mechanism"], [
            [f'<a href="findings/{esc(slug(f["id"]))}.html"><code>{esc(f["id"])}</code></a>',
             tag(f.get("verdict"), f.get("finding_kind")), esc(f.get("summary")),
             esc((f.get("family") or {}).get("title") or (f.get("mechanism") or {}).get("name") or "")]
            for f in findings]))
    parts.append("<h2>Versions and release ranges</h2>")
    parts.append("<p>For every finding and every scenario that expects <em>stuck</em>: the Celery versions its stored "
                 "runs used, and since which release it reproduces, from <code>results/bisect.json</code> "
                 "(<code>python -m lab bisect REF --celery 5.3.0..5.7.0</code>)." + (f" {esc(bisect_note)}" if bisect_note else "")
                 + "</p>")
    parts.append(table(["finding or scenario", "kind", "versions run", "reproduces on", "first release where the outcome changed"],
                       release_rows(targets)))
    if matrix_md:
        parts.append(md_blocks(matrix_md.split("\n"), shift=0))
    return page("chord failure lab · casebook", "\n".join(parts))


# -- reading the store, writing the folder -------------------------------------------------------------------


@dataclass
class Written:
    """What ``write_casebook`` wrote."""

    folder: Path
    pages: int = 0
    pictures: int = 0
    scenarios: list[str] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)
    bytes: int = 0
    svg_bytes: int = 0


def _witness(rec: dict[str, Any]) -> str:
    return (rec.get("observations") or {}).get("witness") or "ledger"


def representative(recs: list[dict[str, Any]], pinned: str | None) -> dict[str, Any] | None:
    """The run a scenario's page shows: the newest on the pinned Celery, witnessed by the lab's own ledger, whose
    outcome matched the expectation; failing that the newest on the pinned Celery, else the newest at all."""
    ledger = [r for r in recs if _witness(r) == "ledger"] or recs
    pinned_runs = [r for r in ledger if (r.get("versions") or {}).get("celery") == pinned] or ledger
    matched = [r for r in pinned_runs if (r.get("outcome") or {}).get("status") == "matched"]
    return (matched or pinned_runs or [None])[-1]


def svg_path(name: str) -> str:
    """Where a scenario's picture lies inside the casebook folder (RESULTS.md links it under docs/casebook/)."""
    return f"timelines/{slug(name)}.svg"


def _finding_files() -> dict[str, Path]:
    from lab.fuzz.findings import findings_dir

    return {p.stem.replace("_", "-"): p for p in sorted(findings_dir().glob("*.py")) if not p.name.startswith("_")}


def _check_out(out: Path) -> None:
    """One sentence when ``out`` cannot be the casebook's folder; nothing is written before this passes."""
    if out.exists() and not out.is_dir():
        raise CasebookError(f"--out {out} is a file; give a folder (new, or a casebook written before).")
    if out.is_dir() and any(out.iterdir()):
        index = out / "index.html"
        if not (index.is_file() and MARKER in index.read_text(errors="replace")[:2000]):
            raise CasebookError(f"--out {out} is a folder that holds something other than a casebook; give a new or "
                                "empty folder, or one `lab casebook` wrote.")
    parent = out if out.is_dir() else next((p for p in out.parents if p.exists()), Path("."))
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise CasebookError(f"--out {out} cannot be written ({parent} is not a writable folder); choose a writable place.")


def _export_finding(path: Path) -> tuple[dict[str, str], list[str], dict[str, str], str | None]:
    """(files shown on the page, modules copied from lab/apps, their text, or why it cannot be exported)."""
    from lab.report.export import COPIED_WITH, TASK_MODULES, export

    copied_names = {v[0] for v in TASK_MODULES.values()} | {c for cs in COPIED_WITH.values() for c in cs}
    with tempfile.TemporaryDirectory(prefix="casebook-export-") as tmp:
        try:
            export(str(path), Path(tmp) / "repro")
        except LabError as e:
            return {}, [], {}, str(e)
        folder = Path(tmp) / "repro"
        # the worker command lines first, then the canvas as sent, the task code and the app; the README last
        first, last = ["run.sh", "repro.py"], ["repro_app.py", "requirements.txt", "README.md"]
        names = sorted((p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()),
                       key=lambda n: (first.index(n) if n in first else len(first) + (last.index(n) + 1 if n in last else 0), n))
        shown = {n: (folder / n).read_text() for n in names if Path(n).stem not in copied_names or "/" in n}
        copied = sorted(Path(n).stem for n in names if Path(n).stem in copied_names and "/" not in n)
        return shown, copied, {m: (folder / f"{m}.py").read_text() for m in copied}, None


def finding_entry(fid: str, path: Path, record: dict[str, Any] | None) -> dict[str, Any]:
    """A finding's page data: its FINDING (the file), its fuzz record's later updates, and its export."""
    import runpy

    from lab.fuzz.findings import FAMILIES, PROJECT_ROOT, family_of
    from lab.judge.causes import CATALOGUE

    try:
        module = runpy.run_path(str(path))
        data = dict(module.get("FINDING") or {})
        shapes = module.get("SHAPES") or []
    except Exception as e:  # noqa: BLE001 - a finding file that does not run: its page says so
        data, shapes = {"summary": f"its file does not run ({type(e).__name__}: {e})"}, []
    data = {**data, **{k: v for k, v in (record or {}).items() if k in ("replay", "construction", "versions")}}
    fam_key = family_of({**data, "shapes": (record or {}).get("shapes") or shapes})
    fam = FAMILIES.get(fam_key) if fam_key else None
    files, copied, copied_text, refused = _export_finding(path)
    try:
        shown_path = path.resolve().relative_to(PROJECT_ROOT).as_posix()
    except ValueError:
        shown_path = str(path)
    cause = data.get("cause")
    return {"id": fid, "path": shown_path, "finding_kind": data.get("finding_kind"), "verdict": data.get("verdict"),
            "cause": cause, "meaning": CATALOGUE[cause].meaning if cause in CATALOGUE else None,
            "summary": data.get("summary"), "canvas": data.get("canvas"), "evidence": data.get("evidence") or [],
            "replay": data.get("replay"), "versions": data.get("versions") or {}, "seed": data.get("seed"),
            "blob": data.get("blob"), "mechanism": data.get("mechanism") or {},
            "family": None if fam is None else {"title": fam.title, "meaning": fam.meaning, "fix": fam.fix,
                                                "upstream": fam.upstream},
            "files": files, "copied": copied, "copied_text": copied_text, "refused": refused}


def _bisections() -> tuple[dict[str, dict[str, Any]], Any, Any, str]:
    """The stored bisections and the words for them (lab.report.bisect), or nothing and why."""
    try:
        from lab.experiments.bisect import load_store
        from lab.report.bisect import change_text, range_text
    except ImportError:
        return {}, None, None, "No bisection is recorded on this checkout."
    store = load_store()
    return store, range_text, change_text, "" if store else "Nothing has been bisected yet."


def write_casebook(out: Path, names: Iterable[str] = (), *, log: Any = None) -> Written:
    """Write the casebook into ``out``: every scenario and finding, or only ``names`` (scenario names or finding
    ids; a scenario brings its fixed variant).  Reads the stored records; starts no process."""
    from lab import records
    from lab.fuzz.findings import latest_records, load_records
    from lab.report.results import _docstring, pinned_celery
    from lab.scenario import scenario_paths

    out = Path(out)
    paths = scenario_paths()
    finding_files = _finding_files()
    names = list(dict.fromkeys(names))
    unknown = [n for n in names if n not in paths and n not in finding_files]
    if unknown:
        raise CasebookError(f"unknown scenario {unknown[0]!r}: `python -m lab list` shows every scenario, and "
                            "`ls findings/` every finding id.")
    _check_out(out)
    say = log or (lambda *_: None)

    from lab.scenario import load as load_scenario

    scenarios_data: dict[str, dict[str, Any]] = {}
    for n in paths:
        try:
            scenarios_data[n] = load_scenario(n).to_dict()
        except Exception:  # noqa: BLE001 - a scenario that does not load is the catalogue's to report
            continue
    wanted = [n for n in names if n in paths] if names else list(scenarios_data)
    for n in list(wanted):  # a scenario brings its fixed variant, so that its picture and link are there
        fix = (scenarios_data.get(n) or {}).get("fix")
        if fix and fix in paths and fix not in wanted:
            wanted.append(fix)
    wanted_findings = [n for n in names if n in finding_files] if names else list(finding_files)

    all_recs = list(records.load_all())
    fuzz_ids = {r.get("id") for r in load_records() if r.get("kind") == "fuzz-finding"} | set(finding_files)
    by_name: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in all_recs:
        if r.get("scenario") in paths and r.get("scenario") not in fuzz_ids:
            by_name[r["scenario"]].append(r)
    pinned = pinned_celery()
    fixes_for: dict[str, list[str]] = defaultdict(list)
    for n, sc in scenarios_data.items():
        if sc.get("fix"):
            fixes_for[sc["fix"]].append(n)

    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    except OSError as e:
        raise CasebookError(f"--out {out} cannot be written ({e.strerror or e}); choose a writable place.") from None
    written = Written(out)
    try:
        from lab.fuzz.oracle import judge_observations

        entries: dict[str, dict[str, Any]] = {}
        for n in sorted(wanted, key=lambda x: (x.endswith("-fixed") or x == "healthy", x)):
            recs = by_name.get(n, [])
            rec = representative(recs, pinned)
            verdicts = [v.to_dict() for v in judge_observations(rec["observations"])] if rec else []
            svg = None
            if rec:
                say(f"drawing {n} ({rec['run_id']})")
                written.svg_bytes += draw_timeline(rec["observations"], verdicts, tmp / svg_path(n))
                written.pictures += 1
                svg = svg_path(n)
            try:
                source = scenario_source(paths[n].read_text())
            except OSError:
                source = ""
            entries[n] = scenario_entry(
                n, rec, verdicts, runs=len(recs),
                matched=sum(1 for r in recs if (r.get("outcome") or {}).get("status") == "matched"),
                celery_versions=[(r.get("versions") or {}).get("celery") for r in recs if (r.get("versions") or {}).get("celery")],
                doc=_docstring(n), source=source, svg=svg,
                fixes_for=[f for f in fixes_for.get(n, []) if f in wanted], scenario=scenarios_data.get(n))
        (tmp / "scenarios").mkdir(parents=True, exist_ok=True)
        for n, e in entries.items():
            (tmp / "scenarios" / f"{slug(n)}.html").write_text(render_scenario(e, entries.get(e["fix"] or "")))
            written.scenarios.append(n)

        fuzz_latest = latest_records()
        findings: list[dict[str, Any]] = []
        copied_text: dict[str, str] = {}
        if wanted_findings:
            (tmp / "findings").mkdir(parents=True, exist_ok=True)
        for fid in wanted_findings:
            say(f"exporting {fid}")
            f = finding_entry(fid, finding_files[fid], fuzz_latest.get(fid))
            copied_text.update(f.pop("copied_text"))
            (tmp / "findings" / f"{slug(fid)}.html").write_text(render_finding(f))
            findings.append(f)
            written.findings.append(fid)
        if copied_text:
            (tmp / "code.html").write_text(render_code(copied_text))

        store, range_text, change_text, note = _bisections()
        targets = []
        for f in findings:
            b = store.get(f["id"])
            targets.append({"name": f["id"], "kind": "finding", "href": f"findings/{slug(f['id'])}.html",
                            "versions": [f["versions"]["celery"]] if (f.get("versions") or {}).get("celery") else [],
                            "range": range_text(b) if b and range_text else None,
                            "changed": change_text(b) if b and change_text else None})
        for n, e in entries.items():
            if e.get("expect") != "stuck":
                continue
            b = store.get(n)
            targets.append({"name": n, "kind": "scenario", "href": f"scenarios/{slug(n)}.html",
                            "versions": e["celery_versions"], "range": range_text(b) if b and range_text else None,
                            "changed": change_text(b) if b and change_text else None})
        matrix_md = ""
        try:
            from lab.experiments.matrix import matrix_table

            matrix_md = matrix_table([r for r in all_recs if r.get("scenario") in entries and _witness(r) != "recorder-broker"])
        except ImportError:
            pass
        (tmp / "index.html").write_text(render_index(list(entries.values()), findings, targets=targets, matrix_md=matrix_md,
                                                     bisect_note=note, stored_runs=len(all_recs), partial=bool(names)))
        written.pages = 1 + len(entries) + len(findings) + (1 if copied_text else 0)
        written.bytes = sum(p.stat().st_size for p in tmp.rglob("*") if p.is_file())
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    except OSError as e:
        raise CasebookError(f"--out {out} cannot be written ({e.strerror or e}); choose a writable place.") from None
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return written
