"""Searches scoped by the account's domains when the service refuses a search by time window alone.

The pure parts (which criteria, merging) are checked directly; the refusal,
learning and tagging end to end against the simulator's strict mode over HTTP
on 127.0.0.1, with ``tagger once`` as a real process and a real state file.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from tagger.cli.main import build_parser
from tagger.cli.simulate import build_config
from tagger.engine.scope import (
    DomainsRequired,
    SearchScope,
    has_criteria,
    merge_outcomes,
    refuses_bare,
    scoped_criteria,
    scoped_search,
)
from tagger.engine.search import SearchOutcome
from tagger.engine.window import Window
from tagger.mimecast.criteria import SearchCriteria
from tagger.mimecast.errors import ApiFailure, FailError, FailItem, ServerError
from tagger.mimecast.models import TrackedEmail


def _email(mid: str) -> TrackedEmail:
    email = TrackedEmail.parse({"id": mid, "status": "archived"})
    assert email is not None
    return email


def _outcome(*ids: str, calls: int = 1, splits: int = 0) -> SearchOutcome:
    return SearchOutcome(emails={i: _email(i) for i in ids}, calls=calls, splits=splits)


def _refusal(code: str = "err_validation_blank") -> ApiFailure:
    item = FailItem(errors=(FailError(code, "must not be empty"),))
    return ApiFailure("refused", failures=(item,), code=code)


class FakeSearch:
    """A search that refuses bare criteria when ``strict``, and records what it was asked."""

    def __init__(self, strict: bool) -> None:
        self.strict = strict
        self.asked: list[SearchCriteria] = []

    async def __call__(self, criteria: SearchCriteria) -> SearchOutcome:
        self.asked.append(criteria)
        if self.strict and not has_criteria(criteria):
            raise _refusal()
        return _outcome(f"{criteria.to or ''}>{criteria.from_ or ''}", "shared")


# --- which criteria ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("routes", "expected"),
    [
        (("inbound",), [("a.com", None), ("b.org", None)]),
        (("outbound",), [(None, "a.com"), (None, "b.org")]),
        (("internal",), [(None, "a.com"), (None, "b.org")]),
        (
            ("inbound", "internal"),
            [("a.com", None), (None, "a.com"), ("b.org", None), (None, "b.org")],
        ),
        ((), [("a.com", None), (None, "a.com"), ("b.org", None), (None, "b.org")]),
        (("all",), [("a.com", None), (None, "a.com"), ("b.org", None), (None, "b.org")]),
        (("external",), [("a.com", None), (None, "a.com"), ("b.org", None), (None, "b.org")]),
    ],
)
def test_scoped_criteria_follow_the_route(
    routes: tuple[str, ...], expected: list[tuple[str | None, str | None]]
) -> None:
    criteria = SearchCriteria(routes=routes, attachments=True, statuses=("archived",))
    scoped = scoped_criteria(criteria, ["a.com", "b.org"])
    assert [(c.to, c.from_) for c in scoped] == expected
    # Everything else is kept.
    assert {(c.routes, c.attachments, c.statuses) for c in scoped} == {
        (routes, True, ("archived",))
    }


def test_scoped_criteria_are_sent_as_track_and_trace_options() -> None:
    (inbound,) = scoped_criteria(SearchCriteria(routes=("inbound",)), ["a.com"])
    request = inbound.to_request(None, None)
    assert request["advancedTrackAndTraceOptions"] == {"to": "a.com"}


@pytest.mark.parametrize(
    "criteria",
    [
        SearchCriteria(from_="x@a.com"),
        SearchCriteria(to="a.com"),
        SearchCriteria(subject="invoice"),
        SearchCriteria(sender_ip="192.0.2.1"),
        SearchCriteria(message_id="<m@x>"),
    ],
)
def test_only_criteria_less_searches_count_as_bare(criteria: SearchCriteria) -> None:
    assert has_criteria(criteria)
    assert not has_criteria(SearchCriteria(routes=("inbound",), attachments=True, url="x"))


def test_a_validation_failure_is_a_refusal_other_errors_are_not() -> None:
    assert refuses_bare(_refusal("err_validation_blank"))
    assert refuses_bare(_refusal("err_validation_null"))
    assert refuses_bare(ApiFailure("request refused", code="err_validation_invalid_value"))
    assert not refuses_bare(_refusal("err_developer_key"))
    assert not refuses_bare(ServerError("boom", code="err_validation_blank"))


def test_merged_outcomes_are_de_duplicated_and_summed() -> None:
    window = Window(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, 1, tzinfo=UTC))
    first = _outcome("m1", "m2", calls=3, splits=1)
    first.saturated.append(window)
    second = _outcome("m2", "m3", calls=2, splits=2)
    merged = merge_outcomes([first, second])
    assert sorted(merged.emails) == ["m1", "m2", "m3"]
    assert merged.emails["m2"] is first.emails["m2"]
    assert (merged.calls, merged.splits, merged.saturated) == (5, 3, [window])
    assert merge_outcomes([]).calls == 0


# --- when to scope -------------------------------------------------------------------


def test_auto_learns_the_refusal_once_and_then_scopes_straight_away(
    capsys: pytest.CaptureFixture[str],
) -> None:
    search = FakeSearch(strict=True)
    scope = SearchScope("acct", ("a.com",), "auto")
    bare = SearchCriteria(routes=("inbound",))
    first = asyncio.run(scoped_search(search, bare, scope))
    assert [c.to for c in search.asked] == [None, "a.com"]
    assert first.calls == 2  # the refused call counts
    assert scope.scoped and scope.refusal_code == "err_validation_blank"
    search.asked.clear()
    second = asyncio.run(scoped_search(search, bare, scope))
    assert [c.to for c in search.asked] == ["a.com"]
    assert second.calls == 1
    assert sorted(second.emails) == ["a.com>", "shared"]


def test_auto_does_not_scope_when_the_service_accepts_a_bare_window() -> None:
    search = FakeSearch(strict=False)
    scope = SearchScope("acct", ("a.com",), "auto")
    asyncio.run(scoped_search(search, SearchCriteria(), scope))
    asyncio.run(scoped_search(search, SearchCriteria(), scope))
    assert search.asked == [SearchCriteria(), SearchCriteria()]
    assert not scope.scoped


def test_domains_mode_always_scopes_and_merges_both_directions() -> None:
    search = FakeSearch(strict=False)
    scope = SearchScope("acct", ("a.com", "b.org"), "domains")
    outcome = asyncio.run(scoped_search(search, SearchCriteria(), scope))
    assert [(c.to, c.from_) for c in search.asked] == [
        ("a.com", None),
        (None, "a.com"),
        ("b.org", None),
        (None, "b.org"),
    ]
    assert outcome.calls == 4
    assert len(outcome.emails) == 5  # four distinct plus one found by every search


def test_a_query_with_criteria_goes_unchanged() -> None:
    search = FakeSearch(strict=True)
    scope = SearchScope("acct", ("a.com",), "domains")
    asyncio.run(scoped_search(search, SearchCriteria(subject="invoice"), scope))
    assert search.asked == [SearchCriteria(subject="invoice")]


def test_a_refusal_without_domains_asks_for_them_and_is_remembered() -> None:
    search = FakeSearch(strict=True)
    scope = SearchScope("acct", (), "auto")
    with pytest.raises(DomainsRequired, match="set domains: on account 'acct'") as info:
        asyncio.run(scoped_search(search, SearchCriteria(), scope))
    assert info.value.code == "err_validation_blank"
    assert len(search.asked) == 1
    with pytest.raises(DomainsRequired):
        asyncio.run(scoped_search(search, SearchCriteria(), scope))
    assert len(search.asked) == 1  # no second refused call


def test_other_failures_are_not_taken_for_a_refusal() -> None:
    async def failing(criteria: SearchCriteria) -> SearchOutcome:
        raise _refusal("err_developer_key")

    scope = SearchScope("acct", ("a.com",), "auto")
    with pytest.raises(ApiFailure):
        asyncio.run(scoped_search(failing, SearchCriteria(), scope))
    assert not scope.scoped


# --- the simulator's strict mode -------------------------------------------------------


@pytest.mark.parametrize(("argv", "strict"), [(["--strict-search"], True), ([], False)])
def test_tagger_simulate_has_a_strict_search_option(argv: list[str], strict: bool) -> None:
    args = build_parser().parse_args(["simulate", *argv])
    config, _ = build_config(args)
    assert config.strict_search is strict


# --- end to end: tagger once against the strict simulator -----------------------------
