"""The baseline: tagging as a hand-written script does it, after Mimecast's sample code.

Synchronous and one request at a time: get a token, list the Smart Tags,
search the window (split when the result cap is hit, or messages would be
lost), then for every message get-message-info, decide, and apply each tag,
each call waiting for the previous one. The decision uses ``tagger.rules`` so
the work is identical to tagger's; only the way the API is driven differs.

    python -m bench.baseline_sample --url http://127.0.0.1:8765 --limit 200

prints the messages per second it reached (standalone use against
``tagger simulate``; ``bench/e2e.py`` runs it next to tagger).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from tagger.mimecast.models import Message, MessageInfo, SmartTag, TrackedEmail
from tagger.rules import RuleSet, evaluate, load_rules, resolve_tags
from tagger.simulator.credentials import DEMO

SEARCH = "/api/message-finder/search"
INFO = "/api/message-finder/get-message-info"
LIST_TAGS = "/api/data-retention/get-smart-tags"
APPLY = "/api/data-retention/apply-smart-tag"
SEARCH_CAP = 500
MAX_PAGES = 1000
MAX_SEARCHES = 10_000


@dataclass
class BaselineResult:
    """What the baseline did: messages handled, pairs applied, calls and time per phase."""

    found: int = 0
    messages: int = 0
    handled: list[str] = field(default_factory=list)
    applied: set[tuple[str, str]] = field(default_factory=set)
    calls: dict[str, int] = field(default_factory=dict)
    search_s: float = 0.0
    process_s: float = 0.0


class Api:
    """One synchronous connection to the API, one request at a time."""

    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=60)
        form = {
            "client_id": DEMO.client_id,
            "client_secret": DEMO.client_secret,
            "grant_type": "client_credentials",
        }
        token = self.http.post("/oauth/token", data=form).json()["access_token"]
        self.http.headers["Authorization"] = f"Bearer {token}"
        self.calls: dict[str, int] = {}

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST ``body`` to ``path``; returns the envelope; raises on any failure."""
        self.calls[path] = self.calls.get(path, 0) + 1
        response = self.http.post(path, json=body)
        response.raise_for_status()
        envelope: dict[str, Any] = response.json()
        if envelope.get("fail"):
            raise RuntimeError(f"{path} failed: {envelope['fail']}")
        return envelope

    def close(self) -> None:
        """Close the connection."""
        self.http.close()


def list_tags(api: Api) -> list[SmartTag]:
    """Return every Smart Tag of the account, page by page."""
    tags: list[SmartTag] = []
    token: str | None = None
    for _ in range(MAX_PAGES):
        pagination: dict[str, Any] = {"pageSize": 100}
        if token:
            pagination["pageToken"] = token
        envelope = api.post(LIST_TAGS, {"meta": {"pagination": pagination}, "data": []})
        tags.extend(t for t in (SmartTag.parse(x) for x in envelope["data"]) if t is not None)
        token = envelope.get("meta", {}).get("pagination", {}).get("next")
        if not token:
            break
    return tags


def search_all(api: Api, ruleset: RuleSet, start: datetime, end: datetime) -> list[TrackedEmail]:
    """Search every distinct query of ``ruleset`` over the window; returns unique messages.

    A window that returns the result cap is halved and searched again.
    """
    found: dict[str, TrackedEmail] = {}
    for query in ruleset.queries:
        pending = [(start, end)]
        for _ in range(MAX_SEARCHES):
            if not pending:
                break
            lo, hi = pending.pop()
            body = {"data": [query.criteria.to_request(lo, hi)]}
            tracked = api.post(SEARCH, body)["data"][0].get("trackedEmails") or []
            for raw in tracked:
                email = TrackedEmail.parse(raw)
                if email is not None:
                    found.setdefault(email.id, email)
            if len(tracked) >= SEARCH_CAP and hi - lo > timedelta(seconds=1):
                mid = lo + timedelta(seconds=int((hi - lo).total_seconds()) // 2)
                pending.extend(((mid, hi), (lo, mid)))
    return sorted(found.values(), key=lambda e: (e.received or start, e.id))


def run_baseline(
    url: str, ruleset: RuleSet, start: datetime, end: datetime, limit: int | None = None
) -> BaselineResult:
    """Tag the messages of ``[start, end)`` one call at a time (at most ``limit`` messages).

    Returns what was done and how long the search and the per-message phases took.
    """
    result = BaselineResult()
    api = Api(url)
    try:
        ids = {ref: t.id for ref, t in resolve_tags(ruleset, list_tags(api)).items()}
        began = time.perf_counter()
        emails = search_all(api, ruleset, start, end)
        result.search_s = time.perf_counter() - began
        result.found = len(emails)
        began = time.perf_counter()
        for email in emails[:limit]:
            data = api.post(INFO, {"data": [{"id": email.id}]})["data"]
            info = MessageInfo.parse(data[0])
            for decision in evaluate(ruleset, Message(email, info)):
                if decision.mode != "enforce":
                    continue
                for ref in decision.tags:
                    api.post(APPLY, {"data": [{"id": email.id, "smartTagId": ids[ref]}]})
                    result.applied.add((email.id, ids[ref]))
            result.messages += 1
            result.handled.append(email.id)
        result.process_s = time.perf_counter() - began
        result.calls = dict(api.calls)
    finally:
        api.close()
    return result


def main() -> int:
    """Run the baseline against a simulator at ``--url`` and print its rate."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="simulator URL (127.0.0.1)")
    parser.add_argument("--rules", default=str(Path(__file__).parent.parent / "rules"))
    parser.add_argument("--hours", type=float, default=24.0, help="window: the last N hours")
    parser.add_argument("--limit", type=int, default=None, help="messages to process at most")
    args = parser.parse_args()
    ruleset = load_rules([Path(args.rules)])
    end = datetime.now(UTC).replace(microsecond=0)
    result = run_baseline(args.url, ruleset, end - timedelta(hours=args.hours), end, args.limit)
    total = result.search_s + result.process_s
    print(
        f"baseline: {result.messages} messages in {total:.1f} s "
        f"({result.messages / total:.1f} messages/s), {len(result.applied)} tags applied, "
        f"calls {result.calls}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
