"""The agreement experiment: the lab, doctor and audit compared over every scenario.

    scenario → runtime up (kept up) → the lab's verdict; doctor and audit asked in their own process → RESULTS.md

``agreement_rows()`` (``python -m lab.experiments.agreement [--into TABLE] [SCENARIO ...]``: every scenario, or
those named; ``--into`` updates their rows in an existing table) brings each scenario up with the
flight recorder as its witness (``lab run --witness recorder``: the same verdicts as the file ledger, see
``experiments/witness.py``), leaves it up, asks ``lab doctor`` by callback id and by group id without the
recorder's history (``--recorder none``), then by callback id reading it, then once more after every chord key
and task result of the chords has been made to expire (Redis backends: the producer's and any a worker writes to
instead), and ``lab audit``, each as a user
would (a separate process with the scenario's app), and writes ``results/doctor_agreement.json``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from lab.judge.causes import STATIC_CAUSES


def _run_json(argv: list[str], env: dict[str, str]) -> tuple[int, dict[str, Any] | None, float, str]:
    import subprocess

    t0 = time.time()
    done = subprocess.run([sys.executable, "-m", "lab", *argv], env=env, capture_output=True, text=True, timeout=120,
                          cwd=str(Path(env.get("PYTHONPATH", ".").split(os.pathsep)[0])))
    elapsed = time.time() - t0
    lines = done.stdout.strip().splitlines()
    try:
        return done.returncode, json.loads(lines[-1]) if lines else None, elapsed, done.stderr.strip()[-500:]
    except ValueError:
        return done.returncode, None, elapsed, (done.stderr or done.stdout).strip()[-500:]


def audit_argv(scenario) -> list[str]:
    """The audit a user of this scenario's topology would run: its workers' command lines and its chords' tasks."""
    argv = []
    for w in scenario.workers:
        argv += ["--worker", f"-Q {','.join(w.queues)}" if w.queues else ""]
    for c in scenario.chords:
        argv += ["--callback", c.callback, "--header", c.header_task]
    longest = max((max(c.durations(), default=0.0) for c in scenario.chords), default=0.0)
    if longest:
        argv += ["--duration", f"{longest:g}"]
    countdown = max([float(o.get("countdown") or 0) for c in scenario.chords for o in (c.part_options, c.callback_options)] + [0.0])
    if countdown:
        argv += ["--countdown", f"{countdown:g}"]
    return argv


def _agree(lab: tuple[str, str | None], doc: dict[str, Any] | None) -> bool:
    if not doc:
        return False
    return doc["verdict"] == lab[0] and (lab[1] is None or doc.get("cause") == lab[1])


EXPIRE_WAIT_S = 10.0  # how long the chord keys and results may take to expire once given 1 ms to live


def expire_chords(result_backend: str | list[str], sent: list[dict[str, Any]]) -> dict[str, Any]:
    """Make every chord key and task result of these chords expire, as ``result_expires`` would have by the time a
    user asks (``PEXPIRE 1``: Redis counts them in ``expired_keys``), in each of the run's Redis result backends (the
    producer's and any a worker writes to instead); return what was expired and how long it took."""
    import redis

    urls = [result_backend] if isinstance(result_backend, str) else list(dict.fromkeys(result_backend))
    clients = [redis.Redis.from_url(u, socket_timeout=5) for u in urls if u.startswith("redis")]
    try:
        keys = set()
        for i, client in enumerate(clients):
            for c in sent:
                for pattern in (f"*{c.get('group_id')}*", f"*{c['chord_id']}*"):
                    keys.update((i, k) for k in client.scan_iter(pattern, count=1000))
                for tid in c.get("header_ids") or []:
                    keys.update((i, k) for k in client.scan_iter(f"*{tid}*", count=1000))
        for i, k in keys:
            clients[i].pexpire(k, 1)
        t0 = time.time()
        left = list(keys)
        while left and time.time() - t0 < EXPIRE_WAIT_S:  # evidence: each key gone, bounded
            left = [(i, k) for i, k in left if clients[i].exists(k)]
            if left:
                time.sleep(0.05)
        return {"expired": len(keys), "left": [k.decode() for _, k in left], "waited_s": round(time.time() - t0, 3),
                **({"backends": len(clients)} if len(clients) > 1 else {})}
    finally:
        for client in clients:
            client.close()


