"""Compose: a scenario's topology as a docker-compose file, to keep, edit and start by hand.

    scenario → **topology (a compose file)** → docker compose up → lab attach → verdict → record

``python -m lab compose SCENARIO > my-topology.yml`` writes the topology that
``--runtime docker`` would start, as plain compose services a user can read:

- ``redis``: redis-server with the scenario's options (the broker on db 0, the
  result backend on db 1);
- one service per scenario worker: the very ``celery worker`` command line of
  a lab run, with the worker's app spec (broker, backend, Celery config, task
  modules, ledger folder) written out in its environment as JSON;
- ``lab``: a one-shot service that sends the scenario's chords into that
  topology and judges them (``python -m lab attach``), sharing the ledger
  volume with the workers.  A scenario with faults gets no ``lab`` service:
  a nemesis must own the containers it breaks (``lab run --runtime docker``).

The file names the image ``chord-failure-lab:latest`` and how to build it from
this checkout.  Nothing here talks to a Docker engine.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import yaml

from lab.errors import LabError
from lab.runtime.celery_app import app_spec
from lab.runtime.docker.containers import check_supported
from lab.scenario import SCENARIOS_DIR, Scenario
from lab.runtime.process.topology import _worker_argv

PROJECT_ROOT = Path(__file__).resolve().parents[3]
IMAGE = "chord-failure-lab:latest"
REDIS_HOST = "redis:6379"
LEDGER = "/ledger"
# The spec is JSON in the environment, so it can be read and edited in the compose
# file itself; the command writes it to the file LAB_APP names before it starts.
WRITE_SPEC = 'printf "%s" "$$LAB_APP_JSON" > "$$LAB_APP" && exec "$$@"'


class _Literal(str):
    """A multi-line string dumped as a YAML block (``|``), so a JSON spec stays readable."""


def _literal(dumper: yaml.SafeDumper, value: _Literal) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")


class _Flow(list):
    """A command line, dumped on one line (``[celery, -A, ...]``)."""


def _flow(dumper: yaml.SafeDumper, value: _Flow) -> yaml.SequenceNode:
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=True)


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(_Literal, _literal)
_Dumper.add_representer(_Flow, _flow)


def _filled(config: dict[str, Any]) -> dict[str, Any]:
    """A config's own broker/backend URLs with ``{redis}`` pointing at the compose redis service."""
    return {k: (v.replace("{redis}", REDIS_HOST) if k in ("broker_url", "result_backend") and isinstance(v, str) else v)
            for k, v in config.items()}


def _spec(config: dict[str, Any], tasks: list[str], node: str) -> dict[str, Any]:
    config = _filled(config)
    broker = config.pop("broker_url", f"redis://{REDIS_HOST}/0")
    backend = config.pop("result_backend", f"redis://{REDIS_HOST}/1")
    return app_spec(broker_url=broker, result_backend=backend, config=config, tasks=tasks, ledger_dir=LEDGER, node=node)


def _lab_service(context: str, env: dict[str, Any], argv: list[str], volumes: list[str],
                 depends_on: list[str]) -> dict[str, Any]:
    """A service on the lab's image whose command first writes its app spec (``LAB_APP_JSON``) to ``LAB_APP``."""
    return {"image": IMAGE, "build": {"context": context, "args": {"BASE_IMAGE": "${BASE_IMAGE:-python:3.11-slim}"}},
            "environment": env, "command": _Flow(["sh", "-c", WRITE_SPEC, "sh", *argv]),
            "volumes": list(volumes), "depends_on": list(depends_on)}


def _check_plain(scenario: Scenario) -> None:
    """A compose file carries each worker's config as JSON: a config object (a regex route, a router, a Queue),
    a user's own app or a canvas function cannot be written into it, so say so before writing anything."""
    from lab.scenario import unsendable

    bad = next((v for v in (scenario.config, *(w.config for w in scenario.workers)) if unsendable(v) is not None), None)
    if bad is not None:
        raise LabError(f"scenario {scenario.name!r} has config JSON cannot hold ({unsendable(bad)!r}); a compose file carries "
                       "config as JSON: run it with `python -m lab run` (its workers import the scenario file).")
    if scenario.app or scenario.canvas or any(w.app for w in scenario.workers):
        raise LabError(f"scenario {scenario.name!r} runs a user's own app or a canvas function; a compose file of the lab "
                       "runs lab.worker_app with plain config: run it with `python -m lab run`.")


