"""Compile one rule mapping into a :class:`~tagger.rules.model.CompiledRule`.

The JSON Schema has already described the structure; this module turns the
data into closures and reports what the schema cannot see (unknown fields,
operators that do not fit a field, operands, regexes, durations, examples).
It never raises on bad input: problems go to the :class:`Problems` and a
rule that cannot be built yields None.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from tagger.config.durations import parse_duration as parse_config_duration
from tagger.mimecast.criteria import SearchCriteria
from tagger.rules.conditions import ConditionCompiler, leaf_label
from tagger.rules.examples_load import compile_examples
from tagger.rules.fields import FIELDS
from tagger.rules.lists_read import ListCatalog
from tagger.rules.lists_ref import list_hashes
from tagger.rules.meta import META_KEYS, compile_meta
from tagger.rules.model import CompiledRule
from tagger.rules.nodes import Leaf, Node, always_true, group, leaf_node
from tagger.rules.nodes import Path as NodePath
from tagger.rules.operands import Options
from tagger.rules.operators import OPERATORS
from tagger.yamldoc.problems import Problems
from tagger.yamldoc.source import format_path

# Longer than any retention a message-finder search can reach; larger values
# are surely typos (``700d`` for ``70d``).
MAX_DURATION = timedelta(days=3650)

RULE_KEYS = (
    "id",
    "description",
    "enabled",
    "mode",
    "max_applies",
    "priority",
    "stop",
    "schedule",
    "search",
    "match",
    "unless",
    "tags",
    "examples",
    *META_KEYS,
)
SEARCH_KEYS = (
    "route",
    "status",
    "attachments",
    "from",
    "to",
    "subject",
    "senderIP",
    "url",
    "lookback",
)


def parse_duration(text: Any) -> timedelta:
    """Parse a rule duration (``lookback``, ``schedule``) such as ``1h30m``.

    The config's syntax, but positive and sane. Raises ValueError when the
    text is not a duration, is zero, or exceeds ten years; the message says
    which.
    """
    if not isinstance(text, str):
        raise ValueError(f"{text!r} is not a duration (write e.g. 90s, 15m, 2h, 7d or 1h30m)")
    value = parse_config_duration(text)
    if not value:
        raise ValueError(f"duration {text!r} is zero")
    if value > MAX_DURATION:
        raise ValueError(f"duration {text!r} is longer than ten years")
    return value


def _recheck(field: str, op: str, value: Any, path: NodePath) -> Node:
    """A search re-check: like a condition, but a value the message lacks passes."""
    spec = FIELDS[field]
    operator = OPERATORS[op]
    leaf = Leaf(spec, operator, operator.parse(value, spec, Options()), value, absent_passes=True)
    return leaf_node(leaf, path, "search: " + leaf_label(leaf))


def _search_node(criteria: SearchCriteria, path: NodePath) -> Node:
    """Build the re-checks of the search criteria a message can be held against."""
    checks: list[Node] = []
    routes = set(criteria.routes)
    if routes and "all" not in routes:
        if "external" in routes:
            routes |= {"inbound", "outbound"}
        checks.append(_recheck("route", "in", sorted(routes), (*path, "route")))
    if criteria.statuses:
        checks.append(_recheck("status", "in", list(criteria.statuses), (*path, "status")))
    if criteria.attachments:
        checks.append(_recheck("attachments.present", "equals", True, (*path, "attachments")))
    if criteria.from_:
        parts = [
            _recheck(f, "contains", criteria.from_, (*path, "from"))
            for f in ("sender.address", "from.address")
        ]
        checks.append(group("any", parts, (*path, "from")))
    if criteria.to:
        checks.append(_recheck("recipients.address", "contains", criteria.to, (*path, "to")))
    if criteria.subject:
        checks.append(_recheck("subject", "contains", criteria.subject, (*path, "subject")))
    if criteria.sender_ip:
        checks.append(_recheck("sender.ip", "equals", criteria.sender_ip, (*path, "senderIP")))
    if not checks:
        return always_true(path)
    return group("all", checks, path)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def compile_criteria(
    data: Any, path: NodePath, reporter: Problems
) -> tuple[SearchCriteria, Any, bool]:
    """Return (criteria, lookback or None, ok) for a rule's ``search`` mapping."""
    search = data if isinstance(data, dict) else {}
    ok = True
    routes = search.get("route", [])
    statuses = search.get("status", [])
    routes = routes if isinstance(routes, list) else [routes]
    statuses = statuses if isinstance(statuses, list) else [statuses]
    sender_ip = _str(search.get("senderIP"))
    if sender_ip is not None:
        try:
            ipaddress.ip_address(sender_ip)
        except ValueError:
            reporter.add((*path, "senderIP"), f"{sender_ip!r} is not an IP address", at_value=True)
            sender_ip, ok = None, False
    lookback = None
    if "lookback" in search:
        try:
            lookback = parse_duration(search["lookback"])
        except ValueError as exc:
            reporter.add((*path, "lookback"), str(exc), at_value=True)
            ok = False
    attachments = search.get("attachments")
    criteria = SearchCriteria(
        routes=tuple(sorted({str(r) for r in routes})),
        statuses=tuple(sorted({str(s) for s in statuses})),
        attachments=attachments if isinstance(attachments, bool) else None,
        from_=_str(search.get("from")),
        to=_str(search.get("to")),
        subject=_str(search.get("subject")),
        sender_ip=sender_ip,
        url=_str(search.get("url")),
    )
    return criteria, lookback, ok