def run_backends(topology) -> list[str]:
    """Every distinct result backend URL of a run: the producer's first, then any a worker was deployed with."""
    urls = [topology.producer_spec.get("result_backend") or ""]
    urls += [(getattr(w, "app_spec", None) or {}).get("result_backend") or "" for w in getattr(topology, "workers", [])]
    return [u for u in dict.fromkeys(urls) if u]


def agreement_row(name: str, *, seed: int = 0) -> dict[str, Any]:
    """Run scenario ``name`` up with the flight recorder as its witness, leave it up, and ask doctor (by callback
    id, by group id; then by callback id reading the recorder, and again once every chord key and result has
    expired) and audit about it."""
    from lab.errors import LabError
    from lab.experiments.live import keep_up
    from lab.scenario import load

    try:
        s = load(name)
    except LabError as e:  # renamed or removed while the table was being made
        return {"scenario": name, "skipped": str(e)}
    row: dict[str, Any] = {"scenario": name, "expect": s.expect, "expect_cause": s.expect_cause, "mechanism": s.mechanism}
    t0 = time.time()
    try:
        with keep_up(s, seed=seed, witness="recorder") as live:
            env = {**os.environ, **live.doctor_env()}
            row["lab"] = [{"chord_id": v.chord_id, "verdict": v.verdict, "cause": v.cause} for v in live.verdicts]
            row["witness"] = "recorder"
            store = live.recorder_store
            callbacks = [c["chord_id"] for c in live.sent]
            asks = [("doctor_by_callback", "--chord", callbacks, "none"),
                    ("doctor_by_group", "--group", [c["group_id"] for c in live.sent if c.get("group_id")], "none"),
                    ("doctor_recorder", "--chord", callbacks, store)]
            backend_url = live.topology.producer_spec.get("result_backend") or ""
            if store and backend_url.startswith("redis"):
                asks.append(("doctor_recorder_expired", "--chord", callbacks, store))
            for key, flag, ids, recorder in asks:
                if key == "doctor_recorder_expired":
                    row["expired"] = expire_chords(run_backends(live.topology), live.sent)
                argv = (["doctor", "--app", "lab.worker_app:app", "--json", "--recorder", recorder or "none"]
                        + [a for i in ids for a in (flag, i)])
                rc, data, elapsed, err = _run_json(argv, env) if ids else (None, None, 0.0, "no ids")
                row[key] = [{k: d.get(k) for k in ("verdict", "cause", "rule", "likely_cause", "summary")}
                            for d in (data or {}).get("chords") or []]
                row[key + "_s"] = round(elapsed, 2)
                if data is None:
                    row[key + "_error"] = err
            rc, data, elapsed, err = _run_json(["audit", "--app", "lab.worker_app:app", "--json", *audit_argv(s)], env)
            row["audit"] = {"exit": rc, "flagged": any(f["severity"] in ("warning", "error") for f in (data or {}).get("findings") or []),
                            "findings": [f"{f['severity']}:{f['id']}" for f in (data or {}).get("findings") or []],
                            **({"error": err} if data is None else {})}
    except LabError as e:  # RabbitMQ or PostgreSQL not here, or a node that did not start
        row["skipped"] = str(e)
        return row
    row["elapsed_s"] = round(time.time() - t0, 1)
    lab = [(x["verdict"], x["cause"]) for x in row["lab"]]
    for key in ("doctor_by_callback", "doctor_by_group", "doctor_recorder", "doctor_recorder_expired"):
        if key not in row:
            continue
        docs = row.get(key) or []
        agree = [_agree(l, docs[i] if i < len(docs) else None) for i, l in enumerate(lab)]
        row[key.replace("doctor_", "agree_")] = sum(agree)
        row[key.replace("doctor_", "stuck_on_completed_")] = sum(
            1 for i, l in enumerate(lab) if l[0] == "completed" and i < len(docs) and docs[i]["verdict"] == "stuck")
    row["chords"] = len(lab)
    bad = [l for l in lab if l[0] != "completed"]
    row["lab_outcome"] = f"{bad[0][0]}" + (f" · {bad[0][1]}" if bad and bad[0][1] else "") if bad else "completed"
    row["static"] = bool(bad) and any(c in STATIC_CAUSES for _, c in bad)
    row["audit_agrees"] = (row["audit"]["flagged"] if row["static"] else
                           (not row["audit"]["flagged"]) if not bad else None)  # None: not visible statically, not scored
    return row


