"""``lab doctor``: the lab's proof, brought to a user's own live deployment.

    a user's app + a chord id → observe.live (read) → a reading → judge.live (pure) → cause and fix → view

Thin by design: doctor imports the user's app (its broker, backend, routes and
tasks, as ``celery -A`` would), reads the live system with the lab's own
readers (``lab.observe.live``: read-only, no message consumed or acked),
judges the reading with a pure judge (``lab.judge.live``), and prints the
verdict, its proof and the fix.  ``--save`` stores the readings and the
verdicts as a record (``$LAB_RESULTS/diagnoses.jsonl``); ``lab show <id>``
judges them again.

``agreement_rows()`` (``python -m lab.experiments.agreement``) runs every scenario,
leaves it up, and records the lab's, doctor's and audit's verdicts side by side.

Exit codes: 0 nothing stuck or failed, 1 stuck or failed, 2 cannot tell, 254 bad input.
"""

from __future__ import annotations

import os
import time
from datetime import datetime
from typing import Any


from lab.doctor.audit import WorkerDecl, audit
from lab.judge.live import Diagnosis, diagnose
from lab.observe.live import Deployment, DeploymentError, read_overview

DoctorError = DeploymentError  # the name users' scripts and the CLI know


def overview(dep: Deployment, workers: dict[str, Any], names: set[str], max_chords: int = 10) -> dict[str, Any]:
    """Chords at risk across the deployment, judged, and the config risks audit sees."""
    seen = read_overview(dep, workers, names, max_chords)
    decls = [WorkerDecl(w, qs, True) for w, qs in sorted((workers.get("consumers") or {}).items())]
    risks = [f for f in audit(dep.app, decls, live_backend=True) if f.severity != "info"] if decls else []
    return {**seen, "chords": [diagnose(r).to_dict() for r in seen["chords"]], "readings": seen["chords"],
            "risks": [f.to_dict() for f in risks]}


def save_diagnosis(app_ref: str, readings: list[dict[str, Any]], diagnoses: list[Diagnosis]) -> str:
    """Store what was read and what was judged, so ``lab show`` can judge it again."""
    from lab import records

    diag_id = f"doctor-{datetime.now().strftime('%Y%m%dT%H%M%S')}-{os.urandom(3).hex()}"
    records.append({"run_id": diag_id, "kind": "doctor", "app": app_ref, "started_at": time.time(),
                    "command": records.command_line(), "versions": records.versions(),
                    "readings": readings, "diagnoses": [d.to_dict() for d in diagnoses]},
                   path=records.diagnoses_file(), latest=False)
    return diag_id




