"""Per-message field values, computed lazily and at most once per message.

One :class:`Context` is built per message and shared by every rule, so a
field used by fifty rules is extracted once. With message info absent, a
field that needs it has the value :data:`UNKNOWN` (three-valued pre-filter
logic); with info present a missing field is ``None`` (absent).
"""

from __future__ import annotations

from typing import Any, Final

from tagger.mimecast.models import Message
from tagger.rules.fields import FIELDS


class _Unknown:
    """The value of a field that needs message info when there is none."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __bool__(self) -> bool:
        raise TypeError("UNKNOWN has no truth value; compare with 'is UNKNOWN'")


UNKNOWN: Final = _Unknown()
_MISS: Final = object()


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, tuple) and not value)


def _fold(value: Any) -> Any:
    if isinstance(value, str):
        return value.casefold()
    if isinstance(value, tuple):
        return tuple(v.casefold() if isinstance(v, str) else v for v in value)
    return value


FOLDED_PREFIX = "~"
"""Cache key prefix for a field's case-folded value: ``"~subject"``."""


class Context:
    """The field values of one message, cached.

    Given a :class:`~tagger.mimecast.models.Message`. ``value(name)`` returns
    a field's value (``None`` when absent, :data:`UNKNOWN` when it needs the
    info the message lacks); ``folded(name)`` the same with text case-folded.
    ``cache`` maps a field name (or ``"~" + name`` for the folded value) to
    what was computed; compiled conditions read it directly for speed and
    call :meth:`load` on a miss.
    """

    __slots__ = ("cache", "info", "summary")

    def __init__(self, message: Message) -> None:
        self.summary = message.summary
        self.info = message.info
        self.cache: dict[str, Any] = {}

    def value(self, name: str) -> Any:
        """Return the value of field ``name`` (which must be in the catalogue)."""
        found = self.cache.get(name, _MISS)
        return self.load(name) if found is _MISS else found

    def folded(self, name: str) -> Any:
        """Return the value of field ``name`` with its text case-folded."""
        return self.value(FOLDED_PREFIX + name)

    def load(self, key: str) -> Any:
        """Compute, cache and return the value for a cache key (see ``cache``)."""
        if key.startswith(FOLDED_PREFIX):
            value = self.value(key[len(FOLDED_PREFIX) :])
            found = value if value is UNKNOWN else _fold(value)
        else:
            found = self._extract(key)
        self.cache[key] = found
        return found

    def _extract(self, name: str) -> Any:
        field = FIELDS[name]
        if field.base is not None and field.derive is not None:
            base = self.value(field.base)
            return base if base is None or base is UNKNOWN else field.derive(base)
        value: Any = None
        if field.summary is not None:
            value = field.summary(self.summary)
            # Search-level values win; only a missing one falls back to info,
            # so the pre-filter and the full evaluation read the same value.
            if not _empty(value):
                return value
        if field.info is None:
            return value
        if self.info is None:
            return UNKNOWN
        return field.info(self.info)
