"""RESULTS.md, regenerated from every stored run.

    scenario → topology up → chords sent → observations → verdict → record → **RESULTS.md**

Nothing here is written by hand: each table row and paragraph is derived from
the records in ``results/records/`` and an older lab's ``results/runs.jsonl``
(re-judged with the current checker, so a checker fix shows at once) and from
the scenario scripts' own docstrings.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from lab import records
from lab.errors import LabError
from lab.fuzz.oracle import judge_observations
from lab.judge import CAUSES, summarize
from lab.scenario import scenario_paths

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _docstring(name: str) -> str:
    path = scenario_paths().get(name)
    if not path:
        return ""
    try:
        return ast.get_docstring(ast.parse(path.read_text())) or ""
    except SyntaxError:
        return ""


def catalog_claim(name: str) -> str:
    """What the run made of the catalog's claim, from the scenario docstring's "Catalog claim:" line."""
    doc = _docstring(name)
    if "Catalog claim:" not in doc:
        return "—"
    text = doc.split("Catalog claim:", 1)[1].strip()
    for word in ("partly refuted", "partly confirmed", "refuted", "confirmed"):
        if text.lower().startswith(word) or text.lower().startswith(f"{word}."):
            return word
    return text.split(".")[0][:40]


def rejudge(rec: dict[str, Any]) -> tuple[list, dict[str, Any]]:
    verdicts = judge_observations(rec["observations"])
    return verdicts, summarize(rec["observations"].get("scenario") or {}, verdicts)


def _versions_key(v: dict[str, Any]) -> str:
    return f"celery {v.get('celery')}, kombu {v.get('kombu')}, redis-py {v.get('redis-py')}, redis-server {v.get('redis-server')}"


def _config_snippet(sc: dict[str, Any], canvas: list[str] | None = None) -> str:
    """The scenario as Celery: config, worker lines, and the chords (or the canvas, exactly as it was sent)."""
    lines = []
    cfg = sc.get("config") or {}
    if cfg:
        lines.append("app.conf.update(" + ", ".join(f"{k}={v!r}" for k, v in cfg.items()) + ")")
    for w in sc.get("workers") or []:
        q = f" -Q {','.join(w['queues'])}" if w.get("queues") else ""
        code = "" if not w.get("tasks") else f"  # code: {', '.join(w['tasks'])}"
        lines.append(f"celery -A proj worker -n {w['name']}@%h -c {w['concurrency']}{q}{code}")
    if canvas:  # a canvas scenario: its canvas as sent (`fuzz = lab.apps.fuzz.bind(app)`)
        lines += [f"({text}).apply_async()" if " | " in text else f"{text}.apply_async()" for text in canvas]
    for c in [] if canvas else sc.get("chords") or []:
        opts = f".set(**{c['callback_options']!r})" if c.get("callback_options") else ""
        args = ", ".join(repr(a) for a in c.get("callback_args") or [])
        lines.append(f"chord([{c['header_task']}.s(i) for i in range({c['header']})])({c['callback']}.s({args}){opts})")
    if sc.get("redis_options"):
        lines.append("redis-server " + " ".join(f"--{k} {v}" for k, v in sc["redis_options"].items()))
    if sc.get("broker") != "redis" or sc.get("backend") != "redis":
        lines.append(f"# broker: {sc.get('broker')}, result backend: {sc.get('backend')}")
    return "\n".join(lines)


def _fuzz_records() -> list[dict[str, Any]]:
    """The fuzzer's records (``fuzz.jsonl``), read once for the report: its findings' ids and its section."""
    try:
        from lab.fuzz.findings import load_records
    except ImportError:
        return []
    return load_records()


def pinned_celery() -> str | None:
    """The Celery version this checkout pins; RESULTS.md's main tables are about it."""
    return records.versions().get("celery")