def compose_for(scenario: Scenario, *, context: str | None = None) -> dict[str, Any]:
    """The compose document (a dict) for ``scenario`` (a Redis topology, as the docker runtime runs)."""
    check_supported(scenario, who="a compose file of the lab", instead="run it with `python -m lab run`")
    _check_plain(scenario)
    context = context or str(PROJECT_ROOT)
    volumes: list[str] = [f"ledger:{LEDGER}"]
    env: dict[str, str] = {}
    ref = scenario.name
    if scenario.source and Path(scenario.source).parent.resolve() != SCENARIOS_DIR.resolve():
        # a script of the user's own: mounted, with its folder on the path for the task modules it brings
        volumes.append(f"{Path(scenario.source).parent.resolve()}:/scenario:ro")
        env["PYTHONPATH"] = "/scenario"
        ref = f"/scenario/{Path(scenario.source).name}"
    redis_cmd = ["redis-server", "--save", "", "--appendonly", "no", "--protected-mode", "no"]
    for key, value in scenario.redis_options.items():
        redis_cmd += [f"--{str(key).lstrip('-')}", str(value)]
    services: dict[str, Any] = {"redis": {"image": "${REDIS_IMAGE:-redis:7}", "command": _Flow(redis_cmd)}}
    for w in scenario.workers:
        spec = _spec({**scenario.config, **w.config}, list(w.tasks or scenario.tasks), w.name)
        argv = _worker_argv(w, f"{w.name}@%h")[2:]  # `celery -A lab.worker_app worker ...`, as in a lab run
        wenv = {**env, "LAB_APP": "/tmp/app.json", "LAB_APP_JSON": _Literal(json.dumps(spec, indent=2) + "\n")}
        services[w.name] = _lab_service(context, wenv, argv, volumes, ["redis"])
    if not scenario.faults:
        producer = _spec(scenario.config, list(scenario.tasks), "producer")
        lenv = {**env, "LAB_RESULTS": "/lab/results", "LAB_APP": "/tmp/producer.json",
                "LAB_APP_JSON": _Literal(json.dumps(producer, indent=2) + "\n")}
        argv = ["python", "-m", "lab", "attach", ref, "--app-spec", "/tmp/producer.json", "--json"]
        services["lab"] = _lab_service(context, lenv, argv, [*volumes, "./results:/lab/results"],
                                       [w.name for w in scenario.workers])
    return {"services": services, "volumes": {"ledger": {}}}


def render(scenario: Scenario, *, context: str | None = None) -> str:
    """The compose file for ``scenario`` as text, with a header saying what it is and how to start it."""
    doc = compose_for(scenario, context=context)
    head = [f"# {scenario.name}: {scenario.description}",
            f"# Written by `python -m lab compose {scenario.name}`; yours to keep and edit.",
            "# Build the lab's image once (from this checkout), then start the topology:",
            f"#   docker build -t {IMAGE} {shlex.quote(context or str(PROJECT_ROOT))}",
            "#   docker compose -f THIS_FILE up --abort-on-container-exit"
            + (" --exit-code-from lab" if "lab" in doc["services"] else "")]
    if "lab" in doc["services"]:
        head += ["# The lab service sends the scenario's chords, judges them, exits 0 when the outcome",
                 f"# matches what the scenario expects ({scenario.expect}), and records the run in ./results."]
    else:
        kinds = ", ".join(sorted({f.kind for f in scenario.faults}))
        head += [f"# This scenario injects faults ({kinds}): a nemesis must own the containers it breaks,",
                 f"# so there is no lab service; `python -m lab run {scenario.name} --runtime docker` runs it whole."]
    head += ["# Each worker's app spec is the JSON in its LAB_APP_JSON; the workers and the lab share",
             "# the ledger volume.  Poke at it by hand: docker compose exec redis redis-cli LLEN celery", ""]
    body = yaml.dump(doc, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=120)
    return "\n".join(head) + body


