"""Cluster check: queued runs over worker processes on Redis, viewers across two web nodes.

Starts a throwaway `redis-server` (AOF on) on a free loopback port, `--web-nodes` web
processes (`strategylab serve` with STRATEGYLAB_REDIS_URL) and `--workers` `strategylab worker`
processes sharing one data folder (the bundled BTCUSDT-1h sample) and one database (SQLite by
default, or --database-url). Then, from this process: queues `--runs` runs spread over the web
nodes, attaches `--viewers` websocket viewers spread over the nodes and the runs (a viewer on
one node watches runs queued on the other), and reads the API at a steady rate while the
workers are busy. Prints:
- that every run completed exactly once (status done, and exactly one "run done" line for it
  in all the workers' logs), with how many runs were started more than once (a worker found
  lost; its replaced attempt stores nothing and logs "stale attempt dropped"),
- API p50/p95/p99 latency (target: p95 under 200 ms) of the steady reads, measured by a
  separate probe process (`--probe`): this process decodes every viewer's messages, and its
  own event loop's lag must not count as the server's latency; the burst of run submissions
  is printed on its own line,
- runs/min on the cluster next to the same runs on the local pool (`strategylab serve
  --workers N`, no Redis) on this machine.

Run: .venv/bin/python benchmarks/bench_cluster.py [--runs 200] [--viewers 100] [--workers 4]
     [--web-nodes 2] [--rate 20] [--skip-local] [--skip-cluster]
     [--database-url postgresql+psycopg://...]
     [--max-s SECONDS] [--profile-dir DIR]
Small: .venv/bin/python benchmarks/bench_cluster.py --runs 20 --viewers 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "samples" / "BTCUSDT-1h.parquet"
CODE = (ROOT / "strategies_examples" / "sma_crossover.py").read_text("utf-8")
STRATEGYLAB = str(ROOT / ".venv" / "bin" / "strategylab")
PYTHON = str(ROOT / ".venv" / "bin" / "python")
SAMPLER = str(ROOT / "benchmarks" / "loop_sampler.py")
READ_PATHS = ("/api/health", "/api/runs?limit=20", "/api/datasets", "/api/examples")
FINISHED = ("done", "failed", "cancelled")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Installation:
    """The processes of one benchmark installation and their shared folder."""

    root: Path
    database_url: str
    redis_url: str | None = None
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def environment(self) -> dict[str, str]:
        env = {
            **os.environ,
            "STRATEGYLAB_DATA_DIR": str(self.root / "data"),
            "STRATEGYLAB_RUNS_DIR": str(self.root / "runs"),
            "DATABASE_URL": self.database_url,
            # every run comes from this one client and user: lift the per-client and per-user
            # limits on active runs (quotas are not what this measures)
            "STRATEGYLAB_MAX_ACTIVE_RUNS_PER_CLIENT": "100000",
            "STRATEGYLAB_QUOTA_CONCURRENT_RUNS": "100000",
        }
        if self.redis_url:
            env["STRATEGYLAB_REDIS_URL"] = self.redis_url
        return env

    def start(self, name: str, command: list[str]) -> subprocess.Popen[bytes]:
        with (self.root / f"{name}.log").open("wb") as log:
            process = subprocess.Popen(
                command, env=self.environment(), stdout=log, stderr=subprocess.STDOUT
            )
        self.processes.append(process)
        return process

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                is_web = "serve" in process.args  # type: ignore[operator]
                process.send_signal(signal.SIGINT if is_web else signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()

    def worker_log_text(self) -> str:
        return "".join(path.read_text(errors="replace") for path in self.root.glob("worker-*.log"))


def serve_command(args: argparse.Namespace, name: str, *options: str) -> list[str]:
    """`strategylab serve ...`, under the event-loop sampler when --profile-dir is given."""
    if args.profile_dir is None:
        return [STRATEGYLAB, "serve", *options]
    Path(args.profile_dir).mkdir(parents=True, exist_ok=True)
    report = str(Path(args.profile_dir) / f"{name}.txt")
    return [PYTHON, SAMPLER, report, "serve", *options]


def make_root() -> Path:
    root = Path(tempfile.mkdtemp(prefix="strategylab-bench-cluster-"))
    (root / "data" / "samples").mkdir(parents=True)
    shutil.copy(SAMPLE, root / "data" / "samples" / SAMPLE.name)
    return root


def start_redis(installation: Installation) -> str:
    port = free_port()
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("redis-server is not installed: run scripts/install-redis")
    installation.start(
        "redis",
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--dir", str(installation.root),
         "--appendonly", "yes", "--appendfsync", "everysec", "--save", ""],
    )  # fmt: skip
    return f"redis://127.0.0.1:{port}/0"


async def wait_ready(client: httpx.AsyncClient) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if (await client.get("/api/health")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.2)
    raise TimeoutError("a web node did not start")


class Latencies:
    """API latencies in ms, as measured by this client."""

    def __init__(self) -> None:
        self.values: list[float] = []
        self.errors = 0

    async def read(self, client: httpx.AsyncClient, path: str) -> None:
        """One timed GET; a failed one is counted, not raised."""
        try:
            await self.timed(client, "GET", path)
        except httpx.HTTPError:
            self.errors += 1

    async def timed(
        self, client: httpx.AsyncClient, method: str, path: str, **kw: Any
    ) -> httpx.Response:
        started = time.perf_counter()
        response = await client.request(method, path, **kw)
        self.values.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
        return response


async def view(url: str, delay_s: float) -> str | None:
    """One viewer: joins after `delay_s`; the type of the run's final message."""
    await asyncio.sleep(delay_s)
    async with connect(url, max_size=None, open_timeout=60) as websocket:
        async for raw in websocket:
            message = json.loads(raw)
            if message["type"] in ("done", "error"):
                return str(message["type"])
    return None


