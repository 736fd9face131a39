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
import sys
from pathlib import Path

from lab.errors import LabSetupError

RABBITMQ_HOST = os.environ.get("LAB_RABBITMQ_HOST", "127.0.0.1")
RABBITMQ_PORT = int(os.environ.get("LAB_RABBITMQ_PORT", "5672"))
POSTGRES_DEFAULT = "postgresql://postgres@127.0.0.1:5432"
_dropped: set[str] = set()  # vhosts and databases this process dropped already: a second drop is a no-op


def postgres_url() -> str:
    """``LAB_POSTGRES_URL`` (e.g. postgresql://postgres@127.0.0.1:5432), read when a run starts; empty: SQLite."""
    return os.environ.get("LAB_POSTGRES_URL", "").rstrip("/")


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


def rabbitmq_vhost(run_id: str, *, before_create=None) -> tuple[str, str]:
    """Create the run's own vhost; return (broker URL, vhost name).

    ``before_create(vhost)`` is called first, so whoever must drop it knows its name even if we die mid-create."""
    why = rabbitmq_unavailable()
    if why:
        raise LabSetupError(why + ".")
    vhost = f"lab-{run_id}"
    if before_create:
        before_create(vhost)
    _rabbitmqctl("add_vhost", vhost)
    _rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    return f"amqp://guest:guest@{RABBITMQ_HOST}:{RABBITMQ_PORT}/{vhost}", vhost


def drop_rabbitmq_vhost(vhost: str) -> None:
    if vhost in _dropped:
        return
    subprocess.run(["rabbitmqctl", "delete_vhost", vhost], capture_output=True, timeout=30)
    _dropped.add(vhost)


def cleanup_argv(kind: str, name: str) -> list[str]:
    """The command that drops a run's vhost or database from outside the lab (the reaper runs it if the lab dies)."""
    if kind == "vhost":
        return ["rabbitmqctl", "delete_vhost", name]
    root = str(Path(__file__).resolve().parents[3])
    return [sys.executable, "-c", f"import sys; sys.path.insert(0, {root!r}); from lab.runtime.process.services import drop_database; "
            "drop_database(sys.argv[1])", name]


def postgres_unavailable(url: str | None = None) -> str | None:
    """Why a PostgreSQL run cannot happen here, or None when it can."""
    url = url or postgres_url() or POSTGRES_DEFAULT
    try:
        import psycopg2
    except ImportError:
        return "psycopg2 is not installed: pip install 'chord-failure-lab[postgres]'"
    try:
        psycopg2.connect(url + "/postgres", connect_timeout=3).close()
    except psycopg2.OperationalError as e:
        return f"no PostgreSQL answers at {url} ({str(e).strip().splitlines()[0]}): start one, or set LAB_POSTGRES_URL"
    return None


def database_url(run_id: str, run_dir: Path, *, engine: str | None = None, before_create=None) -> tuple[str, str]:
    """The run's database backend: PostgreSQL when LAB_POSTGRES_URL is set (or ``engine="postgresql"``,
    then at LAB_POSTGRES_URL or the default local server), else a SQLite file in the run's folder."""
    url = postgres_url() or (POSTGRES_DEFAULT if engine == "postgresql" else "")
    if engine == "sqlite":
        url = ""
    if not url:
        path = run_dir / "results.sqlite"
        return f"db+sqlite:///{path}", str(path)
    why = postgres_unavailable(url)
    if why:
        raise LabSetupError(f"{why}; or unset LAB_POSTGRES_URL to use SQLite.")
    import psycopg2

    name = "lab_" + "".join(ch if ch.isalnum() else "_" for ch in run_id).lower()
    if before_create:
        before_create(name)
    conn = psycopg2.connect(url + "/postgres", connect_timeout=3)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()
    driver = url.replace("postgresql://", "postgresql+psycopg2://", 1)  # SQLAlchemy 2.1 would pick psycopg 3
    return f"db+{driver}/{name}", name


def drop_database(name: str) -> None:
    """Drop the run's own PostgreSQL database (a SQLite file goes with the run's folder)."""
    url = postgres_url() or POSTGRES_DEFAULT
    if name.endswith(".sqlite") or name in _dropped:
        return
    import psycopg2

    try:
        conn = psycopg2.connect(url + "/postgres", connect_timeout=3)
    except psycopg2.OperationalError:  # the server went away: nothing we can drop
        return
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.close()
    _dropped.add(name)
