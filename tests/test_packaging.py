"""A plain (not editable) install of the wheel carries everything the service serves, under
one top-level package."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

from tests.conftest import FIXTURES

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import json, sys
import service
from service.http.factory import create_app
app = create_app({"TESTING": True, "FEEDBACK_DB": sys.argv[1]})
client = app.test_client()
listed = client.get("/fhir/Patient?_count=500").get_json()
pages = [client.get(p).status_code for p in ("/demo", "/app/", "/evidence", "/sources")]
print(json.dumps({"service": service.__file__, "patients": listed.get("total"), "pages": pages}))
"""


def test_the_wheel_serves_the_demo_patients_from_its_own_files(tmp_path: Path) -> None:
    """Built and unpacked elsewhere, the package lists every fixture at its /fhir."""
    source = tmp_path / "src"  # a clean copy: no build/ left over from an earlier build
    for name in ("service", "cards", "fhir_fixtures"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(source),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("sclc_relapse_cds-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names if "dist-info" not in n} == {"service"}
    shipped = {n for n in names if n.startswith("service/demo/fixtures/") and n.endswith(".json")}
    assert len(shipped) == len(list(FIXTURES.glob("*.json")))
    assert "service/knowledge_base/sources.toml" in names
    unpacked = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(unpacked)
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path / "feedback.sqlite3")],
        cwd=tmp_path,
        env={"PYTHONPATH": str(unpacked), "PATH": "/usr/bin:/bin"},
        check=True,
        capture_output=True,
        text=True,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["service"].startswith(str(unpacked))
    assert result["patients"] == len(shipped)
    assert result["pages"] == [200, 200, 200, 200]  # templates and pages are shipped too


def test_the_package_list_is_the_tree() -> None:
    """pyproject's explicit `packages` name every folder of service/ that holds code or
    data, and the two top-level data folders it maps into the package."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    mapped = config["package-dir"]
    assert mapped == {"service.knowledge_base": "cards", "service.demo.fixtures": "fhir_fixtures"}
    folders = {
        ".".join(folder.relative_to(ROOT).parts)
        for folder in (ROOT / "service").rglob("*")
        if folder.is_dir() and folder.name != "__pycache__"
    }
    assert sorted(config["packages"]) == sorted({"service", *folders, *mapped})


def test_the_readme_layout_names_every_module() -> None:
    """Every module and package under service/ is named in README's "Layout" block."""
    readme = (ROOT / "README.md").read_text()
    layout = readme.split("## Layout", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"[A-Za-z_]\w*", layout))
    root = ROOT / "service"
    entries = {p.stem for p in root.rglob("*.py") if p.name != "__init__.py"}
    entries |= {p.parent.name for p in root.rglob("__init__.py")}
    assert sorted(entries - named) == []