async def read_steadily(
    clients: list[httpx.AsyncClient], latencies: Latencies, stop: asyncio.Event, rate: float
) -> None:
    """Open-loop reads at `rate` requests/s over every web node until `stop`."""
    in_flight: set[asyncio.Task[None]] = set()
    step, next_at = 0, time.monotonic()
    while not stop.is_set():
        client = clients[step % len(clients)]
        task = asyncio.create_task(latencies.read(client, READ_PATHS[step % len(READ_PATHS)]))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
        step += 1
        next_at += 1.0 / rate
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
    await asyncio.gather(*in_flight)


def probe_main(bases: list[str], rate: float) -> None:
    """`--probe`: read the API at `rate` until SIGTERM, then print the latencies (JSON)."""

    async def probe() -> Latencies:
        latencies = Latencies()
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        limits = httpx.Limits(max_connections=50)
        clients = [httpx.AsyncClient(base_url=b, timeout=120, limits=limits) for b in bases]
        try:
            await read_steadily(clients, latencies, stop, rate)
        finally:
            for client in clients:
                await client.aclose()
        return latencies

    latencies = asyncio.run(probe())
    print(json.dumps({"values": latencies.values, "errors": latencies.errors}))


class Probe:
    """The reader process (probe_main) started while the runs go."""

    def __init__(self, bases: list[str], rate: float) -> None:
        command = [sys.executable, __file__, "--probe", ",".join(bases), "--rate", str(rate)]
        self._process = subprocess.Popen(command, stdout=subprocess.PIPE)

    def kill(self) -> None:
        """End the probe without its figures (the benchmark failed first)."""
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()

    def stop(self) -> Latencies:
        self._process.send_signal(signal.SIGTERM)
        out, _ = self._process.communicate(timeout=300)
        found = json.loads(out)
        latencies = Latencies()
        latencies.values, latencies.errors = list(found["values"]), int(found["errors"])
        return latencies


async def queue_and_watch(
    bases: list[str], runs: int, viewers: int, rate: float, max_s: float | None = None
) -> tuple[list[dict[str, Any]], list[str | None], Latencies, Latencies, float]:
    """Queue the runs over the nodes, watch them, read the API (a probe process); the runs'
    final states, the viewers' final messages, the read and the submission latencies and the
    seconds from first queue to last end."""
    latencies = Latencies()
    limits = httpx.Limits(max_connections=50)
    clients = [httpx.AsyncClient(base_url=base, timeout=120, limits=limits) for base in bases]
    probe: Probe | None = None
    try:
        for client in clients:
            await wait_ready(client)
        body = {"code": CODE, "dataset": SAMPLE.stem}
        started = time.monotonic()
        created = await asyncio.gather(
            *(
                latencies.timed(clients[i % len(clients)], "POST", "/api/runs", json=body)
                for i in range(runs)
            )
        )
        run_ids = [response.json()["id"] for response in created]
        watchers = [
            asyncio.create_task(
                view(
                    f"{bases[(i + 1) % len(bases)].replace('http', 'ws', 1)}/ws/runs/"
                    f"{run_ids[i % runs]}",
                    (i % 10) * 0.2,
                )
            )
            for i in range(viewers)
        ]
        probe = Probe(bases, rate)
        deadline = None if max_s is None else started + max_s
        late: set[asyncio.Task[str | None]] = set()
        if watchers:  # the local pool's pass has no viewers
            _, late = await asyncio.wait(watchers, timeout=max_s)
        for watcher in late:  # --max-s passed: this viewer's run had not ended
            watcher.cancel()
        finals = [None if w in late or w.cancelled() else w.result() for w in watchers]
        while True:
            states = [(await clients[0].get(f"/api/runs/{run_id}")).json() for run_id in run_ids]
            if all(state["status"] in FINISHED for state in states):
                break
            if deadline is not None and time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        total_s = time.monotonic() - started
        return states, finals, probe.stop(), latencies, total_s
    finally:
        if probe is not None:
            probe.kill()  # stopped already, or left behind by a failure
        for client in clients:
            await client.aclose()


