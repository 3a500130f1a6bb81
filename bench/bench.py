#!/usr/bin/env python3
"""Speed at scale: sentinel-kms against its peers and against the service's own limits.

Starts the local workspace (tests/workspace/server.py) with a service time per query and the
per-user limits of the Logs query API (5 queries at once, 200 per 30 s, answered with 429).
For every size N checks x W workspaces it runs an untimed warm-up that has the local engine
execute each distinct query once (the server then answers repeats from memory, so that its own
CPU time, 20 to 250 ms per query, is not what gets measured), then runs, one after another and
each from a clean slate:

  sentinel-kms                  validate, default settings (cross-workspace queries)
  sentinel-kms, per workspace   validate --workspaces-per-query 1 (one request per check and
                                workspace)
  SDK sequential                azure-monitor-query, one query after another (sdk_sequential.py)
  SDK async x5                  azure-monitor-query's async client, 5 at a time (sdk_async.py)

and prints wall time, peak memory (max RSS), CPU time (user + system), the time from start to
the first query reaching the server, the queries each made, and the ratio of each wall time to
the floor: the larger of ceil(queries / 5) x latency and what 200 queries per 30 s allow for
those queries. Then `lint` and `build` over a generated catalog of 1,000 checks.

Run it with bench/run.sh, which builds the release binary and installs the peers.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import os
import platform
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVER = ROOT / "tests" / "workspace" / "server.py"
BINARY = ROOT / "target" / "release" / "sentinel-kms"
TOKEN = "local-workspace-token"
CONCURRENCY = 5
RATE = (200, 30.0)


@dataclass
class Measure:
    name: str
    wall: float
    cpu: float
    peak_mb: float
    first_ms: float | None
    queries: int
    throttled: int
    code: int


def workspace_ids(count: int) -> list[str]:
    return [f"00000000-0000-0000-0000-{n:012d}" for n in range(1, count + 1)]


def floor_seconds(queries: int, latency: float) -> float:
    """The least time `queries` queries of `latency` each can take when at most 5 run at once
    and at most 200 start in any 30 s: each starts as early as both limits allow. This is at
    least the larger of ceil(queries / 5) x latency and (queries - 1) div 200 x 30 s + latency,
    and more than both where both limits bind (each window's 200 queries still take 8 s)."""
    limit, window = RATE
    starts: list[float] = []
    for k in range(queries):
        start = 0.0
        if k >= CONCURRENCY:
            start = max(start, starts[k - CONCURRENCY] + latency)
        if k >= limit:
            start = max(start, starts[k - limit] + window)
        starts.append(start)
    return starts[-1] + latency if starts else 0.0


def server_overhead(server: "Server", catalog: Path, workspace: str, latency: float) -> float:
    """Median time a bare keep-alive HTTP client waits beyond `latency` for a warm answer: the
    local workspace's own share of every contender's time."""
    query = sorted(catalog.glob("*.kql"))[0].read_text()
    body = json.dumps({"query": query}).encode()
    host = server.url.split("//", 1)[1]
    connection = http.client.HTTPConnection(host)
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    times = []
    for _ in range(15):
        started = time.monotonic()
        connection.request("POST", f"/v1/workspaces/{workspace}/query", body, headers)
        connection.getresponse().read()
        times.append(time.monotonic() - started - latency)
    connection.close()
    return statistics.median(times[3:])


def write_catalog(directory: Path, count: int) -> None:
    """`count` checks: the shipped ones, then copies of them under new ids, in file order."""
    shipped = sorted((ROOT / "queries").rglob("*.kql"))
    directory.mkdir(parents=True)
    for n in range(count):
        source = shipped[n % len(shipped)]
        text = source.read_text()
        if n >= len(shipped):
            old_id = next(line for line in text.splitlines() if line.startswith("// id: "))
            text = text.replace(old_id, f"{old_id}-{n:04d}", 1)
        (directory / f"{n:04d}-{source.stem}.kql").write_text(text)


class Server:
    def __init__(self, workspaces: list[str], latency: float):
        args = [sys.executable, str(SERVER), "--scenario", "healthy", "--port", "0",
                "--latency", str(latency), "--max-concurrent", str(CONCURRENCY),
                "--rate-limit", f"{RATE[0]}/{RATE[1]:g}", "--reuse-answers"]
        for workspace in workspaces:
            args += ["--workspace", workspace]
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                        text=True)
        line = self.process.stdout.readline()
        if not line.startswith("READY "):
            raise SystemExit(f"the local workspace did not start: {line!r}")
        self.url = line.split()[1]

    def reset(self) -> None:
        urllib.request.urlopen(urllib.request.Request(f"{self.url}/_reset", data=b"")).read()

    def enforce(self, on: bool) -> None:
        url = f"{self.url}/_limits?enforce={int(on)}"
        urllib.request.urlopen(urllib.request.Request(url, data=b"")).read()

    def stats(self) -> dict:
        return json.load(urllib.request.urlopen(f"{self.url}/_stats"))

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait()


