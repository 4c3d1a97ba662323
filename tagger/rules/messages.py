"""Build a :class:`~tagger.mimecast.models.Message` from JSON files or inline examples.

Accepted shapes (for ``tagger explain --message``, rule example fixtures and
inline example messages):

* a get-message-info response envelope ``{"data": [{...}]}`` or its bare
  ``data[0]`` item;
* a combined document ``{"info": {...}, "summary": {...}}`` where ``info`` is
  either of the above and ``summary`` is one message-finder ``trackedEmails[]``
  item (or a search response envelope holding one). Either part may be
  left out: a message without ``info`` is what the pre-filter sees.

When only info is given, the search summary is synthesised from it: id,
status, subject, sent, received (info ``processed``), sender IP (``remoteIp``),
route (first delivery route), attachments (any), envelope and header From,
To, spam score and detection level.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tagger.errors import UserError
from tagger.mimecast.models import Message, MessageInfo, TrackedEmail

INFO_KEYS = frozenset(
    {
        "id",
        "status",
        "retentionInfo",
        "recipientInfo",
        "deliveredMessage",
        "spamInfo",
        "queueInfo",  # held mail
        "txInfo",
    }
)


def summary_from_info(info: MessageInfo) -> TrackedEmail:
    """Return the search summary a message-finder search would show for ``info``."""
    routes = [d.route for d in info.deliveries if d.route]
    return TrackedEmail(
        id=info.id,
        status=info.status,
        received=info.processed,
        sent=info.sent,
        subject=info.subject,
        sender_ip=info.remote_ip,
        route=routes[0] if routes else None,
        attachments=bool(info.attachments),
        from_env=info.from_env,
        from_hdr=info.from_hdr,
        to=info.to,
        spam_score=info.spam.score,
        detection_level=info.spam.detection_level,
    )


def _unwrap(data: Any, what: str) -> Mapping[str, Any]:
    """Return the one item of an envelope ``{"data": [item]}``, or ``data`` itself."""
    if isinstance(data, Mapping) and "data" in data and isinstance(data["data"], list):
        items = data["data"]
        if len(items) != 1:
            raise ValueError(
                f"{what} envelope must hold exactly one item in 'data', has {len(items)}"
            )
        data = items[0]
        if isinstance(data, Mapping) and isinstance(data.get("trackedEmails"), list):
            tracked = data["trackedEmails"]
            if len(tracked) != 1:
                raise ValueError(
                    f"search result must hold exactly one tracked email, has {len(tracked)}"
                )
            data = tracked[0]
    if not isinstance(data, Mapping):
        raise ValueError(f"{what} must be a JSON object")
    return data


def parse_message(data: Any, *, default_id: str = "example") -> Message:
    """Return the message described by ``data`` (any shape in the module docstring).

    ``default_id`` is used when the document gives no ``id`` (handy in inline
    examples). Raises ValueError with a plain message when the shape is wrong.
    """
    if isinstance(data, Mapping) and data and set(data) <= {"info", "summary"}:
        info_data = data.get("info")
        summary_data = data.get("summary")
    else:
        info_data, summary_data = data, None
    info = None
    if info_data is not None:
        item = dict(_unwrap(info_data, "message info"))
        item.setdefault("id", default_id)
        info = MessageInfo.parse(item)
    summary = None
    if summary_data is not None:
        item = dict(_unwrap(summary_data, "search summary"))
        item.setdefault("id", info.id if info is not None else default_id)
        summary = TrackedEmail.parse(item)
    if summary is None and info is None:
        raise ValueError("message needs message info, a search summary, or both")
    if summary is None:
        assert info is not None
        summary = summary_from_info(info)
    return Message(summary, info)


def unknown_info_keys(data: Any) -> list[str]:
    """Return top-level keys of a message-info item that Mimecast never sends (typos)."""
    if isinstance(data, Mapping) and data and set(data) <= {"info", "summary"}:
        data = data.get("info")
    if data is None:
        return []
    try:
        item = _unwrap(data, "info")
    except ValueError:
        return []
    return [k for k in item if k not in INFO_KEYS]


def read_json(path: Path) -> Any:
    """Read a JSON file.

    Raises:
        UserError: the file cannot be read or is not valid JSON (located).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError.single(f"cannot read file: {exc}", file=str(path)) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError.single(
            f"invalid JSON: {exc.msg}", file=str(path), line=exc.lineno, column=exc.colno
        ) from None
    except RecursionError:
        raise UserError.single("invalid JSON: nested too deeply", file=str(path)) from None


def load_message(path: Path, summary_path: Path | None = None) -> Message:
    """Load a message from a JSON file, optionally with a separate search summary file.

    Raises:
        UserError: a file is unreadable, not JSON, or not a message.
    """
    data = read_json(path)
    if summary_path is not None:
        data = {"info": data, "summary": read_json(summary_path)}
    try:
        return parse_message(data, default_id=path.stem)
    except ValueError as exc:
        raise UserError.single(str(exc), file=str(path)) from None
