"""``tagger fetch --id MESSAGE_ID``: save a message's info from the account as a fixture.

Prints the get-message-info answer as a response envelope
(``{"meta": {"status": 200}, "data": [item]}``), the shape rule examples
(``fixture:``), ``tagger explain --message`` and the shipped fixtures use::

    tagger fetch --id eNqrVk… -c config.yaml > rules/fixtures/suspect.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from tagger import exitcodes
from tagger.cli.context import load
from tagger.config import Config
from tagger.config.model import AccountConfig
from tagger.errors import Problem, UserError
from tagger.mimecast.client import MimecastClient
from tagger.mimecast.models import MessageInfo
from tagger.yamldoc.suggest import did_you_mean


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    """Add the ``fetch`` sub-command."""
    parser = sub.add_parser(
        "fetch",
        parents=[parent],
        help="print one message's info from the account as a JSON fixture",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_message_id(parser, required=True)
    parser.set_defaults(handler=handle)


def add_message_id(parser: argparse.ArgumentParser, *, required: bool) -> None:
    """Add ``--id`` and ``--account`` (the options that name a message in an account)."""
    parser.add_argument(
        "--id", dest="message_id", metavar="MESSAGE_ID", required=required, help="message id"
    )
    parser.add_argument(
        "--account", metavar="NAME", help="account to ask (default: the first configured)"
    )


def pick_account(config: Config, name: str | None) -> AccountConfig:
    """Return the account called ``name`` (default: the first); UserError naming the others."""
    if name is None:
        return config.accounts[0]
    try:
        return config.account(name)
    except KeyError:
        names = [a.name for a in config.accounts]
        hint = did_you_mean(name, names) or "accounts: " + ", ".join(names)
        raise UserError([Problem(f"no account named {name!r}", hint=hint)]) from None


async def fetch_info(account: AccountConfig, message_id: str) -> MessageInfo:
    """Return the message info of ``message_id`` from ``account`` (MimecastError when refused)."""
    async with MimecastClient(account.settings) as client:
        return await client.get_message_info(message_id)


def envelope(info: MessageInfo) -> dict[str, Any]:
    """Return ``info`` as a get-message-info response envelope (a fixture)."""
    return {"meta": {"status": 200}, "data": [dict(info.raw)]}


def handle(args: argparse.Namespace) -> int:
    """Print the message's info as JSON; 0, 2 for a bad account, 1 when the API refuses."""
    config = load(args)
    info = asyncio.run(fetch_info(pick_account(config, args.account), args.message_id))
    print(json.dumps(envelope(info), indent=2, ensure_ascii=False))
    return exitcodes.OK
