"""Latency of one-row requests to ``fireworks-sk serve`` against in-process calls.

Run: ``python benchmarks/serve.py [--requests 500]``. Uses one torch thread.
Prints a Markdown table; the target (request p50 at most 3x the in-process
p50) comes from the production issue.

Measured, on Pipeline(BatchNormalizer, OneHot, Stack, TorchClassifier) fitted
on the bundled penguins:
- p50 of ``predict_proba`` on a one-row DataFrame, in process;
- p50 of ``POST /predict`` with one row (JSON, predictions and probabilities)
  from a keep-alive client to a server process on 127.0.0.1.
The two take turns, call by call, so that both see the same machine load.
CPU time per call (this process; the server process's from /proc on Linux)
shows the work done apart from waiting for a CPU on a busy machine.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import torch
from sklearn.pipeline import make_pipeline

import fireworks_sk as fsk
from fireworks_sk.datasets import load_penguins

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
TARGET = 3.0


def fit_model(folder: Path) -> Path:
    frame = load_penguins().dropna().reset_index(drop=True)
    X, y = frame.drop(columns="species"), frame["species"].to_numpy()
    model = make_pipeline(
        fsk.BatchNormalizer(),
        fsk.OneHot(columns=["island", "sex"]),
        fsk.Stack(),
        fsk.TorchClassifier(max_epochs=5, random_state=0, verbose=0),
    ).fit(X, y)
    return fsk.save(model, folder / "model.fwsk")


def p50s_ms(calls: list, n: int) -> list[float]:
    """p50 of each call, the calls taking turns so that they share the load."""
    for call in calls:
        for _ in range(min(20, n)):
            call()
    times: list[list[float]] = [[] for _ in calls]
    for _ in range(n):
        for call, spent in zip(calls, times):
            start = time.perf_counter()
            call()
            spent.append(time.perf_counter() - start)
    return [statistics.median(spent) * 1000 for spent in times]


def server_cpu_s(pid: int) -> float | None:
    """CPU seconds a process has used (Linux /proc), None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_ms(call, n: int, pid: int | None = None) -> float | None:
    """CPU ms per call: of this process, or of the server process ``pid``."""
    clock = time.process_time if pid is None else lambda: server_cpu_s(pid)
    start = clock()
    if start is None:
        return None
    for _ in range(n):
        call()
    return (clock() - start) / n * 1000


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def start_server(model: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "fireworks_sk", "serve", str(model)]
    command += ["--host", HOST, "--port", str(port), "--log-level", "warning"]
    process = subprocess.Popen(command, env=env)
    url = f"http://{HOST}:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        try:
            httpx.get(f"{url}/health", timeout=1)
            return process, url
        except httpx.TransportError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("the server did not start within 120 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as folder:
        path = fit_model(Path(folder))
        model = fsk.load(path)
        row = load_penguins().dropna().drop(columns="species")[:1]
        body = json.dumps({"rows": json.loads(row.to_json(orient="records"))})
        process, url = start_server(path)
        try:
            with httpx.Client(timeout=30) as client:

                def request() -> None:
                    answer = client.post(
                        f"{url}/predict",
                        content=body,
                        headers={"content-type": "application/json"},
                    )
                    answer.raise_for_status()

                def in_process_call() -> None:
                    model.predict_proba(row)

                in_process, served = p50s_ms([in_process_call, request], args.requests)
                in_process_cpu = cpu_ms(in_process_call, args.requests)
                served_cpu = cpu_ms(request, args.requests, process.pid)
        finally:
            process.terminate()
            process.wait(timeout=30)
    ratio = served / in_process
    print(f"{args.requests} one-row calls each; target: request <= {TARGET}x\n")
    print("| one-row predict | p50 (ms) | CPU per call (ms) |")
    print("|---|---|---|")
    print(f"| in process, predict_proba | {in_process:.2f} | {_ms(in_process_cpu)} |")
    print(
        f"| POST /predict over loopback | {served:.2f} | {_ms(served_cpu)} (server) |"
    )
    verdict = "met" if ratio <= TARGET else "missed"
    print(f"| ratio | {ratio:.2f}x ({verdict}) | |")


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


if __name__ == "__main__":
    main()