def build(recs: list[dict[str, Any]]) -> str:
    pinned = pinned_celery()
    fuzz_recs = _fuzz_records()
    finding_ids = {r["id"] for r in fuzz_recs if r.get("kind") == "fuzz-finding"}
    finding_runs = [r for r in recs if r.get("scenario") in finding_ids]  # `lab run <finding>`: the fuzzing section's
    recs = [r for r in recs if r.get("scenario") not in finding_ids]
    witnessed = recs  # the recorder-as-witness section reads them all
    # A run whose witness shares the system's faults (the recorder on the scenario's own redis-server) measures the
    # witness, not the scenario: only that section counts it.
    recs = [r for r in recs if (r.get("observations") or {}).get("witness") != "recorder-broker"]
    all_recs = recs
    recs = [r for r in recs if (r.get("versions") or {}).get("celery") == pinned] or recs
    by_scenario: dict[str, list[tuple[dict, list, dict]]] = defaultdict(list)
    for rec in recs:
        verdicts, outcome = rejudge(rec)
        by_scenario[rec["scenario"]].append((rec, verdicts, outcome))

    versions = Counter(_versions_key(r["versions"]) for r in recs)
    out: list[str] = []
    out.append("# RESULTS: which configurations leave a chord stuck PENDING, how often, and why\n")
    out.append("_Generated by `python -m lab report` from every run stored in `results/records/`; "
               "do not edit by hand. Every verdict below was re-judged from the stored raw observations "
               "with the current checker._\n")
    out.append(f"{len(all_recs)} stored runs. The tables below are about the pinned Celery {pinned}: "
               f"{len(recs)} runs of {len(by_scenario)} scenarios; the version matrix covers the others. Versions seen: "
               + "; ".join(f"{k} ({n} runs)" for k, n in versions.most_common()) + ".\n")
    out.append("**Reading the table.** *Reproduced* is the share of runs whose outcome matched what the scenario "
               "expects (for a fixed variant: every chord completed). *Stuck chords* counts chords proven stuck. "
               "A verdict the evidence could not decide is counted as *unknown*, never as a pass.\n")

    out.append("## Summary\n")
    out.append("| scenario | configuration | runs | reproduced | chord verdicts | cause(s) | mechanism | catalog claim | versions |")
    out.append("|---|---|---|---|---|---|---|---|---|")
    order = sorted(by_scenario, key=lambda n: (n.endswith("-fixed") or n == "healthy", n))
    for name in order:
        rows = by_scenario[name]
        sc = rows[-1][0]["observations"].get("scenario") or {}
        matched = sum(1 for _, _, o in rows if o["status"] == "matched")
        verdict_counts: Counter = Counter()
        causes: Counter = Counter()
        for _, vs, _ in rows:
            verdict_counts.update(v.verdict for v in vs)
            causes.update(v.cause for v in vs if v.cause)
        cfg = _short_config(sc)
        vers = sorted({r["versions"].get("celery") for r, _, _ in rows})
        out.append(f"| `{name}` | {cfg} | {len(rows)} | {matched}/{len(rows)} ({100 * matched / len(rows):.0f}%) | "
                   + ", ".join(f"{n} {k}" for k, n in sorted(verdict_counts.items()))
                   + f" | {', '.join(f'`{c}`' for c in causes) or '—'} | {sc.get('mechanism') or '—'} | {catalog_claim(name)} | celery {', '.join(vers)} |")
    out.append("")

    out.append("## Scenarios\n")
    for name in order:
        rows = by_scenario[name]
        # the newest run the lab's own file ledger witnessed (the witness experiment's recorder runs have their section)
        rec, verdicts, outcome = next((x for x in reversed(rows) if (x[0]["observations"].get("witness") or "ledger") == "ledger"),
                                      rows[-1])
        sc = rec["observations"].get("scenario") or {}
        out.append(f"### `{name}`: expects {sc.get('expect')}" + (f" ({sc.get('expect_cause')})" if sc.get("expect_cause") else "") + "\n")
        doc = _docstring(name)
        if doc:
            out.append(doc + "\n")
        matched = sum(1 for _, _, o in rows if o["status"] == "matched")
        elapsed = sorted(r["elapsed_s"] for r, _, _ in rows)
        out.append(f"**Runs:** {len(rows)}; matched the expectation in {matched}. "
                   f"Median run {elapsed[len(elapsed) // 2]:.1f} s (boot, send, verdict).\n")
        interesting = next((v for v in verdicts if v.verdict != "completed"), verdicts[0] if verdicts else None)
        if interesting is not None:
            out.append(f"**What the lab saw** (run `{rec['run_id']}`, seed {rec['seed']}): "
                       f"{interesting.verdict}{' · `' + interesting.cause + '`' if interesting.cause else ''}: {interesting.summary}\n")
            if interesting.cause in CAUSES:
                out.append(f"_Mechanism:_ {CAUSES[interesting.cause]}.\n")
            if interesting.evidence:
                out.append("```text\n" + "\n".join(interesting.evidence) + "\n```\n")
        out.append("**Minimal configuration:**\n\n```python\n" + _config_snippet(sc, rec["observations"].get("canvas")) + "\n```\n")
        fix = sc.get("fix")
        if fix:
            fixed = by_scenario.get(fix, [])
            if fixed:
                ok = sum(1 for _, _, o in fixed if o["status"] == "matched")
                out.append(f"**Fix:** `{fix}`: {(fixed[-1][0]['observations'].get('scenario') or {}).get('description', '')}. "
                           f"Evidence that it works: {ok}/{len(fixed)} runs of `{fix}` completed every chord.\n")
            else:
                out.append(f"**Fix:** `{fix}` (no stored runs yet).\n")
        out.append(f"Replay: `{rec['replay']}`\n")
        out += timeline_picture(name)
    out += extra_sections(recs, all_recs, finding_runs, fuzz_recs, witnessed=witnessed)
    return "\n".join(out) + "\n"


