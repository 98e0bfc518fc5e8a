"""HTTP load against a real `sclc-cds serve` on loopback, with wrk in its own process.

    .venv/bin/python benchmarks/http_load.py --seconds 6 --connections 8 [--repeat]

Starts the service (gunicorn, `--workers`) on a free 127.0.0.1 port with a fresh
feedback database, writes patient-view request bodies to a temporary folder: by default
distinct real-shaped records of about `--size` resources (fixtures padded as
`benchmarks/records.py` does), each request with a patient id of its own, so that nothing
is cacheable; with `--repeat` one record, the same every time. It runs wrk bounded in
time (`-d`), samples the gunicorn workers' resident memory from /proc while it runs, and
prints one line of figures (also as JSON with `--json`): requests per second, p50, p99,
non-2xx answers, socket errors and the peak worker RSS. Loopback only; wrk comes from
Debian (`apt-get install wrk`).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from records import hook_body, padded_bundle, prefetch_of  # benchmarks/records.py

from service.settings import DEFAULTS

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fhir_fixtures"
SCLC_CDS = Path(sys.executable).with_name("sclc-cds")
TODAY = "2026-11-21"
PATH = "/cds-services/sclc-relapse-patient-view"

# After its workers are forked, how long a server is given to have each of them listening.
WORKER_BOOT_SECONDS = 1.5

# A patient id in the bodies that wrk replaces, request by request, with one of its own.
PLACEHOLDER = "benchpatient"

# wrk's Lua: cycle through the request bodies written beside it (with a fresh patient id
# per request when `unique`); report JSON at the end. The load generator shares the two
# cores with the server, so it does as little as it can: one body sent again and again
# is wrk's static request (formatted once, no Lua per request); otherwise each request is
# formatted once, at start, and cut at the placeholder, so that a request is one
# concatenation (the ids have the placeholder's length, so Content-Length holds).
_LUA = r"""
local requests = {}
local count = 0
local index = 0
local sent = 0
local unique = @UNIQUE@
local threads = 0