def agreement_rows(names: list[str] | None = None, *, out: Path | None = None, seed: int = 0,
                   on_row=None, into: Path | None = None) -> dict[str, Any]:
    """Doctor's and audit's verdicts next to the lab's, for every scenario, from real runs; written as JSON.

    Returns (and writes to ``$LAB_RESULTS/doctor_agreement.json`` unless ``out`` is given)::

        {"generated_at": iso, "versions": {...}, "rows": [row, ...], "summary": {...}}

    Each row: scenario, expect, expect_cause, mechanism, lab ([{chord_id, verdict, cause}]),
    doctor_by_callback / doctor_by_group ([{verdict, cause, rule, likely_cause, summary}], one per chord,
    in the lab's order) with their wall time (``*_s``), agree_by_callback / agree_by_group (chords whose
    verdict and cause match the lab's), stuck_on_completed_by_* (chords the lab saw complete that doctor
    called stuck: must be 0), audit ({exit, flagged, findings: ["severity:id"]}), static (the lab's cause
    is visible in configuration), audit_agrees (flagged when static, clean when completed, None when the
    cause is runtime-only), lab_outcome, chords, elapsed_s; or skipped (why) when a service is missing.

    ``into`` (an existing table): only ``names`` are run, their rows replace theirs there, the summary is counted
    again over every row, and the table is written back (to ``out`` if given), with ``updated`` saying which.
    """
    from lab import records
    from lab.scenario import scenario_paths

    rows = []
    for name in names or list(scenario_paths()):
        row = agreement_row(name, seed=seed)
        rows.append(row)
        if on_row:
            on_row(row)
    if into is not None:  # a subset run: its rows replace theirs in the whole table, the rest kept as they were
        old = json.loads(Path(into).read_text())
        fresh = {r["scenario"]: r for r in rows}
        rows = [fresh.pop(r["scenario"], r) for r in old["rows"]] + list(fresh.values())
        out = out or Path(into)
    result = {"generated_at": datetime.now().astimezone().isoformat(timespec="seconds"),
              "versions": records.versions(), "rows": rows, "summary": summarize(rows)}
    if into is not None:
        result["updated"] = {"at": result["generated_at"], "scenarios": sorted(r["scenario"] for r in rows
                                                                               if r["scenario"] in {n for n in names or []})}
        result["generated_at"] = old.get("generated_at", result["generated_at"])
    path = out or records.store_dir() / "doctor_agreement.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=1, default=repr))
    os.replace(tmp, path)
    result["path"] = str(path)
    return result


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The table's summary counts over its rows (skipped rows counted as scenarios, not as run)."""
    ran = [r for r in rows if "skipped" not in r]
    chords = sum(r["chords"] for r in ran)
    summary = {
        "scenarios": len(rows), "ran": len(ran), "chords": chords,
        "doctor_by_callback_agree": sum(r["agree_by_callback"] for r in ran),
        "doctor_by_group_agree": sum(r["agree_by_group"] for r in ran),
        # by callback id reading the recorder, and once every chord key and result expired: scored on stuck chords
        **{f"{key}_stuck_agree": sum(1 for r in ran for i, x in enumerate(r["lab"])
                                    if x["verdict"] == "stuck" and i < len(r.get(key) or [])
                                    and _agree((x["verdict"], x["cause"]), r[key][i]))
           for key in ("doctor_by_callback", "doctor_recorder", "doctor_recorder_expired")},
        "stuck_chords": sum(1 for r in ran for x in r["lab"] if x["verdict"] == "stuck"),
        "stuck_chords_expirable": sum(1 for r in ran if "doctor_recorder_expired" in r for x in r["lab"]
                                      if x["verdict"] == "stuck"),
        "stuck_on_completed": sum(r["stuck_on_completed_by_callback"] + r["stuck_on_completed_by_group"] for r in ran),
        "audit_scored": sum(1 for r in ran if r["audit_agrees"] is not None),
        "audit_agree": sum(1 for r in ran if r["audit_agrees"]),
        "misses": [f"{r['scenario']}: lab {r['lab_outcome']}; doctor by {how} "
                   + ", ".join(sorted({f"{d['verdict']}" + (f" · {d['cause']}" if d.get('cause') else "")
                                       + (f" (likely {d['likely_cause']})" if d.get("likely_cause") else "")
                                       for d in r[f'doctor_by_{how}']}) or {"no answer"})
                   for r in ran for how in ("callback", "group") if r[f"agree_by_{how}"] < r["chords"]]
                  + [f"{r['scenario']}: lab {x['verdict']} · {x['cause']}; doctor {how.replace('_', ' ')} "
                     f"{r[key][i]['verdict']}" + (f" · {r[key][i]['cause']}" if r[key][i].get("cause") else "")
                     for r in ran for how, key in (("with the recorder", "doctor_recorder"),
                                                   ("with the recorder after expiry", "doctor_recorder_expired"))
                     for i, x in enumerate(r["lab"]) if x["verdict"] == "stuck" and i < len(r.get(key) or [])
                     and not _agree((x["verdict"], x["cause"]), r[key][i])]
                  + [f"{r['scenario']}: lab {r['lab_outcome']}; audit {'flagged ' + ', '.join(r['audit']['findings']) if r['audit']['flagged'] else 'did not flag it'}"
                     for r in ran if r["audit_agrees"] is False],
    }
    return summary