def run_cluster(args: argparse.Namespace) -> float:
    root = make_root()
    installation = Installation(
        root, args.database_url or f"sqlite:///{root / 'data' / 'strategylab.db'}"
    )
    try:
        installation.redis_url = start_redis(installation)
        bases = []
        for number in range(args.web_nodes):  # one after the other: the first migrates
            port = free_port()
            name = f"web-{number}"
            installation.start(name, serve_command(args, name, "--port", str(port)))
            bases.append(f"http://127.0.0.1:{port}")
            asyncio.run(wait_for(bases[-1]))
        for number in range(args.workers):
            installation.start(f"worker-{number}", [STRATEGYLAB, "worker"])
        print(f"cluster: {args.web_nodes} web nodes, {args.workers} workers, Redis, {root}")
        states, finals, latencies, submits, total_s = asyncio.run(
            queue_and_watch(bases, args.runs, args.viewers, args.rate, args.max_s)
        )
        logs = installation.worker_log_text()
    finally:
        installation.stop()
    starts = [logs.count(f"run started run_id={state['id']}") for state in states]
    ends = [logs.count(f"run done run_id={state['id']}") for state in states]
    done = sum(1 for state in states if state["status"] == "done")
    once = sum(1 for count in ends if count == 1)
    retried = sum(1 for count in starts if count > 1)
    print(f"runs: {done}/{args.runs} done, {once}/{args.runs} completed exactly once, "
          f"{retried} started again after a lost worker, {logs.count('stale attempt dropped')} "
          f"stale attempts dropped, in {total_s:.1f} s")  # fmt: skip
    got_done = sum(1 for final in finals if final == "done")
    print(f"viewers: {got_done}/{args.viewers} saw 'done' (each on the other node than most "
          "of its run's queueing)")  # fmt: skip
    print_latencies("cluster run submissions (one burst)", submits)
    q = print_latencies("cluster", latencies)
    verdict = "OK" if done == once == args.runs and got_done == args.viewers else "MISSED"
    print(f"every run done exactly once and every viewer done: {verdict}; "
          f"p95 < 200 ms: {'OK' if q[94] < 200 else 'MISSED'}")  # fmt: skip
    keep_logs(args, root)
    shutil.rmtree(root, ignore_errors=True)
    return done / total_s * 60  # runs done per minute (all of them, unless --max-s cut it)


def keep_logs(args: argparse.Namespace, root: Path) -> None:
    """With --profile-dir, the processes' logs are copied there before the folder goes."""
    if args.profile_dir is not None:
        for log in root.glob("*.log"):
            shutil.copy(log, Path(args.profile_dir) / log.name)


def print_latencies(name: str, latencies: Latencies) -> list[float]:
    """Print the API latency quantiles (ms); returns the percentiles."""
    values = sorted(latencies.values)
    q = statistics.quantiles(values, n=100)
    print(f"{name} API requests: {len(values)} ({latencies.errors} failed); latency ms "
          f"p50 {q[49]:.1f}  p95 {q[94]:.1f}  p99 {q[98]:.1f}  max {values[-1]:.1f}")  # fmt: skip
    return q


async def wait_for(base: str) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        await wait_ready(client)


def run_local(args: argparse.Namespace) -> float:
    """The same runs on one `strategylab serve --workers N` with its local pool."""
    root = make_root()
    installation = Installation(root, f"sqlite:///{root / 'data' / 'strategylab.db'}")
    port = free_port()
    try:
        options = ("--port", str(port), "--workers", str(args.workers))
        installation.start("web-local", serve_command(args, "web-local", *options))
        states, _, latencies, submits, total_s = asyncio.run(
            queue_and_watch([f"http://127.0.0.1:{port}"], args.runs, 0, args.rate, args.max_s)
        )
        print_latencies("local pool run submissions (one burst)", submits)
        print_latencies("local pool", latencies)
    finally:
        installation.stop()
        keep_logs(args, root)
        shutil.rmtree(root, ignore_errors=True)
    done = sum(1 for state in states if state["status"] == "done")
    print(f"local pool runs: {done}/{args.runs} done in {total_s:.1f} s")
    return done / total_s * 60


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--viewers", type=int, default=100)
    parser.add_argument(
        "--workers", type=int, default=4, help="Worker processes (and local pool size)."
    )
    parser.add_argument("--web-nodes", type=int, default=2)
    parser.add_argument("--rate", type=float, default=20.0, help="API reads per second.")
    parser.add_argument("--skip-local", action="store_true", help="No local-pool comparison.")
    parser.add_argument("--skip-cluster", action="store_true", help="The local pool only.")
    parser.add_argument("--database-url", help="DATABASE_URL (default: SQLite in the temp folder).")
    parser.add_argument(
        "--profile-dir",
        help="Sample each web node's event-loop thread; write <node>.txt reports here.",
    )
    parser.add_argument(
        "--max-s",
        type=float,
        help="Stop waiting after this many seconds per installation and report the runs "
        "finished by then (a loaded machine may not finish them all).",
    )
    parser.add_argument("--probe", help=argparse.SUPPRESS)  # the reader process: base URLs
    args = parser.parse_args()
    if args.probe:
        probe_main(args.probe.split(","), args.rate)
        return
    line = "runs/min:"
    if not args.skip_cluster:
        line += f" cluster {run_cluster(args):.1f}"
    if not args.skip_local:
        line += f"   local pool ({args.workers} workers, one node) {run_local(args):.1f}"
    print(line)


if __name__ == "__main__":
    main()