setup = function(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

local function pieces(text, mark)
  local found, from = {}, 1
  while true do
    local first, last = string.find(text, mark, from, true)
    if first == nil then break end
    found[#found + 1] = string.sub(text, from, first - 1)
    from = last + 1
  end
  found[#found + 1] = string.sub(text, from)
  return found
end

init = function(args)
  local folder = args[1]
  local listing = io.open(folder .. "/index.txt")
  local bodies = {}
  for name in listing:lines() do
    local file = io.open(folder .. "/" .. name)
    bodies[#bodies + 1] = file:read("*a")
    file:close()
  end
  listing:close()
  if request == nil then  -- one body: wrk's static request
    wrk.method = "POST"
    wrk.headers["Content-Type"] = "application/json"
    wrk.body = bodies[1]
    return
  end
  for _, body in ipairs(bodies) do
    count = count + 1
    local formatted = wrk.format("POST", "@PATH@", {["Content-Type"] = "application/json"}, body)
    requests[count] = unique and pieces(formatted, "@PLACEHOLDER@") or formatted
  end
  index = math.random(count)
end

if unique or @COUNT@ > 1 then
  request = function()
    index = index % count + 1
    if not unique then
      return requests[index]
    end
    sent = sent + 1
    return table.concat(requests[index], string.format("bp%02d%08d", tid, sent))
  end
end

done = function(summary, latency, requests)
  io.write(string.format(
    "JSON {\"requests\": %d, \"seconds\": %.3f, \"p50_ms\": %.3f, \"p99_ms\": %.3f, " ..
    "\"non2xx\": %d, \"connect_errors\": %d, \"read_errors\": %d, \"write_errors\": %d, " ..
    "\"timeouts\": %d}\n",
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1e3,
    latency:percentile(99) / 1e3, summary.errors.status, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.timeout))
end
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_bodies(folder: Path, bodies: Sequence[dict[str, Any]]) -> int:
    """The request bodies in `folder`, listed in index.txt."""
    names = []
    for number, body in enumerate(bodies):
        name = f"body-{number}.json"
        (folder / name).write_text(json.dumps(body))
        names.append(name)
    (folder / "index.txt").write_text("\n".join(names) + "\n")
    return len(names)


def distinct_bodies(size: int, count: int) -> list[dict[str, Any]]:
    """`count` different records of about `size` resources (fixtures padded, seeds apart),
    each with the placeholder patient id wrk replaces per request."""
    fixtures = sorted(p.stem for p in FIXTURES.glob("*.json"))
    found = []
    for number in range(count):
        bundle = padded_bundle(
            fixtures[number % len(fixtures)], size, seed=number, patient_id=PLACEHOLDER
        )
        patient, prefetch = prefetch_of(bundle)
        found.append(hook_body(patient, prefetch, number))
    return found


def repeated_body(size: int) -> dict[str, Any]:
    """One record of about `size` resources (the third-line fixture padded)."""
    patient, prefetch = prefetch_of(padded_bundle("third-line", size))
    return hook_body(patient, prefetch)


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used (/proc/PID/stat)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


@contextmanager
def running_service(workers: int, folder: Path, **env: str) -> Iterator[tuple[str, int]]:
    """`sclc-cds serve` on a free loopback port: (base URL, gunicorn master pid)."""
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SCLC_CDS_")}
    environ.update(
        SCLC_CDS_TODAY=TODAY,
        SCLC_CDS_FEEDBACK_DB=str(folder / "feedback.sqlite3"),
        SCLC_CDS_MAX_BODY_BYTES=str(64 * 1024 * 1024),
        **env,
    )
    command = [str(SCLC_CDS), "serve", "--port", str(port), "--workers", str(workers)]
    with (
        (folder / "serve.log").open("wb") as log,
        _serving(
            command,
            port,
            workers,
            f"sclc-cds serve (see {folder}/serve.log)",
            env=environ,
            stderr=log,
        ) as served,
    ):
        yield served


@contextmanager
def running_floor(workers: int, threads: int) -> Iterator[tuple[str, int]]:
    """`benchmarks/floor_app.py` on gunicorn with the service's worker class, workers and
    threads, on a free loopback port: (base URL, gunicorn master pid)."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--workers",
        str(workers),
        "--worker-class",
        "gthread",
        "--threads",
        str(threads),
        "--bind",
        f"127.0.0.1:{port}",
        "--chdir",
        str(Path(__file__).resolve().parent),
        "floor_app:app",
    ]
    with _serving(command, port, workers, "the floor app", stderr=subprocess.DEVNULL) as served:
        yield served


@contextmanager
def _serving(
    command: list[str], port: int, workers: int, name: str, **popen: Any
) -> Iterator[tuple[str, int]]:
    """`command` (a gunicorn of `workers` workers) started in its own session, then stopped
    with its whole group: (base URL, master pid).

    Ready means every worker is up, not just the port: the master listens before its
    workers are forked, and a load generator connecting then would hand all its
    keep-alive connections to the first worker up, leaving a core idle for the run.
    """
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, start_new_session=True, **popen)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    pass
                if len(_children(process.pid)) >= workers:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{name} did not start") from None
            time.sleep(0.1)
        time.sleep(WORKER_BOOT_SECONDS)  # each worker's own start (the floor app imports Flask)
        yield f"http://127.0.0.1:{port}", process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def run_wrk(
    base: str,
    master: int,
    bodies: Path,
    *,
    seconds: int,
    connections: int,
    unique: bool = False,
) -> dict[str, Any]:
    """wrk for `seconds` at `connections`, with the peak RSS of the workers meanwhile."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    script = bodies / "load.lua"
    count = len((bodies / "index.txt").read_text().split())
    lua = _LUA.replace("@PATH@", PATH).replace("@PLACEHOLDER@", PLACEHOLDER)
    lua = lua.replace("@COUNT@", str(count))
    script.write_text(lua.replace("@UNIQUE@", "true" if unique else "false"))
    peak = 0.0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.wait(0.2):
            peak = max([peak, *(_rss_mib(pid) for pid in _children(master))])

    workers = _children(master)
    cpu_before = sum(_cpu_seconds(pid) for pid in workers)
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    threads = max(1, min(2, connections))
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        base + PATH,
        "--",
        str(bodies),
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    finally:
        stop.set()
        sampler.join()
    cpu = sum(_cpu_seconds(pid) for pid in workers) - cpu_before
    line = next((x for x in done.stdout.splitlines() if x.startswith("JSON ")), None)
    if line is None:
        raise SystemExit(f"wrk gave no figures: {done.stdout}\n{done.stderr}")
    figures: dict[str, Any] = json.loads(line.removeprefix("JSON "))
    figures["rps"] = figures["requests"] / figures["seconds"]
    figures["errors"] = sum(
        figures[k] for k in ("non2xx", "connect_errors", "read_errors", "write_errors", "timeouts")
    )
    figures["peak_worker_rss_mib"] = round(peak, 1)
    # The workers' own CPU per answered request: what the machine's load does not change.
    figures["worker_cpu_ms_per_request"] = round(cpu * 1000 / max(figures["requests"], 1), 2)
    figures["connections"] = connections
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=6)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--threads", type=int, help="SCLC_CDS_THREADS (default: the service's)")
    parser.add_argument("--size", type=int, default=100, help="resources per record")
    parser.add_argument("--repeat", action="store_true", help="one record, repeated")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--floor", action="store_true", help="the same load on benchmarks/floor_app.py instead"
    )
    args = parser.parse_args(argv)
    bodies = [repeated_body(args.size)] if args.repeat else distinct_bodies(args.size, 64)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        count = write_bodies(folder, bodies)
        threads = {} if args.threads is None else {"SCLC_CDS_THREADS": str(args.threads)}
        server = (
            running_floor(args.workers, args.threads or DEFAULTS["THREADS"])
            if args.floor
            else running_service(args.workers, folder, **threads)
        )
        with server as (base, master):
            figures = run_wrk(
                base,
                master,
                folder,
                seconds=args.seconds,
                connections=args.connections,
                unique=not args.repeat,
            )
    figures["records"] = count
    figures["workers"] = args.workers
    if args.json:
        print(json.dumps(figures))
    else:
        print(
            f"{count} record(s), {args.workers} workers, {args.connections} connections, "
            f"{figures['seconds']:.0f} s: {figures['rps']:.0f} req/s, p50 "
            f"{figures['p50_ms']:.1f} ms, p99 {figures['p99_ms']:.1f} ms, "
            f"{figures['errors']} errors, peak worker RSS {figures['peak_worker_rss_mib']} MiB"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
