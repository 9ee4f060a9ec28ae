"""API load check: 20 concurrent runs queued from the API, 50 websocket viewers, API latency.

Starts `strategylab serve` as its own process on a free port with a fresh data folder (the
bundled BTCUSDT-1h sample, 8,760 bars) and SQLite database, then from this process:
queues the runs at once, attaches the viewers (spread over the runs, some joining late), and
keeps reading the API at a steady rate (open loop, default 50 requests/s) while the workers
are busy. Prints API p50/p95/p99 latency
(target: p95 under 200 ms), how long the runs took, and what the viewers received.

Run: .venv/bin/python benchmarks/bench_api_load.py [--runs 20] [--viewers 50] [--workers N]
     [--rate 50] [--database-url postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "samples" / "BTCUSDT-1h.parquet"
CODE = (ROOT / "strategies_examples" / "sma_crossover.py").read_text("utf-8")
READ_PATHS = ("/api/health", "/api/runs", "/api/datasets", "/api/examples", "/api/strategies")
logger = logging.getLogger("bench_api_load")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(
    data_dir: Path, port: int, workers: int, database_url: str | None
) -> subprocess.Popen[bytes]:
    env = {**os.environ, "STRATEGYLAB_DATA_DIR": str(data_dir)}
    # every run is queued from this one client, so the per-client limit on active runs is lifted
    env["STRATEGYLAB_MAX_ACTIVE_RUNS_PER_CLIENT"] = "100000"
    if database_url:
        env["DATABASE_URL"] = database_url
    command = [str(ROOT / ".venv" / "bin" / "strategylab"), "serve", "--port", str(port),
               "--workers", str(workers)]  # fmt: skip
    log = (data_dir / "server.log").open("wb")
    return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)


async def wait_ready(client: httpx.AsyncClient) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if (await client.get("/api/health")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.2)
    raise TimeoutError("the server did not start")


async def timed(client: httpx.AsyncClient, method: str, path: str, **kw: Any) -> httpx.Response:
    started = time.perf_counter()
    response = await client.request(method, path, **kw)
    elapsed_ms = (time.perf_counter() - started) * 1000
    LATENCIES_MS.append(elapsed_ms)
    key = f"{method} {path if '/api/runs/' not in path else '/api/runs/{id}'}"
    BY_PATH_MS.setdefault(key, []).append(elapsed_ms)
    response.raise_for_status()
    return response


LATENCIES_MS: list[float] = []
BY_PATH_MS: dict[str, list[float]] = {}


async def view(url: str, delay_s: float) -> dict[str, Any]:
    """One viewer: joins after `delay_s`, counts messages until the run's final one."""
    await asyncio.sleep(delay_s)
    counts: dict[str, int] = {}
    stamps: list[float] = []
    async with connect(url, max_size=None) as websocket:
        async for raw in websocket:
            message = json.loads(raw)
            counts[message["type"]] = counts.get(message["type"], 0) + 1
            if message["type"] == "progress":
                stamps.append(time.monotonic())
            if message["type"] in ("done", "error"):
                return {"counts": counts, "final": message["type"], "peak_rate": peak_rate(stamps)}
    return {"counts": counts, "final": None, "peak_rate": peak_rate(stamps)}


def peak_rate(stamps: list[float]) -> int:
    """The most progress messages seen in any one-second window."""
    best, start = 0, 0
    for end, stamp in enumerate(stamps):
        while stamp - stamps[start] > 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


async def poll_reads(
    client: httpx.AsyncClient, run_ids: list[str], stop: asyncio.Event, rate: float
) -> int:
    """Open-loop reads at `rate` requests/s until `stop` (as browsers polling would): each
    request starts on schedule whether or not earlier ones have answered."""
    in_flight: set[asyncio.Task[httpx.Response]] = set()
    step = 0
    next_at = time.monotonic()
    while not stop.is_set():
        if step % 3 == 0:
            request = timed(client, "GET", f"/api/runs/{run_ids[step % len(run_ids)]}")
        elif step % 7 == 0:
            request = timed(client, "POST", "/api/validate", json={"code": CODE})
        else:
            request = timed(client, "GET", READ_PATHS[step % len(READ_PATHS)])
        task = asyncio.create_task(request)
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
        step += 1
        next_at += 1.0 / rate
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
    await asyncio.gather(*in_flight)
    return step


