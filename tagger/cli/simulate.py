"""``tagger simulate``: serve the Mimecast simulator until SIGINT/SIGTERM.

The first line of standard output is ``tagger simulator listening on URL``.
Credentials default to the public demo set (:data:`tagger.simulator.credentials.DEMO`);
secrets can come from the environment instead of the command line so that
they do not show in ``ps``: ``TAGGER_SIM_SECRET_KEY``, ``TAGGER_SIM_APP_KEY``
and ``TAGGER_SIM_CLIENT_SECRET`` (and, for symmetry, ``TAGGER_SIM_ACCESS_KEY``,
``TAGGER_SIM_APP_ID``, ``TAGGER_SIM_CLIENT_ID``).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from types import FrameType
from typing import Any

from tagger import exitcodes
from tagger.errors import Problem, UserError
from tagger.simulator import FaultConfig, Simulator, SimulatorConfig
from tagger.simulator.config import SEARCH_CAP_MODES, SHIPPED_SEARCH_CAP
from tagger.simulator.credentials import DEMO, Credentials

# (option, Credentials field, environment variable)
_CREDENTIAL_OPTIONS = (
    ("--access-key", "access_key", "TAGGER_SIM_ACCESS_KEY"),
    ("--secret-key", "secret_key", "TAGGER_SIM_SECRET_KEY"),
    ("--app-id", "app_id", "TAGGER_SIM_APP_ID"),
    ("--app-key", "app_key", "TAGGER_SIM_APP_KEY"),
    ("--client-id", "client_id", "TAGGER_SIM_CLIENT_ID"),
    ("--client-secret", "client_secret", "TAGGER_SIM_CLIENT_SECRET"),
)


def register(subparsers: Any, parent: argparse.ArgumentParser) -> None:
    """Add the ``simulate`` sub-command."""
    p = subparsers.add_parser(
        "simulate",
        parents=[parent],
        help="serve a simulated Mimecast account on 127.0.0.1 (for demos, tests, trying rules)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8765, help="port (0 = any free port; default 8765)")
    p.add_argument("--seed", type=int, default=1, help="mailbox seed (default 1)")
    p.add_argument("--messages", type=int, default=200, help="messages in the last 6 hours")
    p.add_argument("--history-hours", type=float, default=6.0, help="spread of those messages")
    p.add_argument("--arrival-rate", type=float, default=0.0, help="new messages per minute")
    p.add_argument(
        "--search-cap",
        type=int,
        default=SHIPPED_SEARCH_CAP,
        help="max results per search, silently (0 = no cap; default"
        f" {SHIPPED_SEARCH_CAP}, the example config's window.search_cap)",
    )
    p.add_argument(
        "--search-cap-mode",
        choices=SEARCH_CAP_MODES,
        default="oldest",
        help="which results a capped search keeps (random: a seeded arbitrary subset)",
    )
    p.add_argument("--late-fraction", type=float, default=0.0, help="share indexed late (0..1)")
    p.add_argument("--late-delay", type=float, default=120.0, help="indexing delay, seconds")
    p.add_argument("--token-lifetime", type=float, default=1800.0, help="OAuth token lifetime, s")
    p.add_argument("--latency-ms", type=float, default=0.0, help="fixed latency per request")
    p.add_argument("--jitter-ms", type=float, default=0.0, help="random extra latency, up to")
    p.add_argument("--max-concurrency", type=int, default=0, help="requests served at once")
    p.add_argument("--page-size", type=int, default=10, help="default Smart Tag list page size")
    p.add_argument("--fault-5xx", type=float, default=0.0, help="share answered 500/503")
    p.add_argument("--fault-drop", type=float, default=0.0, help="share of dropped connections")
    p.add_argument("--fault-malformed", type=float, default=0.0, help="share with broken JSON")
    p.add_argument("--fault-slow", type=float, default=0.0, help="share delayed by 2 s")
    p.add_argument("--fault-seed", type=int, default=0, help="seed of the fault RNG")
    p.add_argument(
        "--strict-search",
        action="store_true",
        help="refuse searches without from/to/subject/senderIP/messageId (err_validation_blank)",
    )
    for option, field, env in _CREDENTIAL_OPTIONS:
        p.add_argument(option, dest=field, metavar="VALUE", help=f"default: ${env} or demo value")
    p.set_defaults(handler=run)


def _credentials(args: argparse.Namespace) -> tuple[Credentials, bool]:
    """Return the credentials from options, then environment, then demo; and whether all demo."""
    values = {}
    for _, field, env in _CREDENTIAL_OPTIONS:
        values[field] = getattr(args, field) or os.environ.get(env) or getattr(DEMO, field)
    try:
        creds = Credentials(**values)
    except ValueError as exc:
        raise UserError([Problem(str(exc), path="--secret-key")], "bad credentials") from None
    return creds, creds == DEMO


def build_config(args: argparse.Namespace) -> tuple[SimulatorConfig, bool]:
    """Turn parsed options into a configuration; raises :class:`UserError` on bad values."""
    creds, demo = _credentials(args)
    try:
        faults = FaultConfig(
            error_5xx=args.fault_5xx,
            drop=args.fault_drop,
            malformed_json=args.fault_malformed,
            slow=args.fault_slow,
            seed=args.fault_seed,
        )
        config = SimulatorConfig(
            host=args.host,
            port=args.port,
            seed=args.seed,
            messages=args.messages,
            history_hours=args.history_hours,
            arrival_rate_per_min=args.arrival_rate,
            search_cap=args.search_cap,
            search_cap_mode=args.search_cap_mode,
            late_fraction=args.late_fraction,
            late_delay_s=args.late_delay,
            token_lifetime_s=args.token_lifetime,
            latency_ms=args.latency_ms,
            latency_jitter_ms=args.jitter_ms,
            max_concurrency=args.max_concurrency,
            list_page_size=args.page_size,
            faults=faults,
            credentials=creds,
            strict_search=args.strict_search,
        )
    except ValueError as exc:
        raise UserError([Problem(str(exc))], "bad simulator options") from None
    return config, demo


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT or SIGTERM; returns 0 after a clean stop."""
    config, demo = build_config(args)
    sim = Simulator(config)
    try:
        sim.start()
    except OSError as exc:
        where = f"{config.host}:{config.port}"
        raise UserError([Problem(f"cannot listen on {where}: {exc.strerror}")], "") from None
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        print(f"tagger simulator listening on {sim.url}", flush=True)
        if demo:
            print(
                f"credentials: demo (client_id={DEMO.client_id}, access_key={DEMO.access_key},"
                f" app_id={DEMO.app_id}; secrets in tagger.simulator.credentials)",
                flush=True,
            )
        else:
            print("credentials: as given (secrets not shown)", flush=True)
        print(f"{len(sim.messages())} messages, seed {config.seed}; stats at {sim.url}/_sim/stats")
        sys.stdout.flush()
        while not stop.wait(0.5):
            pass
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        sim.stop()
    print("tagger simulator stopped", flush=True)
    return exitcodes.OK
