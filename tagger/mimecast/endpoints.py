"""Default request paths of the Mimecast endpoints tagger calls.

The message-finder paths are documented; the Smart Tags paths are assumed
(no public source names them yet), which is why every path can be
overridden per account in the configuration.
"""

from __future__ import annotations

from dataclasses import dataclass

TOKEN_PATH = "/oauth/token"  # noqa: S105 - a URL path, not a password
SEARCH_PATH = "/api/message-finder/search"
MESSAGE_INFO_PATH = "/api/message-finder/get-message-info"
LIST_SMART_TAGS_PATH = "/api/data-retention/get-smart-tags"
APPLY_SMART_TAG_PATH = "/api/data-retention/apply-smart-tag"
SEARCH_SMART_TAG_PATH = "/api/data-retention/search-smart-tag"


@dataclass(frozen=True, slots=True)
class EndpointPaths:
    """The path of each endpoint, relative to the account's base URL.

    Raises ``ValueError`` on construction if a path does not start with ``/``.
    """

    token: str = TOKEN_PATH
    search: str = SEARCH_PATH
    message_info: str = MESSAGE_INFO_PATH
    list_smart_tags: str = LIST_SMART_TAGS_PATH
    apply_smart_tag: str = APPLY_SMART_TAG_PATH
    search_smart_tag: str = SEARCH_SMART_TAG_PATH

    def __post_init__(self) -> None:
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if not isinstance(value, str) or not value.startswith("/") or "?" in value:
                raise ValueError(
                    f"endpoint path {name}={value!r} must be a path starting with '/'"
                    " (no query string)"
                )
