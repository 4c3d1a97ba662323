"""What each API endpoint does with an authenticated, decoded request body.

Pure of HTTP: :meth:`Api.handle` takes the endpoint key, the decoded JSON
body and the server clock reading, and returns ``(HTTP status, JSON body)``.
Request problems are answered like the real service: HTTP 200 with the
envelope's ``fail[]`` holding the item (``key``) and its errors.
"""

from __future__ import annotations

import base64
import binascii
import json
import sys
import threading
from collections.abc import Callable, Mapping
from typing import Any

from tagger.simulator import render
from tagger.simulator.config import (
    APPLY_TAG,
    INFO,
    LIST_TAGS,
    SEARCH,
    SEARCH_TAG,
    SimulatorConfig,
)
from tagger.simulator.mailbox import Mailbox
from tagger.simulator.search import QueryError, cap_results, parse_query
from tagger.simulator.stats import Stats
from tagger.simulator.strict import BLANK_CODE, BLANK_MESSAGE, is_bare

JSON = dict[str, Any]
Result = tuple[int, JSON]


def envelope(
    data: list[Any], fail: list[JSON] | None = None, pagination: JSON | None = None
) -> JSON:
    """Return the standard ``{meta, data, fail}`` envelope (HTTP 200)."""
    meta: JSON = {"status": 200}
    if pagination is not None:
        meta["pagination"] = pagination
    return {"meta": meta, "data": data, "fail": fail or []}


def fail_item(key: Any, code: str, message: str, retryable: bool = False) -> JSON:
    """Return one ``fail[]`` item echoing the request item as ``key``."""
    return {"key": key, "errors": [{"code": code, "message": message, "retryable": retryable}]}


def failed(key: Any, code: str, message: str) -> Result:
    """Return HTTP 200 with one failed item."""
    return 200, envelope([], [fail_item(key, code, message)])


class RequestProblem(Exception):
    """A request the endpoint cannot run; carries the ready ``fail[]`` result."""

    def __init__(self, result: Result) -> None:
        super().__init__("request problem")
        self.result = result


def _items(body: Any, minimum: int, maximum: int) -> list[Any]:
    data = body.get("data") if isinstance(body, Mapping) else None
    if data is None and minimum == 0:
        return []
    if not isinstance(data, list):
        raise RequestProblem(failed({}, "err_validation_null", "data must be a list of one item"))
    if not minimum <= len(data) <= maximum:
        key = data[0] if data else {}
        raise RequestProblem(
            failed(
                key,
                "err_validation_item_count",
                f"data must hold exactly one item, got {len(data)}",
            )
        )
    if data and not isinstance(data[0], Mapping):
        raise RequestProblem(
            failed({}, "err_validation_invalid_value", "data[0] must be an object")
        )
    return data


def _required(item: Mapping[str, Any], field: str) -> str:
    value = item.get(field)
    if value is None:
        raise RequestProblem(failed(item, "err_validation_null", f"{field} is required"))
    if not isinstance(value, str) or not value.strip():
        raise RequestProblem(failed(item, "err_validation_blank", f"{field} must not be blank"))
    return value.strip()


