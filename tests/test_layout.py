"""The package's layout holds: imports point one way, the CLI is imported by nothing below it, and the
judge is pure (it reads no live system).  Checked on the import graph itself (grimp, import-linter's graph
library), function-local imports included, so a cycle hidden inside a function is still a cycle.
"""

from __future__ import annotations

from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent

ENTRY = "lab.__main__"  # python -m lab: it alone imports the CLI's trunk
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


def is_cli(m: str) -> bool:
    return m == "lab.cli" or m.startswith("lab.cli.")


def stage(m: str) -> str:
    """A module's stage: its folder (or module) directly under lab/."""
    parts = m.split(".")
    return parts[1] if len(parts) > 1 else "lab"


def test_nothing_below_the_cli_imports_it(graph):
    bad = [where(graph, m, c) for c in sorted(filter(is_cli, graph.modules))
           for m in sorted(graph.find_modules_that_directly_import(c)) if not is_cli(m) and m != ENTRY]
    assert not bad, "\n".join(bad)


def test_the_stages_import_one_way(graph):
    """The folders under lab/ form no cycle: a stage never imports a stage that imports it."""
    edges: dict[str, set[str]] = {}
    for m in graph.modules:
        if not m.startswith("lab"):
            continue
        for imported in graph.find_modules_directly_imported_by(m):
            if imported.startswith("lab") and stage(m) != stage(imported):
                edges.setdefault(stage(m), set()).add(stage(imported))
    back = []
    for a, targets in sorted(edges.items()):
        for b in sorted(targets):
            if a < b and a in edges.get(b, set()):
                back.append(f"{a} <-> {b}: " + "; ".join(where(graph, x, y) for x in sorted(graph.modules) if stage(x) == a
                                                       for y in sorted(graph.find_modules_directly_imported_by(x)) if stage(y) == b))
    seen: dict[str, int] = {}  # longer cycles: a depth-first walk over the stage graph

    def walk(v: str, path: list[str]) -> None:
        seen[v] = 1
        for w in sorted(edges.get(v, ())):
            if seen.get(w) == 1:
                back.append("cycle: " + " -> ".join(path[path.index(w):] + [v, w]) if w in path else f"cycle: {v} -> {w}")
            elif w not in seen:
                walk(w, path + [v])
        seen[v] = 2

    for v in sorted(edges):
        if v not in seen:
            walk(v, [])
    assert not back, "\n".join(dict.fromkeys(back))


def test_the_judge_is_pure(graph):
    """lab.judge and its rules import no reader and no I/O library (of lab.observe, only the nouns in
    lab.observe.model): a verdict is a function of observations."""
    judge = {m for m in graph.modules if m == "lab.judge" or m.startswith("lab.judge.")}
    bad = []
    for m in sorted(judge):
        for imported in graph.find_modules_directly_imported_by(m):
            root = imported.split(".")[0]
            if (imported in READERS or root in IO_PACKAGES or is_cli(imported) or imported.startswith("lab.doctor")
                    or (stage(imported) == "observe" and imported != "lab.observe.model")):
                bad.append(where(graph, m, imported))
    assert not bad, "\n".join(bad)


def test_doctor_reads_only_through_the_shared_readers(graph):
    """lab.doctor.diagnose has no reader of its own: it reaches a deployment only through lab.observe.live."""
    bad = [where(graph, "lab.doctor.diagnose", m) for m in sorted(graph.find_modules_directly_imported_by("lab.doctor.diagnose"))
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
    for init in sorted(lab.rglob("__init__.py")):  # every module of every folder, by name
        pkg = init.parent
        if pkg == lab or pkg.is_relative_to(lab / "apps"):  # apps: task code, named by path in records
            continue
        unnamed += [str(p.relative_to(ROOT)) for p in sorted(pkg.glob("*.py"))
                    if p.name != "__init__.py" and f"`{p.name}`" not in layout and f"`{p.relative_to(ROOT)}`" not in layout]
    assert not unnamed, f"README.md's Layout section does not name: {unnamed}"
