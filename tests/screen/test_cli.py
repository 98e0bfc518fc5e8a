"""`sclc-cds screen`: on a local cluster of processes, on a running scheduler, and after
running the export itself; unusable input is exit 2 with one line."""

from __future__ import annotations

import csv
import hashlib
from functools import partial
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from distributed import LocalCluster

from service.cli import main
from service.screen import dask_cluster
from service.screen.worklist import COLUMNS
from tests.screen.bulk_server import BulkServer, running
from tests.screen.conftest import SPEC, TODAY

WORKLIST = ("worklist.parquet", "worklist.csv", "report.html")


def digests(folder: Path) -> dict[str, str]:
    """SHA-256 of the worklist files and report."""
    return {name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in WORKLIST}


@pytest.fixture(scope="module")
def by_processes(population: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`sclc-cds screen` as a user runs it: a local cluster of one worker process."""
    out = tmp_path_factory.mktemp("cli")
    args = ["screen", str(population), "--out", str(out), "--workers", "1"]
    assert main([*args, "--today", TODAY.isoformat()]) == 0
    return out


def test_screen_writes_the_worklist_and_the_report(by_processes: Path) -> None:
    """A local cluster of worker processes: the three files, a CSV row per SCLC patient."""
    assert all((by_processes / name).is_file() for name in WORKLIST)
    with (by_processes / "worklist.csv").open(encoding="utf-8") as stream:
        rows = list(csv.reader(stream))
    assert rows[0] == [name for name, _ in COLUMNS]
    assert len(rows) > 40
    assert not [p for p in by_processes.iterdir() if p.name.startswith(".screen-")]


def test_screen_on_a_running_scheduler_gives_the_same_files(
    population: Path, by_processes: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--scheduler: the job runs on the cluster named, with the same result."""
    with LocalCluster(n_workers=2, processes=False, dashboard_address="127.0.0.1:0") as cluster:
        args = ["screen", str(population), "--out", str(tmp_path), "--today", TODAY.isoformat()]
        assert main([*args, "--scheduler", cluster.scheduler_address]) == 0
    assert digests(tmp_path) == digests(by_processes)
    out, err = capsys.readouterr()
    assert f"{SPEC.patients} patients" in out and "evaluating" in err


def test_screen_runs_the_bulk_export_first(
    population: Path,
    by_processes: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--bulk-export with SMART Backend Services credentials: download, then screen."""
    monkeypatch.setattr(
        dask_cluster, "dask_client", partial(dask_cluster.dask_client, processes=False)
    )
    private = ec.generate_private_key(ec.SECP384R1())
    key = tmp_path / "key.pem"
    key.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    server = BulkServer(population, public.decode(), status_script=())
    out = tmp_path / "out"
    with running(server):
        code = main(
            [
                "screen",
                "--bulk-export",
                server.kickoff_url,
                "--client-id",
                server.client_id,
                "--private-key",
                str(key),
                "--out",
                str(out),
                "--today",
                TODAY.isoformat(),
            ]
        )
    assert code == 0
    assert (out / "export" / "manifest.json").is_file()
    assert digests(out) == digests(by_processes)
    assert "downloaded" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["screen"], "name the export folder"),
        (["screen", "/nonexistent/export"], "no such file or folder"),
    ],
)
def test_unusable_input_is_exit_2_with_one_line(
    args: list[str], reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """No export named, or a missing folder: exit 2 and the reason, no traceback."""
    assert main(args) == 2
    err = capsys.readouterr().err
    assert reason in err and "Traceback" not in err


def test_a_bad_option_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """argparse's exit 2 with one line, as for the other commands."""
    with pytest.raises(SystemExit) as stopped:
        main(["screen", "x", "--workers", "0"])
    assert stopped.value.code == 2
    assert "must be at least 1" in capsys.readouterr().err