def _encode_token(scope: str, offset: int) -> str:
    raw = json.dumps([scope, offset], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _decode_token(token: str) -> tuple[str, int] | None:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        scope, offset = json.loads(raw)
    except (binascii.Error, ValueError, TypeError):
        return None
    if not isinstance(scope, str) or not isinstance(offset, int) or offset < 0:
        return None
    return scope, offset


class Api:
    """The endpoints of one simulated account."""

    def __init__(self, config: SimulatorConfig, mailbox: Mailbox, stats: Stats) -> None:
        self._cfg = config
        self._box = mailbox
        self._stats = stats
        self._routes: dict[str, Callable[[Any, float], Result]] = {
            SEARCH: self._search,
            INFO: self._info,
            LIST_TAGS: self._list_tags,
            APPLY_TAG: self._apply,
            SEARCH_TAG: self._search_tag,
        }
        self._failing: dict[str, tuple[int, bool]] = {}
        self._failing_lock = threading.Lock()
        self._refusing: dict[str, tuple[int, int, int]] = {}
        self._misanswer = 0

    def refuse(self, endpoint: str, status: int, times: int, after: int = 0) -> None:
        """Answer ``times`` calls of ``endpoint`` with HTTP ``status`` (401 or 403).

        As the service does when credentials or the application's role stop
        being accepted. The first ``after`` calls are served normally;
        ``times=0`` cancels what is left.
        """
        with self._failing_lock:
            self._refusing[endpoint] = (status, max(0, times), max(0, after))

    def misanswer_info(self, times: int) -> None:
        """Answer the next ``times`` get-message-info calls with another message's info."""
        with self._failing_lock:
            self._misanswer = max(0, times)

    def _refusal(self, endpoint: str) -> Result | None:
        """Return the refusal to answer with (counting it), or None."""
        with self._failing_lock:
            status, left, after = self._refusing.get(endpoint, (0, 0, 0))
            if after > 0:
                self._refusing[endpoint] = (status, left, after - 1)
                return None
            if left <= 0:
                return None
            self._refusing[endpoint] = (status, left - 1, 0)
        code = "err_permission_denied" if status == 403 else "err_authentication_failed"
        error = {"code": code, "message": "refused", "retryable": False}
        return status, {"meta": {"status": status}, "data": [], "fail": [{"errors": [error]}]}

    def _take_misanswer(self) -> bool:
        with self._failing_lock:
            if self._misanswer <= 0:
                return False
            self._misanswer -= 1
            return True

    def fail_message(self, message_id: str, times: int, transient: bool = False) -> None:
        """Make the next ``times`` get-message-info calls for one message fail (0 cancels).

        A transient failure is an HTTP 500 marked retryable; otherwise a
        non-retryable ``fail[]`` item.
        """
        with self._failing_lock:
            self._failing[message_id] = (max(0, times), transient)

    def _injected_failure(self, message_id: str) -> tuple[bool, bool]:
        """Return (fail this call, transiently) for one message, counting the call."""
        with self._failing_lock:
            left, transient = self._failing.get(message_id, (0, False))
            if left > 0:
                self._failing[message_id] = (left - 1, transient)
            return left > 0, transient

    def handle(self, endpoint: str, body: Any, now: float) -> Result:
        """Run one call of ``endpoint`` (an API endpoint key) at clock reading ``now``."""
        refusal = self._refusal(endpoint)
        if refusal is not None:
            return refusal
        try:
            return self._routes[endpoint](body, now)
        except RequestProblem as problem:
            return problem.result

    def _search(self, body: Any, now: float) -> Result:
        item = _items(body, 1, 1)[0]
        try:
            query = parse_query(item)
        except QueryError as exc:
            return failed(item, exc.code, exc.message)
        if self._cfg.strict_search and is_bare(query):
            return failed(item, BLANK_CODE, BLANK_MESSAGE)
        # The mailbox answers in full; the cap (and which results it keeps) applies here.
        found = self._box.search(query, now, sys.maxsize)
        cfg = self._cfg
        kept = cap_results(found.messages, cfg.search_cap, cfg.search_cap_mode, cfg.seed, item)
        tracked = [render.tracked_email(m) for m in kept]
        return 200, envelope([{"trackedEmails": tracked}])

    def _info(self, body: Any, now: float) -> Result:
        item = _items(body, 1, 1)[0]
        ident = _required(item, "id")
        fail, transient = self._injected_failure(ident)
        if fail and transient:
            error = {"code": "err_sim_injected_failure", "message": "injected", "retryable": True}
            return 500, {"meta": {"status": 500}, "data": [], "fail": [{"errors": [error]}]}
        if fail:
            return failed(item, "err_sim_injected_failure", "injected failure for this message")
        m = self._box.get(ident, now)
        if m is None:
            return failed(item, "err_message_not_found", "no message with this id")
        if self._take_misanswer():
            # A neighbour: another message, tags and all (what a mixed-up answer looks like).
            others = [o for o in self._box.all(now) if o.id != m.id]
            m = others[len(others) // 2] if others else m
        return 200, envelope([render.message_info(m, self._box.tags_on(m.id))])

    def _apply(self, body: Any, now: float) -> Result:
        item = _items(body, 1, 1)[0]
        ident, tag = _required(item, "id"), _required(item, "smartTagId")
        error = self._box.apply(ident, tag, now)
        if error == "err_message_not_found":
            return failed(item, error, "no message with this id")
        if error is not None:
            return failed(item, error, "no Smart Tag with this id")
        self._stats.applied(ident, tag)
        return 200, envelope([{"id": ident, "smartTagId": tag}])

    def _list_tags(self, body: Any, now: float) -> Result:
        _items(body, 0, 1)
        tags = [t.to_json() for t in self._box.tags]
        return self._page(body, "list", tags)

    def _search_tag(self, body: Any, now: float) -> Result:
        item = _items(body, 1, 1)[0]
        tag = _required(item, "smartTagId")
        if self._box.tag(tag) is None:
            return failed(item, "err_smart_tag_not_found", "no Smart Tag with this id")
        return self._page(body, f"tag:{tag}", [{"id": i} for i in self._box.tagged(tag)])

    def _page(self, body: Any, scope: str, rows: list[JSON]) -> Result:
        """Return one page of ``rows`` per the request's ``meta.pagination``.

        A page token only works for the query (``scope``) that produced it.
        """
        meta = body.get("meta") if isinstance(body, Mapping) else None
        pagination = meta.get("pagination") if isinstance(meta, Mapping) else None
        pagination = pagination if isinstance(pagination, Mapping) else {}
        size = pagination.get("pageSize", self._cfg.list_page_size)
        if (
            isinstance(size, bool)
            or not isinstance(size, int)
            or not 1 <= size <= self._cfg.max_page_size
        ):
            problem = f"pageSize must be a whole number from 1 to {self._cfg.max_page_size}"
            return failed(dict(pagination), "err_validation_invalid_page_size", problem)
        offset = 0
        token = pagination.get("pageToken")
        if token:
            decoded = _decode_token(token) if isinstance(token, str) else None
            if decoded is None or decoded[0] != scope:
                problem = "pageToken is not valid for this query"
                return failed(dict(pagination), "err_validation_invalid_page_token", problem)
            offset = decoded[1]
        page = rows[offset : offset + size]
        info: JSON = {"pageSize": size, "totalCount": len(rows)}
        if offset + size < len(rows):
            info["next"] = _encode_token(scope, offset + size)
        return 200, envelope(page, pagination=info)
