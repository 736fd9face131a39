"""Stability: does a scenario give the same verdict and cause every time it runs?

    scenario → topology up → chords sent → observations → verdict → record → **RESULTS.md**

Read-only over stored records, like ``lab.report.results``.  A run's *signature* is
the multiset of (verdict, cause) over its chords, e.g. ``stuck·callback-queue-
unconsumed ×2``; a scenario agrees with itself when every run has the same
signature.  ``agreement_table(records)`` gives the markdown table that
``lab/report/results.py`` puts in RESULTS.md: per scenario (and Celery version, since
the version matrix stores runs of several), the share of runs that carry the
most common signature, and every other signature seen with its count.

A scenario whose disagreement is Celery's own (not the lab's) says so with
``nondeterministic`` in its stored scenario dict: its rate is then reported as
measured, marked, not counted as a defect.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any, Iterable

Signature = tuple[tuple[str, str | None, int], ...]


def run_signature(verdicts: Iterable[Any]) -> Signature:
    """The (verdict, cause, count) triples of one run, sorted: chord order and chord ids do not matter."""
    counts: Counter[tuple[str, str | None]] = Counter()
    for v in verdicts:
        verdict = v["verdict"] if isinstance(v, dict) else v.verdict
        cause = v.get("cause") if isinstance(v, dict) else v.cause
        counts[(verdict, cause)] += 1
    return tuple(sorted(((verdict, cause, n) for (verdict, cause), n in counts.items()), key=lambda t: (t[0], t[1] or "")))


def describe_signature(sig: Signature) -> str:
    if not sig:
        return "no chords"
    return ", ".join(f"{verdict}" + (f"·{cause}" if cause else "") + (f" ×{n}" if n > 1 else "") for verdict, cause, n in sig)


def _group_key(rec: dict[str, Any]) -> tuple[str, str]:
    versions = rec.get("versions") or {}
    runtime = ((rec.get("observations") or {}).get("topology") or {}).get("runtime")
    celery = str(versions.get("celery") or "?") + (f" ({runtime})" if runtime and runtime != "process" else "")
    witness = (rec.get("observations") or {}).get("witness")
    celery += " (recorder)" if witness == "recorder" else ""  # the flight recorder as witness: its own group
    return rec.get("scenario", "?"), celery


def agreement(records: Iterable[dict[str, Any]], *, rejudge: bool = False) -> list[dict[str, Any]]:
    """Per (scenario, Celery version): runs, agreement rate, the modal signature and every other one seen.

    ``rejudge=True`` judges each record's stored observations again with the
    current checker instead of reading its stored verdicts.
    """
    if rejudge:
        from lab.fuzz.oracle import judge_observations
    groups: dict[tuple[str, str], list[Signature]] = defaultdict(list)
    expectations: dict[tuple[str, str], dict[str, Any]] = {}
    for rec in records:
        verdicts = judge_observations(rec["observations"]) if rejudge else rec.get("verdicts") or []
        key = _group_key(rec)
        groups[key].append(run_signature(verdicts))
        sc = (rec.get("observations") or {}).get("scenario") or {}
        expectations[key] = {"expect": rec.get("expected") or sc.get("expect"), "expect_cause": sc.get("expect_cause"),
                             "nondeterministic": sc.get("nondeterministic")}
    rows = []
    for key in sorted(groups):
        sigs = Counter(groups[key])
        modal, n_modal = sigs.most_common(1)[0]
        total = sum(sigs.values())
        exp = expectations[key]
        rows.append({
            "scenario": key[0], "celery": key[1], "runs": total, "agreeing": n_modal, "rate": n_modal / total,
            "signature": describe_signature(modal),
            "others": [(describe_signature(s), n) for s, n in sigs.most_common() if s != modal],
            "expected": exp["expect"] + (f"·{exp['expect_cause']}" if exp.get("expect_cause") else "") if exp["expect"] else "?",
            "nondeterministic": exp.get("nondeterministic"),
        })
    return rows


def agreement_table(records: Iterable[dict[str, Any]], *, min_runs: int = 2, rejudge: bool = False) -> str:
    """A markdown table of per-scenario agreement (verdict and cause alike in every run).

    Groups with fewer than ``min_runs`` runs are left out: one run agrees with itself.
    """
    rows = [r for r in agreement(records, rejudge=rejudge) if r["runs"] >= min_runs]
    if not rows:
        return "_No scenario has been run twice yet: `python -m lab run NAME --runs 20` gives an agreement rate._\n"
    lines = ["| scenario | celery | runs | agreement | verdict · cause in most runs | other outcomes seen |",
             "|---|---|---:|---:|---|---|"]
    for r in rows:
        rate = f"{r['rate']:.0%}" if r["rate"] < 1 else "100%"
        if r["nondeterministic"]:
            rate += " (nondeterministic)"
        elif r["rate"] < 1:
            rate = f"**{rate}**"
        others = "; ".join(f"{s} ({n})" for s, n in r["others"]) or "none"
        lines.append(f"| {r['scenario']} | {r['celery']} | {r['runs']} | {rate} | {r['signature']} | {others} |")
    disagreeing = [r for r in rows if r["rate"] < 1]
    total_runs = sum(r["runs"] for r in rows)
    lines.append("")
    lines.append(f"{len(rows)} scenario/version group(s), {total_runs} runs; "
                 f"{len(rows) - len(disagreeing)} agree with themselves in every run"
                 + (f", {len(disagreeing)} do not: " + ", ".join(f"{r['scenario']} ({r['rate']:.0%})" for r in disagreeing)
                    if disagreeing else "") + ".")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # python -m lab.report.stability [STORE or record file]: the table for a store, on stdout
    import sys
    from pathlib import Path

    from lab import records as _records

    print(agreement_table(_records.load_all(Path(sys.argv[1]) if len(sys.argv) > 1 else None)))
