"""The package's layout holds: imports point one way, the CLI is imported by nothing below it, and the
judge is pure (it reads no live system).  Checked on the import graph itself (grimp, import-linter's graph
library), function-local imports included, so a cycle hidden inside a function is still a cycle.
"""

from __future__ import annotations

from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent

CLI_MODULES = {"lab.cli", "lab.__main__"}  # the entry points; lab.fuzz.cli and the *_cmd modules are commands below them
READERS = {"lab.observe.broker", "lab.observe.backend", "lab.observe.workers", "lab.observe.live"}
IO_PACKAGES = {"redis", "kombu", "celery", "psutil", "docker", "subprocess", "socket"}


@pytest.fixture(scope="module")
def graph():
    return grimp.build_graph("lab", include_external_packages=True)


def cycles(graph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), over lab's own modules."""
    mods = sorted(m for m in graph.modules if m == "lab" or m.startswith("lab."))
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.find_modules_directly_imported_by(v):
            if not w.startswith("lab"):
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for m in mods:
        if m not in index:
            visit(m)
    return out


def where(graph, a: str, b: str) -> str:
    return "; ".join(f"{a}:{d['line_number']} {d['line_contents']}" for d in graph.get_import_details(importer=a, imported=b))


def test_no_import_cycles(graph):
    found = cycles(graph)
    detail = []
    for comp in found:
        for a in comp:
            for b in comp:
                if a != b and graph.direct_import_exists(importer=a, imported=b):
                    detail.append(where(graph, a, b))
    assert not found, f"import cycles: {found}\n" + "\n".join(detail)


def test_nothing_below_the_cli_imports_it(graph):
    importers = graph.find_modules_that_directly_import("lab.cli") - CLI_MODULES
    assert not importers, "\n".join(where(graph, m, "lab.cli") for m in sorted(importers))


def test_the_judge_is_pure(graph):
    """lab.judge and its rules import no reader and no I/O library: a verdict is a function of observations."""
    judge = {m for m in graph.modules if m == "lab.judge" or m.startswith("lab.judge.")}
    bad = []
    for m in sorted(judge):
        for imported in graph.find_modules_directly_imported_by(m):
            root = imported.split(".")[0]
            if imported in READERS or root in IO_PACKAGES or imported in CLI_MODULES or imported.startswith("lab.doctor"):
                bad.append(where(graph, m, imported))
    assert not bad, "\n".join(bad)


def test_doctor_reads_only_through_the_shared_readers(graph):
    """lab.doctor has no reader of its own: it reaches a deployment only through lab.observe.live."""
    bad = [where(graph, "lab.doctor", m) for m in sorted(graph.find_modules_directly_imported_by("lab.doctor"))
           if m.split(".")[0] in {"redis", "kombu", "psutil"} or m in READERS - {"lab.observe.live"}]
    assert not bad, "\n".join(bad)


def test_the_readme_layout_names_every_module_and_folder():
    """README's Layout section matches the folders: every module and package of lab/ is named there."""
    text = (ROOT / "README.md").read_text()
    layout = text[text.index("## Layout"):].split("\n## ", 1)[0]
    lab = ROOT / "lab"
    names = [f"lab/{p.name}" for p in sorted(lab.glob("*.py")) if p.name not in ("__init__.py", "__main__.py")]
    names += [f"lab/{p.name}/" for p in sorted(lab.iterdir()) if p.is_dir() and (p / "__init__.py").exists()]
    unnamed = [n for n in names if f"`{n}`" not in layout and f"`{n.rstrip('/')}`" not in layout]
    for pkg in ("observe", "judge", "runtime"):  # the folders of the shared core: their modules by name too
        unnamed += [f"lab/{pkg}/{p.name}" for p in sorted((lab / pkg).glob("*.py"))
                    if p.name != "__init__.py" and f"`{p.name}`" not in layout]
    assert not unnamed, f"README.md's Layout section does not name: {unnamed}"
