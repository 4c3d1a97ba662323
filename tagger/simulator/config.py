"""Options of the simulator: mailbox, clock-driven arrivals, limits and faults.

Everything is a frozen dataclass so that one configuration value describes a
whole simulated account and can be shared between threads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from tagger.simulator.credentials import DEMO, Credentials
from tagger.simulator.ratelimit import MODES as RATE_LIMIT_MODES

# Endpoint keys used for rate limits and statistics.
TOKEN = "token"  # noqa: S105 - an endpoint name, not a secret
SEARCH = "search"
INFO = "info"
LIST_TAGS = "list"
APPLY_TAG = "apply"
SEARCH_TAG = "search_tag"
API_ENDPOINTS = (SEARCH, INFO, LIST_TAGS, APPLY_TAG, SEARCH_TAG)
ENDPOINTS = (TOKEN, *API_ENDPOINTS)

# (limit, window seconds) per endpoint: generous, so only tests that ask for
# throttling see it.
DEFAULT_RATE_LIMITS: Mapping[str, tuple[int, float]] = {
    SEARCH: (300, 60.0),
    INFO: (3000, 60.0),
    LIST_TAGS: (300, 60.0),
    APPLY_TAG: (3000, 60.0),
    SEARCH_TAG: (300, 60.0),
    TOKEN: (60, 60.0),
}

# Results per search, silently capped like the real service's (whose cap is not
# documented): deliberately not tagger's configured default, which must not matter.
DEFAULT_SEARCH_CAP = 100
# ``tagger simulate`` (what a new user runs, and ``tagger demo``) caps at the
# value the shipped config.example.yaml expects (window.search_cap), so a first
# run does not warn search_cap_mismatch about a server the user cannot change.
SHIPPED_SEARCH_CAP = 500
SEARCH_CAP_MODES = ("oldest", "newest", "random")

# The Smart Tag tree of the simulated account, by path. Parents are created
# implicitly, so "Security/Phishing" also defines "Security".
DEFAULT_TAGS: tuple[str, ...] = (
    "Security/Phishing",
    "Security/Spoofing",
    "Security/Suspicious attachments",
    "Security/High spam delivered",
    "Security/Impersonation",
    "Bulk/Greymail",
    "Bulk/Newsletters",
    "Compliance/Legal",
    "Compliance/Finance",
    "Compliance/Outbound sensitive files",
    "Compliance/Litigation hold",
    "Review/Needs triage",
    "Review/False positive",
)


@dataclass(frozen=True, slots=True)
class SimPaths:
    """Request path of each endpoint (the Smart Tags ones are assumed)."""

    token: str = "/oauth/token"  # noqa: S105 - a path
    search: str = "/api/message-finder/search"
    info: str = "/api/message-finder/get-message-info"
    list_tags: str = "/api/data-retention/get-smart-tags"
    apply_tag: str = "/api/data-retention/apply-smart-tag"
    search_tag: str = "/api/data-retention/search-smart-tag"
    stats: str = "/_sim/stats"

    def by_path(self) -> dict[str, str]:
        """Return ``{path: endpoint key}`` for the authenticated endpoints and the token."""
        return {
            self.token: TOKEN,
            self.search: SEARCH,
            self.info: INFO,
            self.list_tags: LIST_TAGS,
            self.apply_tag: APPLY_TAG,
            self.search_tag: SEARCH_TAG,
        }


@dataclass(frozen=True, slots=True)
class FaultConfig:
    """Fractions (0..1) of API requests that fail on purpose, drawn from a seeded RNG.

    ``error_5xx`` answers 500 or 503 without executing the call; ``drop``
    closes the connection without any response, also without executing;
    ``malformed_json`` executes the call and then answers 200 with a truncated
    body; ``slow`` adds ``slow_ms`` before answering normally. The token
    endpoint is exempt unless ``include_token``; ``/_sim/stats`` always is.
    Raises ``ValueError`` if a fraction is outside 0..1 or they sum past 1.
    """

    error_5xx: float = 0.0
    drop: float = 0.0
    malformed_json: float = 0.0
    slow: float = 0.0
    slow_ms: int = 2000
    seed: int = 0
    include_token: bool = False

    def __post_init__(self) -> None:
        fractions = (self.error_5xx, self.drop, self.malformed_json, self.slow)
        if any(not 0.0 <= f <= 1.0 for f in fractions) or sum(fractions) > 1.0 + 1e-9:
            raise ValueError("fault fractions must be within 0..1 and sum to at most 1")
        if self.slow_ms < 0:
            raise ValueError("slow_ms must not be negative")


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    """Everything that defines one simulated Mimecast account and its server.

    ``start_time`` (aware datetime) fixes the clock reading the mailbox is
    generated against; None means "now" when the simulator is created. The
    same ``seed`` and ``start_time`` always yield the same mailbox.
    ``search_cap`` (0: none) silently truncates each search answer, keeping
    the ``search_cap_mode`` ones: ``oldest``, ``newest`` or ``random``.
    ``strict_search`` refuses searches that set none of from, to, subject,
    senderIP and messageId (``err_validation_blank``), as the real service might.
    Raises ``ValueError`` on nonsensical values.
    """

    host: str = "127.0.0.1"
    port: int = 0
    seed: int = 1
    messages: int = 200
    history_hours: float = 6.0
    start_time: datetime | None = None
    arrival_rate_per_min: float = 0.0
    search_cap: int = DEFAULT_SEARCH_CAP
    search_cap_mode: str = "oldest"
    late_fraction: float = 0.0
    late_delay_s: float = 120.0
    token_lifetime_s: float = 1800.0
    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    max_concurrency: int = 0
    rate_limits: Mapping[str, tuple[int, float]] = field(
        default_factory=lambda: dict(DEFAULT_RATE_LIMITS)
    )
    # How the rate-limit headers read (tagger.simulator.ratelimit.MODES).
    rate_limit_mode: str = "leaky"
    faults: FaultConfig = FaultConfig()
    credentials: Credentials = DEMO
    tags: tuple[str, ...] = DEFAULT_TAGS
    list_page_size: int = 10
    max_page_size: int = 500
    paths: SimPaths = SimPaths()
    max_clock_skew_s: float = 900.0
    keepalive_timeout_s: float = 30.0
    strict_search: bool = False

    def __post_init__(self) -> None:
        if self.messages < 0 or self.search_cap < 0 or self.list_page_size < 1:
            raise ValueError("messages and search_cap (0: none) must be >= 0, list_page_size >= 1")
        if self.search_cap_mode not in SEARCH_CAP_MODES:
            raise ValueError(f"search_cap_mode must be one of {', '.join(SEARCH_CAP_MODES)}")
        if not 0.0 <= self.late_fraction <= 1.0:
            raise ValueError("late_fraction must be within 0..1")
        if self.history_hours < 0 or self.arrival_rate_per_min < 0 or self.max_concurrency < 0:
            raise ValueError("history_hours, arrival_rate_per_min, max_concurrency must be >= 0")
        if self.start_time is not None and self.start_time.tzinfo is None:
            raise ValueError("start_time must be timezone-aware")
        if self.rate_limit_mode not in RATE_LIMIT_MODES:
            raise ValueError(f"rate_limit_mode must be one of {', '.join(RATE_LIMIT_MODES)}")
        for key, (limit, window) in self.rate_limits.items():
            if key not in ENDPOINTS or limit < 1 or window <= 0:
                raise ValueError(f"bad rate limit for {key!r}: need a known endpoint, limit >= 1")

    def rate_limit(self, endpoint: str) -> tuple[int, float]:
        """Return ``(limit, window_s)`` for an endpoint key (defaults fill gaps)."""
        return self.rate_limits.get(endpoint, DEFAULT_RATE_LIMITS[endpoint])
