"""``tagger tags``: list each account's Smart Tags."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from tagger.cli.context import load
from tagger.config import Config
from tagger.mimecast.client import MimecastClient


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    """Add the ``tags`` sub-command."""
    parser = sub.add_parser("tags", parents=[parent], help="list the accounts' Smart Tags")
    parser.set_defaults(handler=handle)


async def _list(config: Config) -> None:
    """Print every account's Smart Tags as ``id  path``."""
    for account in config.accounts:
        async with MimecastClient(account.to_settings()) as client:
            tags = await client.list_smart_tags()
        print(f"account {account.name}: {len(tags)} Smart Tags")
        for tag in sorted(tags, key=lambda t: t.path):
            print(f"  {tag.id}  {tag.path}")


def handle(args: argparse.Namespace) -> int:
    """List tags; exit 0."""
    asyncio.run(_list(load(args)))
    return 0