def timeline_picture(name: str) -> list[str]:
    """The scenario's committed timeline (docs/casebook/timelines/, written by `lab casebook`), as a relative link."""
    rel = f"docs/casebook/timelines/{name}.svg"
    if not (PROJECT_ROOT / rel).is_file():
        return []
    return [f"**Timeline** (a representative stored run, drawn by `python -m lab casebook`; its page: "
            f"`docs/casebook/scenarios/{name}.html`):\n\n![the timeline of {name}]({rel})\n"]


def extra_sections(recs: list[dict[str, Any]], all_recs: list[dict[str, Any]],
                   finding_runs: list[dict[str, Any]] | None = None,
                   fuzz_recs: list[dict[str, Any]] | None = None,
                   witnessed: list[dict[str, Any]] | None = None) -> list[str]:
    """The sections other parts of the lab own: stability, versions, doctor, the recorder as witness, fuzzing."""
    out: list[str] = []
    try:
        from lab.report.stability import agreement_table

        table = agreement_table(recs, min_runs=2)
        if table:
            out += ["## Stable verdicts: does each scenario agree with itself?\n",
                    "_Every run of a scenario on the pinned Celery, grouped: the share of runs whose verdicts and causes "
                    "are those of the most common run. A rate below 100% is a defect in the lab or nondeterminism in "
                    "Celery; the scenario's docstring says which._\n", table, ""]
    except ImportError:
        pass
    try:
        from lab.experiments.matrix import matrix_table

        table = matrix_table(all_recs)
        if table:
            out += [table, ""]
    except ImportError:
        pass
    out += doctor_section()
    from lab.report.witness import witness_section

    out += witness_section(witnessed if witnessed is not None else all_recs)
    try:
        from lab.fuzz.findings import fuzzing_section

        from lab.report.export import reproducer_lines

        section = fuzzing_section(fuzz_recs, finding_runs=finding_runs,
                                  exported=reproducer_lines)
        if section:
            out += [section, ""]
    except ImportError:
        pass
    out += release_ranges_section()
    return out


def release_ranges_section() -> list[str]:
    """Since which Celery release each finding and stuck scenario reproduces, from results/bisect.json (`lab bisect`)."""
    from lab.report.bisect import bisect_section

    return bisect_section()


