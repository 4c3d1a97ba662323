"""``tagger tags``: list each account's Smart Tags (``--json``: for ``validate --tags-from``)."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from tagger.cli.context import load
from tagger.config import Config
from tagger.mimecast.client import MimecastClient
from tagger.mimecast.models import SmartTag


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    """Add the ``tags`` sub-command."""
    parser = sub.add_parser("tags", parents=[parent], help="list the accounts' Smart Tags")
    parser.add_argument(
        "--json",
        action="store_true",
        help="print JSON that `tagger validate --tags-from FILE` reads",
    )
    parser.set_defaults(handler=handle)


def tag_json(tag: SmartTag) -> dict[str, Any]:
    """Return a Smart Tag in the shape of get-smart-tags (what ``--tags-from`` reads)."""
    out: dict[str, Any] = {"id": tag.id, "name": tag.name, "path": tag.path}
    if tag.description:
        out["description"] = tag.description
    if tag.parent_id:
        out["parentId"] = tag.parent_id
    return out


async def _fetch(config: Config) -> list[tuple[str, list[SmartTag]]]:
    out = []
    for account in config.accounts:
        async with MimecastClient(account.to_settings()) as client:
            tags = await client.list_smart_tags()
        out.append((account.name, sorted(tags, key=lambda t: t.path)))
    return out


def handle(args: argparse.Namespace) -> int:
    """List tags (``id  path`` per line, or JSON); exit 0.

    JSON is ``{"accounts": {NAME: [tag, ...]}}`` with each tag as
    get-smart-tags gives it (``id``, ``name``, ``path``, …).
    """
    found = asyncio.run(_fetch(load(args)))
    if args.json:
        data = {"accounts": {name: [tag_json(t) for t in tags] for name, tags in found}}
        print(json.dumps(data, indent=2, ensure_ascii=False))
        return 0
    for name, tags in found:
        print(f"account {name}: {len(tags)} Smart Tags")
        for tag in tags:
            print(f"  {tag.id}  {tag.path}")
    return 0
