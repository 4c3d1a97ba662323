"""``tagger claims``: the applies left in doubt by a takeover, and releasing them.

When a node loses an account's lease while an apply is under way, the claim
it wrote before sending stays without an outcome: the tag may or may not be
on the message. The node that takes the account over reads the tag back
(:mod:`tagger.cluster.readback`); what it cannot find tagged stays **in
doubt**, is never re-sent blindly, and holds its message back (a transient
failure). ``tagger claims`` lists them; ``tagger claims release`` deletes
them once the operator has checked, and the next cycle applies them.
Only with a PostgreSQL ledger (``state: {backend: postgresql}``).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from tagger import exitcodes
from tagger.cli.context import load
from tagger.cli.held import confirm
from tagger.cli.ruletargets import check_account
from tagger.cluster import claims
from tagger.cluster.claims import Claim
from tagger.config import Config
from tagger.errors import UserError
from tagger.words import plural

__all__ = ["handle_claims", "register"]


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    """Add the ``claims`` sub-command (list, or ``release``)."""
    cmd = sub.add_parser(
        "claims",
        parents=[parent],
        help="list the applies in doubt after a takeover (cluster), or release them",
    )
    cmd.add_argument(
        "action", nargs="?", choices=("list", "release"), default="list", help="default: list"
    )
    cmd.add_argument("--account", metavar="NAME", help="only this account's claims")
    cmd.add_argument("--message", metavar="ID", action="append", help="release: only this message")
    cmd.add_argument("--all", action="store_true", help="release: every claim in doubt shown")
    cmd.add_argument("--yes", action="store_true", help="release: do not ask for confirmation")
    cmd.add_argument("--json", action="store_true", help="list: one JSON document")
    cmd.set_defaults(handler=handle_claims)


def _connect(config: Config) -> Any:
    """Return a psycopg connection to the config's PostgreSQL ledger; UserError without one."""
    backend = config.state
    if backend.backend != "postgresql" or backend.dsn is None:
        raise UserError.single(
            "claims exist only with a PostgreSQL ledger (state: {backend: postgresql});"
            " a SQLite ledger has one writer and nothing in doubt",
            hint="see docs/cluster.md",
        )
    import psycopg

    try:
        return psycopg.connect(backend.dsn, autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()
        raise UserError.single(
            f"cannot reach the PostgreSQL ledger at {backend.where}:"
            f" {first[0] if first else type(exc).__name__}",
            hint="check that the server is up and state.dsn names it",
        ) from None


def handle_claims(args: argparse.Namespace) -> int:
    """List the claims in doubt, or release them; returns the exit code."""
    config = load(args)
    if args.account is not None:
        check_account(config, args.account)
    if args.action == "list" and (args.all or args.message or args.yes):
        raise UserError.single("--all, --message and --yes go with `tagger claims release`")
    if args.action == "release" and not (args.all or args.message):
        raise UserError.single(
            "say which claims to release: --all (every one shown by `tagger claims`),"
            " or --message ID (repeatable)",
            hint="check first that the message does not carry the tag in Mimecast",
        )
    with _connect(config) as conn:
        doubts = claims.in_doubt(conn, args.account)
        if args.message:
            doubts = [c for c in doubts if c.message_id in set(args.message)]
        if args.action == "list":
            _show(doubts, args.json)
            return exitcodes.OK
        return _release(conn, doubts, args)


def _show(doubts: list[Claim], as_json: bool) -> None:
    """Print the claims in doubt (as JSON when asked)."""
    if as_json:
        print(json.dumps({"in_doubt": [_row(c) for c in doubts]}, indent=2))
        return
    if not doubts:
        print("no apply is in doubt")
        return
    counted = plural(len(doubts), "apply", "applies")
    print(f"{counted} in doubt (never re-sent without `tagger claims release`):")
    for c in doubts:
        print(
            f"  {c.account}  message {c.message_id}  tag {c.tag_id}  rule {c.rule_id}"
            f"  claimed by {c.owner.split('#')[0]} (epoch {c.epoch}) {c.age_s:.0f} s ago"
        )


def _row(c: Claim) -> dict[str, object]:
    """Return one claim as a JSON object."""
    return {
        "account": c.account,
        "message_id": c.message_id,
        "tag_id": c.tag_id,
        "rule": c.rule_id,
        "node": c.owner.split("#")[0],
        "owner": c.owner,
        "epoch": c.epoch,
        "age_s": round(c.age_s, 1),
    }


def _release(conn: Any, doubts: list[Claim], args: argparse.Namespace) -> int:
    """Ask, then delete ``doubts`` so the next cycle applies them; returns the exit code."""
    if not doubts:
        print("no apply in doubt matches: nothing to release")
        return exitcodes.OK
    _show(doubts, False)
    answer = confirm(
        f"release {plural(len(doubts), 'claim')}: the next cycle applies them again"
        " (a Smart Tag cannot be removed: release only what you checked is not tagged)",
        args.yes,
    )
    if answer is not True:
        if answer is None:
            print(
                "refusing to release without confirmation: no terminal to ask on;"
                " run again with --yes",
                file=sys.stderr,
            )
        else:
            print("not released")
        return exitcodes.FAILURE
    released = 0
    for account in sorted({c.account for c in doubts}):
        pairs = [(c.message_id, c.tag_id) for c in doubts if c.account == account]
        released += claims.forget(conn, account, pairs)
    print(f"released {plural(released, 'claim')}: the next cycle applies them")
    return exitcodes.OK