def doctor_section() -> list[str]:
    """Doctor's and audit's verdicts next to the lab's, from `python -m lab.experiments.agreement`."""
    path = records.store_dir() / "doctor_agreement.json"
    if not path.exists():
        return []
    data = json.loads(path.read_text())
    sm = data.get("summary") or {}
    out = ["## `lab doctor` and `lab audit` against the lab\n",
           f"_From `python -m lab.experiments.agreement` ({data.get('generated_at')}): each scenario was brought up, judged by "
           "the lab, left up, and examined by doctor as a separate process given only the app and an id._\n",
           f"- doctor, given the callback id, agrees with the lab on **{sm.get('doctor_by_callback_agree')}/{sm.get('chords')}** chords; "
           f"given the group id, on **{sm.get('doctor_by_group_agree')}/{sm.get('chords')}**.",
           f"- doctor said stuck about a chord the lab saw complete: **{sm.get('stuck_on_completed')}** times.",
           f"- audit agrees on **{sm.get('audit_agree')}/{sm.get('audit_scored')}** scenarios whose cause is visible statically.\n"]
    recorded = "doctor_recorder_stuck_agree" in sm
    if recorded:  # the flight recorder was the run's witness: doctor also asked with its history
        out[-1] = out[-1].rstrip("\n")
        out.append(f"- with the flight recorder installed (the run's witness), doctor given the callback id agrees with "
                   f"the lab on **{sm.get('doctor_recorder_stuck_agree')}/{sm.get('stuck_chords')}** stuck chords "
                   f"(without its history: {sm.get('doctor_by_callback_stuck_agree')}/{sm.get('stuck_chords')}); "
                   f"once every chord key and result has expired (`PEXPIRE 1`, Redis backends), on "
                   f"**{sm.get('doctor_recorder_expired_stuck_agree')}/{sm.get('stuck_chords_expirable')}**; where it "
                   "does not agree it says `unknown` or `running`"
                   + (", except " + "; ".join(contradictions(data.get("rows") or [])) if contradictions(data.get("rows") or [])
                      else ", never another cause")
                   + ". After the expiry a completed chord reads `unrecorded` (its state really is PENDING then: the "
                   "result is gone).\n")
    out += (["| scenario | lab | doctor (callback id) | doctor (group id) | doctor + recorder (callback id) "
             "| … after the keys expired | audit |", "|---|---|---|---|---|---|---|"] if recorded else
            ["| scenario | lab | doctor (callback id) | doctor (group id) | audit |", "|---|---|---|---|---|"])

    def fmt(entries: list[dict]) -> str:
        c = Counter(f"{e.get('verdict')}{' · ' + e['cause'] if e.get('cause') else ''}" for e in entries or [])
        return ", ".join(f"{n}× {k}" if n > 1 else k for k, n in c.items()) or "—"

    for row in data.get("rows") or []:
        if row.get("skipped"):
            out.append(f"| `{row['scenario']}` | skipped: {row['skipped']} | | | |" + (" | |" if recorded else ""))
            continue
        audit = row.get("audit") or {}
        audit_s = ", ".join(audit.get("findings") or []) or "no finding"
        if row.get("audit_agrees") is False:
            audit_s += " (**miss**)"
        rec = (f"{fmt(row.get('doctor_recorder'))} | "
               + (f"{fmt(row.get('doctor_recorder_expired'))} | " if "doctor_recorder_expired" in row else "n/a (no Redis backend) | ")
               if recorded else "")
        out.append(f"| `{row['scenario']}` | {fmt(row.get('lab'))} | {fmt(row.get('doctor_by_callback'))} | "
                   f"{fmt(row.get('doctor_by_group'))} | {rec}{audit_s} |")
    if sm.get("misses"):
        out += ["", "**Every miss:**", ""] + [f"- {m}" for m in sm["misses"]]
    out.append("")
    return out


def contradictions(rows: list[dict[str, Any]]) -> list[str]:
    """Stuck chords for which doctor with the recorder named another verdict or cause than the lab (not a weaker
    `unknown` or `running`)."""
    out = []
    for r in rows:
        for key, when in (("doctor_recorder", "with the recorder"), ("doctor_recorder_expired", "after the expiry")):
            for i, x in enumerate(r.get("lab") or []):
                y = (r.get(key) or [None] * (i + 1))[i] if i < len(r.get(key) or []) else None
                if (x["verdict"] == "stuck" and y and y["verdict"] not in ("unknown", "running")
                        and (y["verdict"], y.get("cause")) != (x["verdict"], x.get("cause"))):
                    out.append(f"`{r['scenario']}` {when}: {y['verdict']} · {y.get('cause')} where the lab says "
                               f"{x['verdict']} · {x.get('cause')}")
    return out


def _short_config(sc: dict[str, Any]) -> str:
    ws = "; ".join(f"{w['name']} " + (f"-Q {','.join(w['queues'])}" + (f" {w['argv']}" if w.get("argv") else "") if w.get("queues")
                                       else (w.get("argv") or "no -Q"))
                   + (f" ({w['tasks'][0].rsplit('.', 1)[-1]})" if w.get("tasks") else "") for w in sc.get("workers") or [])
    extra = []
    cfg = sc.get("config") or {}
    for k in ("result_expires", "result_chord_expires", "task_ignore_result", "task_acks_late"):
        if k in cfg:
            extra.append(f"{k}={cfg[k]}")
    if sc.get("broker") != "redis":
        extra.append(f"broker {sc.get('broker')}")
    if sc.get("backend") != "redis":
        extra.append(f"backend {sc.get('backend')}")
    return ws + (("; " + ", ".join(extra)) if extra else "")


def write_report(output: Path | None = None) -> tuple[Path, int]:
    """Write RESULTS.md (or ``output``) whole, or nothing: LabError (254) when it cannot be written there."""
    path = output or PROJECT_ROOT / "RESULTS.md"
    where = f"--output {path}" if output else str(path)
    if not path.parent.is_dir():  # checked before the slow part: re-judging every stored run
        raise LabError(f"{where}: the folder {path.parent} does not exist; create it, or write into a folder that exists.")
    recs = list(records.load_all())
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(build(recs))
        tmp.replace(path)
    except OSError as e:
        with contextlib.suppress(OSError):  # on a read-only mount even unlinking a missing file fails
            tmp.unlink()
        raise LabError(f"{where} cannot be written ({e.strerror}); choose a writable place with --output.") from None
    return path, len(recs)
