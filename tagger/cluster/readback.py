"""Resolving claims in doubt by reading back which messages carry each tag.

After a takeover, a claim of an earlier owner or epoch with no recorded
outcome may or may not have reached Mimecast. It is never re-sent blindly:
the Smart Tag search (``search-smart-tag``, what ``tagger tags --messages``
calls) lists the messages carrying the tag; a claimed message in that list
was tagged, and its pair is recorded applied. One that is not listed stays in
doubt, listed by ``tagger status`` and counted in the metrics, and is read
back again at each cycle (a late request or a slow index may still show it):
it is sent again only when an operator releases it (``tagger claims
release``), since a Smart Tag can never be removed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import structlog

from tagger.cluster.claims import Claim

__all__ = ["ReadBack", "TagSearch", "read_back"]

log = structlog.get_logger("tagger.cluster")


class TagSearch(Protocol):
    """The part of the Mimecast client read-back uses."""

    def search_smart_tag(self, tag_id: str) -> AsyncIterator[str]:
        """Yield the id of every message carrying Smart Tag ``tag_id``."""


@dataclass(frozen=True, slots=True)
class ReadBack:
    """What one read-back found: the claims seen tagged, and those still in doubt."""

    tagged: tuple[Claim, ...]
    unresolved: tuple[Claim, ...]
    errors: tuple[str, ...] = ()


async def read_back(
    doubts: Sequence[Claim],
    client: TagSearch,
    record: Callable[[Sequence[Claim]], None],
) -> ReadBack:
    """Read back the tags of ``doubts``; ``record`` the pairs found tagged; return what happened.

    One search per tag. A search that fails leaves its claims in doubt (its
    error is returned, in the operator's words).
    """
    by_tag: dict[str, list[Claim]] = defaultdict(list)
    for claim in doubts:
        by_tag[claim.tag_id].append(claim)
    tagged: list[Claim] = []
    unresolved: list[Claim] = []
    errors: list[str] = []
    for tag_id, claims in sorted(by_tag.items()):
        wanted = {c.message_id for c in claims}
        seen: set[str] = set()
        try:
            async for message_id in client.search_smart_tag(tag_id):
                if message_id in wanted:
                    seen.add(message_id)
                    if seen == wanted:
                        break
        except Exception as exc:  # a failed search resolves nothing; the next cycle retries
            errors.append(f"reading back tag {tag_id}: {exc}")
            unresolved.extend(claims)
            continue
        tagged.extend(c for c in claims if c.message_id in seen)
        unresolved.extend(c for c in claims if c.message_id not in seen)
    if tagged:
        record(tagged)
    for claim in tagged:
        log.info(
            "claim_resolved",
            account=claim.account,
            message_id=claim.message_id,
            tag_id=claim.tag_id,
            found="tagged",
        )
    if unresolved:
        log.warning(
            "claims_in_doubt",
            account=unresolved[0].account,
            count=len(unresolved),
            check="not found tagged by reading back; never re-sent without `tagger claims release`",
        )
    return ReadBack(tuple(tagged), tuple(unresolved), tuple(errors))
