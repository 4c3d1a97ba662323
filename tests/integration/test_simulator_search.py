"""Simulator message-finder search: every criterion, the cap, late indexing, the clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tagger.simulator import SimMessage, Simulator, SimulatorConfig
from tagger.simulator.credentials import DEMO

SEARCH = "/api/message-finder/search"
INFO = "/api/message-finder/get-message-info"
T0 = 1_900_000_000.0


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Api:
    """A bearer-token client for one simulator."""

    def __init__(self, sim: Simulator) -> None:
        self.http = httpx.Client(base_url=sim.url, timeout=10)
        form = {
            "client_id": DEMO.client_id,
            "client_secret": DEMO.client_secret,
            "grant_type": "client_credentials",
        }
        token = self.http.post("/oauth/token", data=form).json()["access_token"]
        self.http.headers["Authorization"] = f"Bearer {token}"

    def post(self, path: str, body: Any) -> dict[str, Any]:
        r = self.http.post(path, json=body)
        assert r.status_code == 200, r.text
        result: dict[str, Any] = r.json()
        return result

    def search(self, **criteria: Any) -> list[str]:
        body = self.post(SEARCH, {"data": [criteria]})
        assert body["fail"] == [], body["fail"]
        return [t["id"] for t in body["data"][0]["trackedEmails"]]


def stamp(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(SimulatorConfig(seed=11, messages=300, search_cap=0)) as s:
        yield s


@pytest.fixture(scope="module")
def api(sim: Simulator) -> Iterator[Api]:
    a = Api(sim)
    yield a
    a.http.close()


def expect(sim: Simulator, keep: Callable[[SimMessage], bool]) -> list[str]:
    ids = [m.id for m in sim.messages() if keep(m)]
    assert ids, "the criterion should match something in 300 messages"
    return ids


def test_no_criteria_returns_everything_oldest_first(sim: Simulator, api: Api) -> None:
    ids = api.search()
    assert ids == [m.id for m in sorted(sim.messages(), key=lambda m: m.received)]
    assert len(ids) == 300


def test_window_bounds_are_inclusive(sim: Simulator, api: Api) -> None:
    times = sorted({m.received for m in sim.messages()})
    lo, hi = times[50], times[120]
    got = api.search(start=stamp(lo), end=stamp(hi))
    assert got == expect(sim, lambda m: lo <= m.received <= hi)


def _first(sim: Simulator, profile: str) -> SimMessage:
    return next(m for m in sim.messages() if m.profile == profile)


CRITERIA: list[
    tuple[str, Callable[[Simulator], tuple[dict[str, Any], Callable[[SimMessage], bool]]]]
] = [
    ("route inbound", lambda s: ({"route": ["inbound"]}, lambda m: m.route == "inbound")),
    ("route external", lambda s: ({"route": ["external"]}, lambda m: m.route != "internal")),
    ("route all", lambda s: ({"route": ["all"]}, lambda m: True)),
    (
        "route internal+outbound",
        lambda s: ({"route": ["internal", "outbound"]}, lambda m: m.route != "inbound"),
    ),
    (
        "status",
        lambda s: ({"status": ["held", "rejected"]}, lambda m: m.status in ("held", "rejected")),
    ),
    ("attachments", lambda s: ({"attachments": True}, lambda m: len(m.attachments) > 0)),
    ("no attachments", lambda s: ({"attachments": False}, lambda m: not m.attachments)),
    (
        "from domain, any case",
        lambda s: (
            {
                "advancedTrackAndTraceOptions": {
                    "from": _first(s, "phishing").from_env.domain.upper()
                }
            },
            lambda m: (
                _first(s, "phishing").from_env.domain
                in (m.from_env.email.split("@")[1], m.from_hdr.email.split("@")[1])
            ),
        ),
    ),
    (
        "from address",
        lambda s: (
            {"advancedTrackAndTraceOptions": {"from": _first(s, "newsletter").from_hdr.email}},
            lambda m: (
                _first(s, "newsletter").from_hdr.email in (m.from_env.email, m.from_hdr.email)
            ),
        ),
    ),
    (
        "to group",
        lambda s: (
            {"advancedTrackAndTraceOptions": {"to": "Legal@Example.com"}},
            lambda m: any(p.email == "legal@example.com" for p in m.to + m.cc),
        ),
    ),
    (
        "subject substring",
        lambda s: (
            {"advancedTrackAndTraceOptions": {"subject": "INVOICE"}},
            lambda m: "invoice" in m.subject.lower(),
        ),
    ),
    (
        "sender IP",
        lambda s: (
            {"advancedTrackAndTraceOptions": {"senderIP": _first(s, "malware").sender_ip}},
            lambda m: m.sender_ip == _first(s, "malware").sender_ip,
        ),
    ),
    (
        "url substring",
        lambda s: (
            {"advancedTrackAndTraceOptions": {"url": "/unsubscribe"}},
            lambda m: any("/unsubscribe" in u for u in m.urls),
        ),
    ),
    (
        "message id",
        lambda s: (
            {"messageId": _first(s, "legal").message_id},
            lambda m: m.message_id == _first(s, "legal").message_id,
        ),
    ),
    (
        "combined",
        lambda s: (
            {"route": ["inbound"], "attachments": True, "status": ["archived"]},
            lambda m: m.route == "inbound" and bool(m.attachments) and m.status == "archived",
        ),
    ),
]


@pytest.mark.parametrize("name,case", CRITERIA, ids=[c[0] for c in CRITERIA])
def test_each_criterion_is_honoured(sim: Simulator, api: Api, name: str, case: Any) -> None:
    criteria, keep = case(sim)
    wanted = expect(sim, keep)
    assert api.search(**criteria) == wanted
    assert len(wanted) < 300 or name == "route all"


def test_cap_returns_the_first_messages() -> None:
    with Simulator(SimulatorConfig(seed=2, messages=120, search_cap=25)) as sim:
        api = Api(sim)
        ordered = [m.id for m in sorted(sim.messages(), key=lambda m: m.received)]
        assert api.search() == ordered[:25]
        # A window holding fewer messages than the cap is returned whole.
        times = sorted(m.received for m in sim.messages())
        window = api.search(start=stamp(times[100]), end=stamp(times[-1]))
        tail = [
            m.id
            for m in sorted(sim.messages(), key=lambda m: m.received)
            if m.received >= times[100]
        ]
        assert len(tail) < 25
        assert window == tail


@pytest.mark.parametrize(
    "criteria,code",
    [
        ({"start": "yesterday"}, "err_validation_invalid_date"),
        ({"route": ["sideways"]}, "err_validation_invalid_value"),
        ({"attachments": "yes"}, "err_validation_invalid_value"),
        (
            {"start": "2026-11-23T10:05:00+0000", "end": "2026-11-23T10:00:00+0000"},
            "err_validation_invalid_date_range",
        ),
    ],
)
def test_invalid_criteria_give_a_fail_item_echoing_the_key(
    api: Api, criteria: dict[str, Any], code: str
) -> None:
    body = api.post(SEARCH, {"data": [criteria]})
    assert body["data"] == []
    [item] = body["fail"]
    assert item["key"] == criteria
    assert item["errors"][0]["code"] == code


@pytest.mark.parametrize("body", [{}, {"data": []}, {"data": [{}, {}]}, {"data": "x"}])
def test_data_must_hold_exactly_one_item(api: Api, body: Any) -> None:
    result = api.post(SEARCH, body)
    assert result["data"] == []
    assert result["fail"][0]["errors"][0]["code"].startswith("err_validation_")


def test_non_json_body_is_a_400(api: Api) -> None:
    r = api.http.post(
        SEARCH, content=b"{'data': [{}]}", headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 400
    assert r.json()["fail"][0]["errors"][0]["code"] == "err_invalid_json"


def test_late_messages_appear_after_the_delay() -> None:
    clock = Clock(T0)
    config = SimulatorConfig(seed=5, messages=0, late_fraction=0.5, late_delay_s=120)
    with Simulator(config, clock=clock) as sim:
        api = Api(sim)
        added = sim.add_messages(40)
        late = {m.id for m in added if m.indexed > m.received}
        assert 5 < len(late) < 35
        first = api.search()
        assert set(first) == {m.id for m in added} - late
        # get-message-info already knows a late message: only search lags behind.
        info = api.post(INFO, {"data": [{"id": next(iter(late))}]})
        assert info["fail"] == []
        clock.now += 121
        assert set(api.search()) == {m.id for m in added}


def test_messages_from_the_future_are_invisible() -> None:
    clock = Clock(T0)
    with Simulator(SimulatorConfig(messages=10), clock=clock) as sim:
        api = Api(sim)
        new = sim.add_messages(3)
        clock.now -= 30
        ids = api.search()
        assert len(ids) == 10 and not {m.id for m in new} & set(ids)
        body = api.post(INFO, {"data": [{"id": new[0].id}]})
        assert body["fail"][0]["errors"][0]["code"] == "err_message_not_found"


def test_arrivals_follow_the_clock_deterministically() -> None:
    def run() -> list[str]:
        clock = Clock(T0)
        config = SimulatorConfig(seed=9, messages=20, arrival_rate_per_min=60, search_cap=0)
        with Simulator(config, clock=clock) as sim:
            api = Api(sim)
            assert len(api.search()) == 20
            clock.now += 300
            ids = api.search(start=stamp(T0))
            assert all(T0 <= m.received <= clock.now for m in sim.messages()[20:])
            return ids

    first = run()
    assert 200 < len(first) < 400  # Poisson, 60 per minute over 5 minutes
    assert run() == first


def test_search_on_a_large_mailbox_returns_exactly_each_window() -> None:
    """Bisecting a large mailbox still answers every window exactly (speed: bench/)."""
    with Simulator(SimulatorConfig(messages=30_000, history_hours=24, search_cap=5000)) as sim:
        api = Api(sim)
        now = sim.now()
        for k in range(20):
            lo, hi = now - 3600 - k * 60, now - 3000 - k * 60
            got = api.search(start=stamp(lo), end=stamp(hi))
            inside = [m for m in sim.messages() if int(lo) <= m.received <= int(hi)]
            want = {m.id for m in inside if m.indexed <= now}
            assert set(got) == want
            assert len(got) == len(want) > 0