def compile_rule(
    data: Any,
    path: NodePath,
    reporter: Problems,
    base_dir: Path,
    lists: ListCatalog | None = None,
) -> CompiledRule | None:
    """Compile the rule mapping ``data`` found at ``path`` of the reporter's document.

    ``base_dir`` is where example fixture paths are resolved from; ``lists``
    the shared lists its ``in_list`` tests may name. Returns None when the
    rule has errors (all of them reported).
    """
    if not isinstance(data, dict):
        return None  # the schema reports the wrong type
    before = reporter.error_count()
    conditions = ConditionCompiler(reporter, lists)
    given_id = data.get("id")
    rule_id = given_id if isinstance(given_id, str) else f"rules[{path[-1]}]"
    criteria, lookback, _ = compile_criteria(data.get("search"), (*path, "search"), reporter)
    search = _search_node(criteria, (*path, "search"))
    match = (
        conditions.compile(data["match"], (*path, "match"))
        if "match" in data
        else always_true((*path, "match"))
    )
    unless = conditions.compile(data["unless"], (*path, "unless")) if "unless" in data else None
    every = _schedule(data.get("schedule"), (*path, "schedule"), reporter)
    raw_tags = data.get("tags")
    tags = tuple(t for t in raw_tags if isinstance(t, str)) if isinstance(raw_tags, list) else ()
    examples = compile_examples(
        data.get("examples"), (*path, "examples"), rule_id, tags, reporter, base_dir
    )
    errors = reporter.error_count()
    if errors > before or match is None or ("unless" in data and unless is None):
        return None
    mode = data.get("mode", "enforce")
    priority = data.get("priority", 0)
    used = search.fields() | match.fields() | (unless.fields() if unless else frozenset())
    return CompiledRule(
        id=rule_id,
        description=data.get("description", "") if isinstance(data.get("description"), str) else "",
        enabled=bool(data.get("enabled", True)),
        mode="audit" if mode == "audit" else "enforce",
        priority=priority if isinstance(priority, int) else 0,
        stop=bool(data.get("stop", False)),
        tags=tags,
        criteria=criteria,
        lookback=lookback,
        schedule=every,
        search=search,
        match=match,
        unless=unless,
        needs_info=any(FIELDS[name].source == "info" for name in used),
        content_hash=_content_hash(data, rule_id, criteria, lookback, match, unless, tags),
        tag_sources=_tag_sources(reporter, path, len(tags)),
        examples=examples,
        meta=compile_meta(data, tuple(path), reporter),
        max_applies=_max_applies(data.get("max_applies")),
    )


def _content_hash(
    data: dict[Any, Any],
    rule_id: str,
    criteria: SearchCriteria,
    lookback: timedelta | None,
    match: Node,
    unless: Node | None,
    tags: tuple[str, ...],
) -> str:
    """Return the SHA-256 of what the rule does, in a canonical form (hex digits).

    Given the rule mapping and its compiled parts. What changes the hash
    changes the rule: a promoted rule whose hash changes goes back to audit.
    Description, examples, metadata and apply limits are left out. A rule
    testing shared lists also hashes each list's kind and entries (unless
    the list sets ``hash: false``); a rule without lists hashes as before.
    """
    canonical = {
        "id": rule_id,
        "mode": data.get("mode", "enforce"),
        "priority": data.get("priority", 0),
        "stop": bool(data.get("stop", False)),
        "enabled": bool(data.get("enabled", True)),
        "schedule": data.get("schedule"),
        "search": criteria.key(),
        "lookback": lookback.total_seconds() if lookback else None,
        "match": match.canonical(),
        "unless": unless.canonical() if unless else None,
        "tags": list(tags),
    }
    lists = list_hashes((match, unless))
    if lists:
        canonical["lists"] = lists
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _schedule(value: Any, path: NodePath, reporter: Problems) -> timedelta | None:
    """Return the rule's own poll interval: None when not set or wrong (reported at ``path``)."""
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        reporter.add(path, str(exc), at_value=True)
        return None


def _tag_sources(
    reporter: Problems, path: NodePath, count: int
) -> tuple[tuple[str, int, int, str], ...]:
    """Return (file, line, column, path) of each of the ``count`` tags of the rule at ``path``."""
    doc = reporter.doc
    return tuple(
        (doc.file, *doc.value_position((*path, "tags", i)), format_path((*path, "tags", i)))
        for i in range(count)
    )


def _max_applies(section: object) -> tuple[int | None, int | None]:
    """Return the rule's own ``(per_cycle, per_day)`` apply limits (None: not set).

    The schema has checked the types. Kept out of the content hash: a limit
    changes how much a rule may apply, not what it matches, so changing it
    does not send a promoted rule back to audit.
    """
    if not isinstance(section, dict):
        return (None, None)
    per_cycle, per_day = section.get("per_cycle"), section.get("per_day")
    return (
        per_cycle if isinstance(per_cycle, int) else None,
        per_day if isinstance(per_day, int) else None,
    )