def measure(name: str, command: list[str], server: Server, env: dict | None = None) -> Measure:
    """Runs `command` against a freshly reset server and measures it."""
    server.reset()
    # Let the previous contender's connections and threads wind down.
    time.sleep(0.5)
    with tempfile.TemporaryFile() as errors:
        started_wall = time.time()
        started = time.monotonic()
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=errors,
                                 env={**os.environ, **(env or {})})
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.monotonic() - started
        code = os.waitstatus_to_exitcode(status)
        child.returncode = code
        if code not in (0,):
            errors.seek(0)
            tail = errors.read().decode(errors="replace")[-2000:]
            print(f"  {name} exited {code}:\n{tail}", file=sys.stderr)
    stats = server.stats()
    first = stats.get("first_query_at")
    return Measure(
        name=name,
        wall=wall,
        cpu=usage.ru_utime + usage.ru_stime,
        peak_mb=usage.ru_maxrss / 1024,
        first_ms=(first - started_wall) * 1000 if first else None,
        queries=stats["statuses"].get("200", 0),
        throttled=stats["statuses"].get("429", 0),
        code=code,
    )


def run_size(server: Server, checks: int, count: int, latency: float, peers: bool,
             scratch: Path, workspaces: list[str]) -> list[Measure]:
    catalog = scratch / f"catalog-{checks}"
    if not catalog.exists():
        write_catalog(catalog, checks)
    chosen = workspaces[:count]
    tool = [str(BINARY), "validate", "--queries", str(catalog), "--endpoint", server.url,
            "--auth", "access-token", "--format", "json", "-q"]
    for workspace in chosen:
        tool += ["--workspace", workspace]
    env = {"SENTINEL_KMS_ACCESS_TOKEN": TOKEN}
    # Warm-up, untimed and without the limits: every query of this size is executed once, so
    # that the timed runs measure the clients rather than the local engine (--reuse-answers).
    server.enforce(False)
    for extra in (["--workspaces-per-query", "1"], []):
        subprocess.run(tool + extra + ["--rate-limit", "100000/1"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, env={**os.environ, **env}, check=False)
    overhead = server_overhead(server, catalog, chosen[0], latency)
    server.enforce(True)
    print(f"\n{checks} checks x {count} workspaces ({checks * count} check-workspace pairs); "
          f"the local workspace adds {overhead * 1000:.0f} ms to each answer (median, bare client)")
    results = [measure("sentinel-kms", tool, server, env)]
    if count > 1:
        results.append(measure("sentinel-kms, per workspace",
                               tool + ["--workspaces-per-query", "1"], server, env))
    if peers:
        endpoint = f"{server.url}/v1"
        for name, script in [("SDK sequential", "sdk_sequential.py"),
                             ("SDK async x5", "sdk_async.py")]:
            command = [sys.executable, str(ROOT / "bench" / script), endpoint, str(catalog),
                       *chosen]
            results.append(measure(name, command, server))
    return results


def print_size(checks: int, count: int, latency: float, results: list[Measure]) -> None:
    pairs = checks * count
    header = (f"  {'':30} {'wall s':>8} {'floor s':>8} {'x floor':>8} {'queries':>8} "
              f"{'429s':>5} {'peak MB':>8} {'CPU s':>7} {'1st query ms':>13}")
    print(header)
    for m in results:
        floor = floor_seconds(m.queries, latency)
        ratio = m.wall / floor if floor else float("nan")
        first = f"{m.first_ms:.0f}" if m.first_ms is not None else "-"
        failed = "" if m.code == 0 else f"  (exit {m.code})"
        print(f"  {m.name:30} {m.wall:8.2f} {floor:8.2f} {ratio:8.2f} {m.queries:8d} "
              f"{m.throttled:5d} {m.peak_mb:8.1f} {m.cpu:7.2f} {first:>13}{failed}")
    print(f"  {'floor, one query per pair':30} {floor_seconds(pairs, latency):8.2f}")
    tool = results[0]
    for peer in results[1:]:
        if peer.name.startswith("SDK"):
            print(f"  sentinel-kms is {peer.wall / tool.wall:.1f}x faster than {peer.name}"
                  + next((f" (per workspace: {peer.wall / m.wall:.1f}x)" for m in results
                          if m.name == "sentinel-kms, per workspace"), ""))


def time_command(command: list[str]) -> tuple[float, int, str]:
    started = time.monotonic()
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return time.monotonic() - started, done.returncode, done.stderr


def catalog_commands(scratch: Path, size: int) -> None:
    catalog = scratch / f"catalog-{size}"
    if not catalog.exists():
        write_catalog(catalog, size)
    print(f"\nA catalog of {size} checks")
    elapsed, code, errors = time_command([str(BINARY), "lint", str(catalog)])
    skipped = " (KQL analysis skipped: no Node.js analyser)" if "skipped" in errors else ""
    print(f"  lint   {elapsed:7.2f} s  exit {code}{skipped}")
    has_build = subprocess.run([str(BINARY), "build", "--help"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL).returncode == 0
    if not has_build:
        print("  build  skipped: this sentinel-kms has no `build` subcommand")
        return
    out = scratch / "dist"
    elapsed, code, errors = time_command([str(BINARY), "build", "--queries", str(catalog),
                                          "--out", str(out)])
    note = "" if code == 0 else f": {errors.strip().splitlines()[-1] if errors.strip() else ''}"
    print(f"  build  {elapsed:7.2f} s  exit {code}{note}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10x1,10x20,10x100",
                        help="comma-separated CHECKSxWORKSPACES (default: %(default)s)")
    parser.add_argument("--latency", type=float, default=0.2,
                        help="service time per query in seconds (default: %(default)s)")
    parser.add_argument("--no-peers", action="store_true", help="leave out the SDK peers")
    parser.add_argument("--catalog", type=int, default=1000,
                        help="checks in the catalog for lint and build; 0 skips (default: %(default)s)")
    args = parser.parse_args()
    sizes = [tuple(int(n) for n in size.lower().split("x")) for size in args.sizes.split(",")]
    if not BINARY.exists():
        raise SystemExit(f"{BINARY} is missing: run bench/run.sh, which builds it")

    print(f"sentinel-kms benchmark, {time.strftime('%Y-%m-%d %H:%M %Z')}, "
          f"{os.cpu_count()} cores, {platform.machine()}, load {os.getloadavg()[0]:.2f}")
    print(f"local workspace: {args.latency * 1000:.0f} ms per query, at most {CONCURRENCY} at once "
          f"and {RATE[0]} per {RATE[1]:g} s (429 beyond)")
    workspaces = workspace_ids(max(count for _, count in sizes))
    server = Server(workspaces, args.latency)
    try:
        with tempfile.TemporaryDirectory(prefix="sentinel-kms-bench-") as scratch:
            scratch = Path(scratch)
            for checks, count in sizes:
                results = run_size(server, checks, count, args.latency, not args.no_peers,
                                   scratch, workspaces)
                print_size(checks, count, args.latency, results)
                sys.stdout.flush()
            if args.catalog:
                catalog_commands(scratch, args.catalog)
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
