"""The import contract (STYLE.md habit 15): the clinical core loads no web, storage or
cluster package; importing `service` builds and loads nothing; every module under
`service/` imports on its own, in any order, so no import cycle hides behind another
module's import order."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import service

# The clinical core: the rules, reading FHIR JSON, the knowledge base, the cards, one
# patient's pipeline and what a hook call is made of (its registry, request and drafts).
CORE = (
    "service.engine",
    "service.fhir",
    "service.knowledge",
    "service.cards",
    "service.pipeline",
    "service.hooks",
    "service.wire",
    "service.errors",
)
# What the surfaces around the core bring: the web app, the SMART app's OAuth client,
# the database, the FHIR client, the server and the population job.
SURFACE_PACKAGES = frozenset(
    {
        "authlib",
        "dask",
        "distributed",
        "flask",
        "flask_cors",
        "gunicorn",
        "jwt",
        "matplotlib",
        "psycopg",
        "pyarrow",
        "requests",
        "sqlalchemy",
        "urllib3",
        "werkzeug",
    }
)


def _fresh(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return done.stdout.strip()


def _modules() -> list[str]:
    """Every Python module and package under service/."""
    root = Path(service.__file__).parent
    found = ["service"]
    for info in pkgutil.walk_packages([str(root)], prefix="service."):
        found.append(info.name)
    return sorted(found)


def test_importing_the_package_loads_nothing_else() -> None:
    """`import service` builds no app and imports none of its own modules."""
    loaded, names = json.loads(
        _fresh(
            "import json, sys; import service; print(json.dumps(["
            "sorted(m for m in sys.modules if m.startswith('service')), "
            "[n for n in vars(service) if not n.startswith('__')]]))"
        )
    )
    assert (loaded, names) == (["service"], [])


@pytest.mark.parametrize("module", CORE)
def test_the_core_loads_no_web_storage_or_cluster_package(module: str) -> None:
    """Importing a core module in a fresh interpreter loads no surface's package."""
    loaded = json.loads(
        _fresh(
            f"import json, sys; import {module}; "
            "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
        )
    )
    assert sorted(SURFACE_PACKAGES & set(loaded)) == []


def test_every_module_imports_on_its_own() -> None:
    """Each module of service/, imported first in a process of its own, imports."""
    modules = _modules()
    assert len(modules) > 60  # the walk found the package, not an empty folder
    # One child imports everything, to learn which other packages the service loads;
    # the parent imports those (never a service module), then forks a child per module,
    # which meets every module of its own package for the first time.
    script = f"""
import importlib, json, os, sys
modules = {modules!r}


def in_child(work):
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(reader)
        try:
            said = work()
        except BaseException as error:
            os.write(writer, repr(error).encode()[:500])
            os._exit(1)
        os.write(writer, said.encode())
        os._exit(0)
    os.close(writer)
    chunks = []
    while chunk := os.read(reader, 65536):
        chunks.append(chunk)
    os.close(reader)
    return os.waitpid(pid, 0)[1] == 0, b"".join(chunks).decode()


def everything():
    for module in modules:
        importlib.import_module(module)
    return json.dumps([m for m in sys.modules if m.split(".")[0] != "service"])


ok, others = in_child(everything)
for name in json.loads(others) if ok else []:
    try:
        importlib.import_module(name)
    except BaseException:
        pass
failed = {{}}
for module in modules:
    ok, said = in_child(lambda: importlib.import_module(module) and "")
    if not ok:
        failed[module] = said
print(json.dumps(failed))
"""
    assert json.loads(_fresh(script)) == {}


def test_module_names_are_unique() -> None:
    """No two modules of service/ share a name (`http/fhir.py` beside `fhir/` read as one
    thing and were another)."""
    root = Path(service.__file__).parent
    names = [p.stem for p in root.rglob("*.py") if p.name != "__init__.py"]
    packages = [p.parent.name for p in root.rglob("__init__.py") if p.parent != root]
    seen = sorted(names + packages)
    assert sorted({n for n in seen if seen.count(n) > 1}) == []
