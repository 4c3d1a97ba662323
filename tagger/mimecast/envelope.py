"""The Mimecast response envelope: ``{meta, data, fail}``, checked without surprises.

:func:`parse_envelope` turns a decoded body into an :class:`Envelope` or a
:class:`~tagger.mimecast.errors.MalformedResponse`; it never lets a
``KeyError`` or ``TypeError`` escape.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tagger.logs.redact import REDACTOR
from tagger.mimecast.errors import FailItem, MalformedResponse, ResponseTooLarge, parse_failures


@dataclass(frozen=True, slots=True)
class Envelope:
    """A decoded, shape-checked response body."""

    meta: Mapping[str, Any]
    data: list[Any]
    fail: tuple[FailItem, ...] = ()
    request_id: str | None = None

    @property
    def next_token(self) -> str | None:
        """Return ``meta.pagination.next``, or None when this is the last page."""
        pagination = self.meta.get("pagination")
        if not isinstance(pagination, Mapping):
            return None
        token = pagination.get("next")
        return token if isinstance(token, str) and token else None

    @property
    def page_size(self) -> int | None:
        """Return ``meta.pagination.pageSize`` when the service sent a positive one."""
        pagination = self.meta.get("pagination")
        if not isinstance(pagination, Mapping):
            return None
        size = pagination.get("pageSize")
        ok = isinstance(size, int) and not isinstance(size, bool) and size > 0
        return size if ok else None

    @property
    def total_count(self) -> int | None:
        """Return ``meta.pagination.totalCount`` when the service sent one."""
        pagination = self.meta.get("pagination")
        if not isinstance(pagination, Mapping):
            return None
        total = pagination.get("totalCount")
        return total if isinstance(total, int) and not isinstance(total, bool) else None


class NotJson(ValueError):
    """A body that cannot be decoded as JSON; the message says why (never its content)."""


def decode_json(content: bytes) -> Any:
    """Decode a JSON body.

    Raises :class:`NotJson` (a ``ValueError``) when it is not UTF-8 JSON, or
    when it nests deeper than the decoder can follow (a hostile body such as
    ``[[[[…`` would otherwise raise ``RecursionError`` wherever it is parsed).
    """
    try:
        return json.loads(content.decode("utf-8"))
    except RecursionError:
        raise NotJson("response body is nested too deeply to decode") from None
    except (UnicodeDecodeError, ValueError) as exc:
        reason = "not UTF-8" if isinstance(exc, UnicodeDecodeError) else "not JSON"
        raise NotJson(f"response body is {reason}") from None


def check_items(count: int, max_items: int, what: str, ctx: Mapping[str, Any]) -> None:
    """Refuse an answer holding more than ``max_items`` items in ``what`` (e.g. ``data[]``).

    ``ctx`` holds the ``endpoint``, ``status`` and ``request_id``. Raises
    :class:`ResponseTooLarge` (not retryable) naming the setting to raise.
    """
    if count > max_items:
        raise ResponseTooLarge(
            f"response {what} holds {count} items, more than the limit of {max_items}"
            " (raise the account's max_items_per_response if the service really answers"
            " this many)",
            limit="max_items_per_response",
            items=count,
            **ctx,
        )


def parse_envelope(body: Any, *, endpoint: str, status: int, request_id: str | None) -> Envelope:
    """Check the envelope shape of a decoded body.

    Given the decoded JSON and the request context; returns the
    :class:`Envelope`. Raises :class:`MalformedResponse` (not retryable: the
    same request gets the same shape) when the body is not an object, or
    ``meta``/``data``/``fail``/``meta.pagination`` are missing or of the wrong type.
    """
    context: dict[str, Any] = {"endpoint": endpoint, "status": status, "request_id": request_id}
    if not isinstance(body, Mapping):
        raise MalformedResponse(
            f"response body is a JSON {type(body).__name__}, expected an object", **context
        )
    meta = body.get("meta")
    if not isinstance(meta, Mapping):
        raise MalformedResponse(_shape_message("meta", meta, "an object"), **context)
    data = body.get("data")
    if not isinstance(data, list):
        raise MalformedResponse(_shape_message("data", data, "an array"), **context)
    fail = body.get("fail", [])
    if fail is None:
        fail = []
    if not isinstance(fail, list):
        raise MalformedResponse(_shape_message("fail", fail, "an array"), **context)
    pagination = meta.get("pagination")
    if pagination is not None and not isinstance(pagination, Mapping):
        raise MalformedResponse(
            _shape_message("meta.pagination", pagination, "an object"), **context
        )
    if isinstance(pagination, Mapping):
        token = pagination.get("next")
        if token is not None and not isinstance(token, str):
            raise MalformedResponse(
                _shape_message("meta.pagination.next", token, "a string"), **context
            )
    return Envelope(meta=meta, data=data, fail=parse_failures(fail), request_id=request_id)


def _shape_message(name: str, value: Any, expected: str) -> str:
    """Return ``"'meta' is missing ..."`` or ``"'meta' is a list ..."`` wording."""
    if value is None:
        return f"response has no {name!r} (expected {expected})"
    return f"response {name!r} is a JSON {_json_type(value)}, expected {expected}"


def _json_type(value: Any) -> str:
    """Name a decoded JSON value's type the way JSON does."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return "null"


def error_detail(body: Any) -> str:
    """Pick a short human explanation out of an error body (``detail``/``error``/fail).

    Credentials in it are masked before it is shortened (a cut could otherwise
    leave part of an echoed token that no longer matches).
    """
    if not isinstance(body, Mapping):
        return ""
    for key in ("detail", "error_description", "message"):
        value = body.get(key)
        if isinstance(value, str) and value:
            return REDACTOR.text(value)[:200]
    return ""
