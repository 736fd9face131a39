"""Deployments built by hand, for the tests that check the lab against what it did not build.

A small package written by the test (``shop``: a plain ``Celery(...)`` app and the code that sends its chords),
plain ``celery -A shop.app worker`` command lines owned by a ``ProcessOwner``, and the user's own commands
run as subprocesses.  Each test file keeps its own app source (what it installs, how it routes); the
plumbing is here once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def write_shop(root: Path, app: str, send: str) -> Path:
    """The package ``shop`` under ``root``: ``shop/app.py`` and ``shop/send.py`` from the given sources."""
    pkg = root / "shop"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "app.py").write_text(textwrap.dedent(app))
    (pkg / "send.py").write_text(textwrap.dedent(send))
    return root


def shop_env(root: Path, **shop: str) -> dict[str, str]:
    """This environment without any SHOP_* of an earlier test, with ``shop`` (SHOP_BROKER=..., ...), the package
    and the project importable, and the lab's records kept in the test's folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOP_")}
    return {**env, "LAB_RESULTS": str(root / "lab-results"), "COLUMNS": "120",
            "PYTHONPATH": os.pathsep.join([str(root), str(PROJECT_ROOT)]), **shop}


def start_worker(owner, root: Path, env: dict, name: str, *args: str):
    """``celery -A shop.app worker -n name@shop ARGS``, once it has logged ``ready.``"""
    node = owner.spawn(name, [sys.executable, "-m", "celery", "-A", "shop.app", "worker", "-l", "INFO",
                              "--without-mingle", "--without-gossip", "-n", f"{name}@shop", *args], env=env, cwd=root)
    node.wait_for_log(r"\bready\.", 30)
    return node


def run_json(root: Path, env: dict, argv: list[str], timeout: float = 120) -> tuple[subprocess.CompletedProcess, dict]:
    """Run ``argv`` in the package's folder; its last stdout line, as JSON."""
    done = subprocess.run(argv, cwd=root, env=env, capture_output=True, text=True, timeout=timeout)
    lines = done.stdout.strip().splitlines()
    assert lines, f"{' '.join(argv[:4])} printed nothing (exit {done.returncode}): {done.stderr[-2000:]}"
    return done, json.loads(lines[-1])