USAGE = "usage: python -m lab.experiments.agreement [--into TABLE.json] [SCENARIO ...]"


def _main(argv: list[str]) -> int:
    """``python -m lab.experiments.agreement [--into TABLE] [SCENARIO ...]``: write doctor_agreement.json from real
    runs; with ``--into`` an existing table, run only the scenarios named and update their rows and the summary."""
    into = None
    if argv[:1] == ["--into"]:
        if len(argv) < 3:
            print(f"--into needs a table and at least one scenario; {USAGE}", file=sys.stderr)
            return 254
        into, argv = Path(argv[1]), argv[2:]
        try:
            json.loads(into.read_text())["rows"]
        except (OSError, ValueError, KeyError, TypeError):
            print(f"{into} is not an agreement table (results/doctor_agreement.json); {USAGE}", file=sys.stderr)
            return 254
    if any(a.startswith("-") for a in argv):
        print(USAGE, file=sys.stderr)
        return 254
    from lab.errors import LabError
    from lab.scenario import load

    for name in argv:
        try:
            load(name)
        except LabError as e:
            print(f"{e}", file=sys.stderr)
            return 254

    def show(r: dict[str, Any]) -> None:
        if "skipped" in r:
            print(f"{r['scenario']:34} skipped: {r['skipped']}", flush=True)
            return
        rec = (f"recorder {r.get('agree_recorder', '-')}/{r['chords']}  "
               f"expired {r.get('agree_recorder_expired', '-')}/{r['chords']}  ")
        print(f"{r['scenario']:34} lab {r['lab_outcome']:38} doctor(callback) {r['agree_by_callback']}/{r['chords']}  "
              f"doctor(group) {r['agree_by_group']}/{r['chords']}  {rec}audit {'flags' if r['audit']['flagged'] else 'clean'}"
              f"{'' if r['audit_agrees'] is None else (' ok' if r['audit_agrees'] else ' MISS')}  {r['elapsed_s']} s", flush=True)

    result = agreement_rows(argv or None, on_row=show, into=into)
    print(json.dumps(result["summary"], indent=1))
    print(f"wrote {result['path']}")
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
