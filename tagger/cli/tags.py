"""``tagger tags``: list each account's Smart Tags (``--json``: for ``validate --tags-from``).

``--messages TAG`` lists instead the ids of the messages carrying one tag
(named by path, name or id), through search-smart-tag.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from tagger import exitcodes
from tagger.cli.context import load
from tagger.config import Config
from tagger.errors import UserError
from tagger.mimecast.client import MimecastClient
from tagger.mimecast.models import SmartTag
from tagger.words import plural
from tagger.yamldoc.suggest import did_you_mean


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    """Add the ``tags`` sub-command."""
    parser = sub.add_parser("tags", parents=[parent], help="list the accounts' Smart Tags")
    parser.add_argument(
        "--json",
        action="store_true",
        help="print JSON that `tagger validate --tags-from FILE` reads",
    )
    parser.add_argument(
        "--messages",
        metavar="TAG",
        help="list the ids of the messages carrying TAG (its path, name or id) instead",
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
        async with MimecastClient(account.settings) as client:
            tags = await client.list_smart_tags()
        out.append((account.name, sorted(tags, key=lambda t: t.path)))
    return out


def _find(tags: list[SmartTag], ref: str, account: str) -> SmartTag:
    """Return the tag ``ref`` names (path, name or id); UserError with a suggestion if none."""
    for tag in tags:
        if ref in (tag.path, tag.name, tag.id):
            return tag
    hint = did_you_mean(ref, [t.path for t in tags]) or "`tagger tags` lists them"
    raise UserError.single(f"account {account} has no Smart Tag {ref!r}", hint=hint)


async def _tagged(config: Config, ref: str) -> list[tuple[str, SmartTag, list[str]]]:
    """Return, per account, the tag ``ref`` names and the ids of the messages carrying it."""
    out = []
    for account in config.accounts:
        async with MimecastClient(account.settings) as client:
            tag = _find(await client.list_smart_tags(), ref, account.name)
            out.append((account.name, tag, [m async for m in client.search_smart_tag(tag.id)]))
    return out


def handle(args: argparse.Namespace) -> int:
    """List tags (``id  path`` per line, or JSON); exit 0.

    JSON is ``{"accounts": {NAME: [tag, ...]}}`` with each tag as
    get-smart-tags gives it (``id``, ``name``, ``path``, …).
    """
    if args.messages is not None:
        for name, tag, ids in asyncio.run(_tagged(load(args), args.messages)):
            print(f"account {name}: {plural(len(ids), 'message')} tagged {tag.path}")
            for message_id in ids:
                print(f"  {message_id}")
        return exitcodes.OK
    found = asyncio.run(_fetch(load(args)))
    if args.json:
        data = {"accounts": {name: [tag_json(t) for t in tags] for name, tags in found}}
        print(json.dumps(data, indent=2, ensure_ascii=False))
        return exitcodes.OK
    for name, tags in found:
        print(f"account {name}: {len(tags)} Smart Tags")
        for tag in tags:
            print(f"  {tag.id}  {tag.path}")
    return exitcodes.OK
