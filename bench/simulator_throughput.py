"""Throughput of the Mimecast simulator: get-message-info over keep-alive connections.

Starts the simulator (latency and faults off), fetches one OAuth token, then
fires ``--requests`` get-message-info calls from ``--clients`` threads, each
with its own keep-alive ``httpx.Client``, and prints requests per second.

By default the simulator runs in this process (clients and server share one
interpreter); ``--server-process`` runs it as ``tagger simulate`` in a child
process instead, which is how a user would run it.

    .venv/bin/python -m bench.simulator_throughput --requests 3000 --clients 4
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from tagger.simulator import Simulator, SimulatorConfig
from tagger.simulator.config import DEFAULT_RATE_LIMITS, INFO
from tagger.simulator.credentials import DEMO

INFO_PATH = "/api/message-finder/get-message-info"
SEARCH_PATH = "/api/message-finder/search"


@contextmanager
def in_process(messages: int, requests: int) -> Iterator[str]:
    """Run the simulator in this process; yields its URL."""
    limits = {**DEFAULT_RATE_LIMITS, INFO: (requests * 2, 60.0)}
    with Simulator(SimulatorConfig(messages=messages, rate_limits=limits)) as sim:
        yield sim.url


@contextmanager
def child_process(messages: int) -> Iterator[str]:
    """Run ``tagger simulate`` as a child process; yields its URL.

    The child's info rate limit is the default (3000/min), so keep
    ``--requests`` at or below that in this mode.
    """
    cmd = [sys.executable, "-m", "tagger", "simulate", "--port", "0"]
    cmd += ["--messages", str(messages)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        if "listening on " not in line:
            raise SystemExit(f"simulator did not start: {line!r}")
        yield line.rsplit(" ", 1)[1]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def run(url: str, requests: int, clients: int) -> tuple[float, int]:
    """Fire the requests; returns (elapsed seconds, failed requests)."""
    form = {
        "client_id": DEMO.client_id,
        "client_secret": DEMO.client_secret,
        "grant_type": "client_credentials",
    }
    token = httpx.post(f"{url}/oauth/token", data=form).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    found = httpx.post(f"{url}{SEARCH_PATH}", json={"data": [{}]}, headers=headers).json()
    ids = [t["id"] for t in found["data"][0]["trackedEmails"]]
    errors = [0] * clients
    share = [requests // clients + (1 if i < requests % clients else 0) for i in range(clients)]

    def worker(n: int) -> None:
        with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
            for k in range(share[n]):
                body = {"data": [{"id": ids[(n * 7919 + k) % len(ids)]}]}
                r = client.post(INFO_PATH, json=body)
                if r.status_code != 200 or r.json()["fail"]:
                    errors[n] += 1

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - began, sum(errors)


def main() -> int:
    """Parse options, run the benchmark, print the figure; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="total requests (max 100000)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent keep-alive clients")
    parser.add_argument("--messages", type=int, default=200, help="mailbox size")
    parser.add_argument("--server-process", action="store_true", help="run the server apart")
    args = parser.parse_args()
    requests = max(1, min(args.requests, 100_000))
    clients = max(1, min(args.clients, 64))
    server = (
        child_process(args.messages) if args.server_process else in_process(args.messages, requests)
    )
    with server as url:
        elapsed, errors = run(url, requests, clients)
    mode = "child process" if args.server_process else "in process"
    print(
        f"simulator ({mode}): {requests} get-message-info requests, {clients} clients,"
        f" {elapsed:.2f} s, {requests / elapsed:.0f} req/s, {errors} errors"
    )
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
