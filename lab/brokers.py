"""Shared servers a scenario may need beyond its own redis-server.

    scenario → **topology up** → chords sent → observations → verdict → record

RabbitMQ and PostgreSQL are machine-wide services, so each run takes its own
vhost or database, named after the run id, and drops it at the end.  Where no
server is reachable the run stops with one sentence saying so, and tests skip.
A SQLite file in the run's folder is the default database backend: it needs
no server at all.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

from lab.errors import LabSetupError

RABBITMQ_HOST = os.environ.get("LAB_RABBITMQ_HOST", "127.0.0.1")
RABBITMQ_PORT = int(os.environ.get("LAB_RABBITMQ_PORT", "5672"))
POSTGRES_URL = os.environ.get("LAB_POSTGRES_URL", "")  # e.g. postgresql://postgres@127.0.0.1:5432


def reachable(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def rabbitmq_unavailable() -> str | None:
    """Why a RabbitMQ scenario cannot run here, or None when it can."""
    if not reachable(RABBITMQ_HOST, RABBITMQ_PORT):
        return f"no RabbitMQ answers on {RABBITMQ_HOST}:{RABBITMQ_PORT}: start one (rabbitmq-server -detached) or set LAB_RABBITMQ_HOST/LAB_RABBITMQ_PORT"
    if not shutil.which("rabbitmqctl"):
        return "rabbitmqctl is not on PATH: the lab needs it to create a vhost per run (apt-get install rabbitmq-server)"
    return None


def _rabbitmqctl(*args: str) -> None:
    done = subprocess.run(["rabbitmqctl", *args], capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        raise LabSetupError(f"rabbitmqctl {' '.join(args)} failed: {done.stderr.strip().splitlines()[-1:] or done.returncode}")


def rabbitmq_vhost(run_id: str) -> tuple[str, str]:
    """Create the run's own vhost; return (broker URL, vhost name)."""
    why = rabbitmq_unavailable()
    if why:
        raise LabSetupError(why + ".")
    vhost = f"lab-{run_id}"
    _rabbitmqctl("add_vhost", vhost)
    _rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    return f"amqp://guest:guest@{RABBITMQ_HOST}:{RABBITMQ_PORT}/{vhost}", vhost


def drop_rabbitmq_vhost(vhost: str) -> None:
    subprocess.run(["rabbitmqctl", "delete_vhost", vhost], capture_output=True, timeout=30)


def database_url(run_id: str, run_dir: Path) -> tuple[str, str]:
    """The run's database backend: PostgreSQL when LAB_POSTGRES_URL is set, else a SQLite file."""
    if not POSTGRES_URL:
        path = run_dir / "results.sqlite"
        return f"db+sqlite:///{path}", str(path)
    import psycopg2

    name = "lab_" + "".join(ch if ch.isalnum() else "_" for ch in run_id).lower()
    try:
        conn = psycopg2.connect(POSTGRES_URL + "/postgres", connect_timeout=3)
    except psycopg2.OperationalError as e:
        raise LabSetupError(f"PostgreSQL at {POSTGRES_URL} is unreachable ({str(e).strip().splitlines()[0]}): start it, or unset LAB_POSTGRES_URL to use SQLite.") from None
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()
    return f"db+{POSTGRES_URL}/{name}", name


def drop_database(name: str) -> None:
    if not POSTGRES_URL or name.endswith(".sqlite"):
        return
    import psycopg2

    conn = psycopg2.connect(POSTGRES_URL + "/postgres", connect_timeout=3)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.close()
