"""Two accounts with one quota: each one's share of the turns, and the share of 429s.

    python -m bench.quota_group [--bucket 10] [--rate 5] [--calls 200] [--bound 10]

An in-process simulator limits every endpoint to a leaky bucket of
``--bucket`` requests refilled at ``--rate`` requests/s. Two clients with the
same credentials share one gate registry; after listing their tags (as the
daemon does on start) each queues ``--calls`` get-message-info calls at once,
bounded to ``--bound`` seconds (the rest is deferred). Prints, for turns in
rotation and for first come first served (one account may hold every call at
the gate), each account's accepted calls, the accepted rate against the
quota's and the share of calls answered 429.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from dataclasses import replace

from tagger.mimecast import sharedgate
from tagger.mimecast.client import MimecastClient
from tagger.mimecast.settings import AccountSettings, OAuthCredentials
from tagger.mimecast.sharedgate import GateRegistry
from tagger.simulator import DEMO, Simulator, SimulatorConfig
from tagger.simulator.config import ENDPOINTS
from testkit.quota import queue_info_reads


async def _pair(url: str, ids: list[str], bound_s: float) -> tuple[int, int, float]:
    """Run both accounts at once; returns their accepted calls and the time taken."""
    creds = OAuthCredentials(DEMO.client_id, DEMO.client_secret)
    base = AccountSettings(name="a", api_version="2.0", base_url=url, credentials=creds)
    gates = GateRegistry()
    async with (
        MimecastClient(base, gates=gates) as a,
        MimecastClient(replace(base, name="b"), gates=gates) as b,
    ):
        await a.list_smart_tags()
        await b.list_smart_tags()
        started = time.monotonic()
        (got_a, _), (got_b, _) = await asyncio.gather(
            queue_info_reads(a, ids, bound_s), queue_info_reads(b, ids, bound_s)
        )
        return got_a, got_b, time.monotonic() - started


def measure(args: argparse.Namespace, per_account: int) -> str:
    """Run one pairing with ``per_account`` calls held at the gate; returns its report line."""
    sharedgate.PER_ACCOUNT = per_account
    limits = dict.fromkeys(ENDPOINTS, (args.bucket, args.bucket / args.rate))
    with Simulator(SimulatorConfig(seed=3, messages=args.calls, rate_limits=limits)) as sim:
        ids = [m.id for m in sim.messages()]
        ok_a, ok_b, elapsed = asyncio.run(_pair(sim.url, ids, args.bound))
        info = sim.stats()["endpoints"]["info"]["by_status"]
    answered = sum(int(v) for v in info.values())
    allowed = args.bucket + args.rate * elapsed
    return (
        f"a {ok_a:4d}  b {ok_b:4d}  share a {ok_a / max(ok_a + ok_b, 1):5.1%}"
        f"  accepted/allowed {(ok_a + ok_b) / allowed:5.1%}"
        f"  429 {int(info.get('429', 0)) / max(answered, 1):5.1%}"
    )


def main() -> None:
    """Print the shares in rotation and first come first served."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bucket", type=int, default=10)
    parser.add_argument("--rate", type=float, default=5.0)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--bound", type=float, default=10.0)
    args = parser.parse_args()
    default = sharedgate.PER_ACCOUNT
    print(f"rotation            {measure(args, default)}")
    print(f"first come, first   {measure(args, 10**9)}")


if __name__ == "__main__":
    main()