async def scenario(base: str, runs: int, viewers: int, rate: float) -> None:
    limits = httpx.Limits(max_connections=50)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        await wait_ready(client)
        await client.get("/api/datasets")  # warm the catalog
        started = time.monotonic()
        body = {"code": CODE, "dataset": "BTCUSDT-1h"}
        created = await asyncio.gather(
            *(timed(client, "POST", "/api/runs", json=body) for _ in range(runs))
        )
        run_ids = [response.json()["id"] for response in created]
        queued_s = time.monotonic() - started
        ws_base = base.replace("http://", "ws://")
        watchers = [
            asyncio.create_task(view(f"{ws_base}/ws/runs/{run_ids[i % runs]}", (i % 10) * 0.3))
            for i in range(viewers)
        ]
        stop = asyncio.Event()
        reader = asyncio.create_task(poll_reads(client, run_ids, stop, rate))
        results = await asyncio.gather(*watchers)
        while True:
            states = [(await client.get(f"/api/runs/{run_id}")).json() for run_id in run_ids]
            if all(state["status"] in ("done", "failed", "cancelled") for state in states):
                break
            await asyncio.sleep(0.2)
        total_s = time.monotonic() - started
        stop.set()
        reads = await reader
    report(runs, viewers, states, results, queued_s, total_s, reads)


def report(
    runs: int, viewers: int, states: list[dict[str, Any]], results: list[dict[str, Any]],
    queued_s: float, total_s: float, reads: int,
) -> None:  # fmt: skip
    done = sum(1 for state in states if state["status"] == "done")
    finals = sum(1 for result in results if result["final"] == "done")
    latencies = sorted(LATENCIES_MS)
    quantiles = statistics.quantiles(latencies, n=100)
    progress = [result["counts"].get("progress", 0) for result in results]
    print(f"runs: {done}/{runs} done in {total_s:.1f} s (all {runs} queued in {queued_s:.2f} s)")
    print(f"viewers: {finals}/{viewers} got 'done'; progress messages per viewer "
          f"min {min(progress)} max {max(progress)}; peak rate per viewer "
          f"{max(result['peak_rate'] for result in results)} msg/s")  # fmt: skip
    print(f"API requests while busy: {len(latencies)} ({reads} reads); latency ms "
          f"p50 {quantiles[49]:.1f}  p95 {quantiles[94]:.1f}  p99 {quantiles[98]:.1f}  "
          f"max {latencies[-1]:.1f}")  # fmt: skip
    for key, values in sorted(BY_PATH_MS.items()):
        values.sort()
        p95 = values[int(0.95 * (len(values) - 1))]
        print(f"  {key:<24} n={len(values):<5} p50 {values[len(values) // 2]:7.1f}  p95 {p95:7.1f}")
    verdict = "OK" if quantiles[94] < 200 and done == runs and finals == viewers else "MISSED"
    print(f"target (every run done, every viewer done, p95 < 200 ms): {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--viewers", type=int, default=50)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--rate", type=float, default=50.0, help="API reads per second.")
    parser.add_argument("--url", help="Use this running server instead of starting one.")
    parser.add_argument("--database-url", help="DATABASE_URL for the server (default SQLite).")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.url:
        asyncio.run(scenario(args.url.rstrip("/"), args.runs, args.viewers, args.rate))
        return
    data_dir = Path(tempfile.mkdtemp(prefix="strategylab-bench-"))
    (data_dir / "samples").mkdir()
    shutil.copy(SAMPLE, data_dir / "samples" / SAMPLE.name)
    port = free_port()
    server = start_server(data_dir, port, args.workers, args.database_url)
    print(f"server pid {server.pid} on port {port}, {args.workers} workers, data {data_dir}")
    try:
        asyncio.run(scenario(f"http://127.0.0.1:{port}", args.runs, args.viewers, args.rate))
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(data_dir, ignore_errors=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
