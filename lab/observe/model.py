"""The nouns of a live reading, shared by the reader that fills them and the judge that reads them.

    a user's app + a chord id → observe.live (reads) → **a reading** → judge.live (pure) → diagnosis

Pure data and pure views over it: no I/O here, so the judge can import it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

HELD_KINDS = ("active", "reserved", "scheduled")


def epoch(date_done: Any) -> float | None:
    """A meta's ``date_done`` as seconds since the epoch."""
    from datetime import datetime

    if not date_done:
        return None
    try:
        return datetime.fromisoformat(str(date_done).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


@dataclass
class ChordRef:
    """What the deployment says of a chord's ids, and how each was found."""

    asked: str
    group_id: str | None = None
    callback_id: str | None = None
    header_ids: list[str] = field(default_factory=list)
    header_task: str | None = None
    callback_task: str | None = None
    size: int | None = None
    asked_is: str = "unknown"  # callback, group, header, unknown
    how: list[str] = field(default_factory=list)
    candidates: list[str] = field(default_factory=list)  # FAILURE metas naming no group, stored just after the last part

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ChordRef":
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


def held_requests(workers: dict[str, Any]) -> list[dict[str, Any]]:
    """Every request a worker holds, one row each: worker, how (active/reserved/scheduled), the request's fields."""
    rows = []
    for how in HELD_KINDS:
        for host, reqs in (workers.get(how) or {}).items():
            for r in reqs or []:
                req = r.get("request", r) if how == "scheduled" else r
                rows.append({"worker": host, "how": how, "task_id": req.get("id"), "name": req.get("name"),
                             "args": req.get("args"), "kwargs": req.get("kwargs"),
                             "eta": r.get("eta") if how == "scheduled" else None, "time_start": req.get("time_start"),
                             "routing_key": (req.get("delivery_info") or {}).get("routing_key")})
    return rows
