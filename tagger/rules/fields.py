"""The catalogue of fields a rule condition can test.

Every field is normalised from a message-finder search result
(:class:`~tagger.mimecast.models.TrackedEmail`) and/or get-message-info
(:class:`~tagger.mimecast.models.MessageInfo`). A field whose ``source`` is
``"search"`` is read from the search result; when the search result lacks it
and message info is present, it falls back to the info. A field whose source
is ``"info"`` needs get-message-info, so a rule using one makes the daemon
fetch it.

Field values are plain Python: ``str``, ``float``, ``bool``, aware
``datetime``, :mod:`ipaddress` addresses, or tuples of those for list fields.
``None`` means absent.
"""

from __future__ import annotations

from collections.abc import Mapping

from tagger.rules.field_model import Field, Kind, Source
from tagger.rules.fields_content import CONTENT_FIELDS
from tagger.rules.fields_message import MESSAGE_FIELDS

__all__ = ["FIELDS", "Field", "Kind", "Source", "field_names"]

FIELDS: Mapping[str, Field] = {f.name: f for f in MESSAGE_FIELDS + CONTENT_FIELDS}


def field_names() -> tuple[str, ...]:
    """Return every field name in catalogue order."""
    return tuple(FIELDS)
