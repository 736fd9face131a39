"""Time to a verdict: the lab's proven stuck verdict against ``AsyncResult.get(timeout=...)``.

    python bench/verdict.py [--get-timeout 60] [--store DIR]

The lab's side is read from records (``timings.verdict_after_quiesce_s`` and
``verdict_after_last_part_s``) of every run of a scenario that expects
``stuck``: the records of the catalogue sweeps (``catalogue.py``), or of any
store given.  The usual way of noticing is measured once for real on a bare
topology whose worker consumes only the header's queue: the callback waits
forever in ``reports``, and ``get(timeout=T)`` takes all of T to say only
``TimeoutError``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import BareTopology, fmt, stats  # noqa: E402
from lab import records  # noqa: E402

TARGET_S = 2.0


def lab_side(stores: list[Path]) -> dict[str, dict]:
    by: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for store in stores:
        for rec in records.load_all(store):
            if rec.get("expected") != "stuck" or not any(v["verdict"] == "stuck" for v in rec.get("verdicts", [])):
                continue
            t = rec.get("timings") or {}
            for k in ("verdict_after_quiesce_s", "verdict_after_last_part_s", "header_s"):
                if k in t:
                    by[rec["scenario"]][k].append(t[k])
            by[rec["scenario"]]["quiesced_how"].append(rec["observations"]["quiescence"]["how"])
    return by


def async_result_get(timeout: float, run_dir: Path) -> dict:
    """A chord whose callback nobody consumes; how long does ``get(timeout)`` take, and what does it say?"""
    from celery import chord

    with BareTopology(run_dir, queues="execution") as bare:
        bare.boot()
        app = bare.app
        result = chord([app.signature("lab.part", args=(i, 0.01)) for i in range(3)])(app.signature("lab.collect"))
        t0 = time.time()
        try:
            result.get(timeout=timeout)
            said = "returned"
        except Exception as e:  # celery.exceptions.TimeoutError, the only thing it says
            said = f"{type(e).__module__}.{type(e).__name__}: {e}"
        return {"timeout": timeout, "took_s": time.time() - t0, "said": said, "state": result.state}


def measure(stores: list[Path], get_timeout: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-verdict-") as tmp:
        get = async_result_get(get_timeout, Path(tmp))
    lab = lab_side(stores)
    return {"lab": {k: {"quiesce": stats(v["verdict_after_quiesce_s"]),
                        "last_part": stats(v["verdict_after_last_part_s"]) if v["verdict_after_last_part_s"] else None,
                        "how": sorted(set(v["quiesced_how"]))}
                    for k, v in sorted(lab.items())},
            "get": get, "target_s": TARGET_S,
            "stores": [str(s) if not str(s).startswith(tempfile.gettempdir()) else f"this bench's {s.name} sweep"
                       for s in stores if records.record_files(s)]}


def markdown(m: dict) -> str:
    lines = ["## Time to a verdict\n",
             "Per scenario that expects `stuck`: seconds from the header quiescing (and from the last header part "
             "ending) to the proven stuck verdict, read from the records (`timings.verdict_after_quiesce_s`, "
             f"`verdict_after_last_part_s`) of every run in: {', '.join(m.get('stores') or ['this bench'])}.\n",
             "| scenario | after quiescence: median (range) | after the last part ended | ≤ 2 s? |",
             "|---|---|---|---|"]
    worst = 0.0
    for name, r in m["lab"].items():
        worst = max(worst, r["quiesce"]["max"])
        ok = "yes" if r["quiesce"]["max"] <= m["target_s"] else "**no**"
        lp = fmt(r["last_part"]) if r["last_part"] else "— (a part never ended: " + "/".join(r["how"]) + ")"
        lines.append(f"| {name} | {fmt(r['quiesce'])} | {lp} | {ok} |")
    g = m["get"]
    if not m["lab"]:
        lines.append("| (no stored run of a stuck scenario to read) | | | |")
        worst = float("nan")
    lines += ["", f"Worst case after quiescence: {worst:.2f} s against the {m['target_s']:.0f} s target — "
              + ("meets." if worst <= m["target_s"] else "**misses**."),
              "", f"The usual way: `AsyncResult.get(timeout={g['timeout']:g})` on the same stuck chord (bare Celery) took "
              f"**{g['took_s']:.1f} s** and said only `{g['said']}` (state {g['state']}): no cause, no queue, no proof. "
              f"The lab's worst stuck verdict above came {g['took_s'] / max(worst, 1e-3):.0f}× sooner, with its proof.\n"]
    return "\n".join(lines)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--get-timeout", type=float, default=60.0)
    ap.add_argument("--store", type=Path, action="append", default=[])
    a = ap.parse_args()
    print(markdown(measure(a.store, a.get_timeout)))
