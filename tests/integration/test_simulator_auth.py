"""Simulator authentication: API 1.0 HMAC signatures and API 2.0 OAuth tokens, over real HTTP."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from tagger.simulator import Simulator, SimulatorConfig
from tagger.simulator.credentials import DEMO

INFO = "/api/message-finder/get-message-info"
SEARCH = "/api/message-finder/search"


def hmac_headers(
    path: str, when: float | None = None, secret: str = DEMO.secret_key
) -> dict[str, str]:
    """Sign a request the documented way (independent of the simulator's code)."""
    date = datetime.fromtimestamp(time.time() if when is None else when, UTC)
    hdr_date = date.strftime("%a, %d %b %Y %H:%M:%S") + " UTC"
    req_id = str(uuid.uuid4())
    data = ":".join([hdr_date, req_id, path, DEMO.app_key]).encode()
    sig = base64.b64encode(hmac.new(base64.b64decode(secret), data, hashlib.sha1).digest())
    return {
        "Authorization": f"MC {DEMO.access_key}:{sig.decode()}",
        "x-mc-app-id": DEMO.app_id,
        "x-mc-date": hdr_date,
        "x-mc-req-id": req_id,
    }


def get_token(client: httpx.Client) -> str:
    form = {
        "client_id": DEMO.client_id,
        "client_secret": DEMO.client_secret,
        "grant_type": "client_credentials",
    }
    r = client.post("/oauth/token", data=form)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] > 0
    token: str = body["access_token"]
    return token


def error_codes(r: httpx.Response) -> list[str]:
    return [e["code"] for item in r.json()["fail"] for e in item["errors"]]


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(SimulatorConfig(seed=3, messages=50)) as s:
        yield s


@pytest.fixture()
def client(sim: Simulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.url, timeout=10) as c:
        yield c


def test_correct_hmac_signature_is_accepted(client: httpx.Client) -> None:
    r = client.post(SEARCH, json={"data": [{}]}, headers=hmac_headers(SEARCH))
    assert r.status_code == 200
    assert r.json()["fail"] == []
    assert len(r.json()["data"][0]["trackedEmails"]) == 50


def test_signature_for_another_path_is_refused(client: httpx.Client) -> None:
    r = client.post(SEARCH, json={"data": [{}]}, headers=hmac_headers(INFO))
    assert r.status_code == 401
    assert error_codes(r) == ["err_xdk_invalid_signature"]


def test_wrong_secret_is_refused(client: httpx.Client) -> None:
    other = base64.b64encode(b"some other key").decode()
    r = client.post(SEARCH, json={"data": [{}]}, headers=hmac_headers(SEARCH, secret=other))
    assert r.status_code == 401
    assert error_codes(r) == ["err_xdk_invalid_signature"]


@pytest.mark.parametrize("missing", ["x-mc-date", "x-mc-req-id", "x-mc-app-id", "Authorization"])
def test_missing_header_is_refused(client: httpx.Client, missing: str) -> None:
    headers = hmac_headers(SEARCH)
    del headers[missing]
    r = client.post(SEARCH, json={"data": [{}]}, headers=headers)
    assert r.status_code == 401
    assert error_codes(r)


def test_stale_date_is_refused_but_small_skew_is_not(client: httpx.Client) -> None:
    stale = client.post(
        SEARCH, json={"data": [{}]}, headers=hmac_headers(SEARCH, time.time() - 16 * 60)
    )
    assert stale.status_code == 401
    assert error_codes(stale) == ["err_xdk_invalid_signature"]
    skewed = client.post(
        SEARCH, json={"data": [{}]}, headers=hmac_headers(SEARCH, time.time() - 60)
    )
    assert skewed.status_code == 200


def test_unknown_access_key_and_app_id_are_refused(client: httpx.Client) -> None:
    headers = hmac_headers(SEARCH)
    headers["Authorization"] = headers["Authorization"].replace(DEMO.access_key, "nobody")
    r = client.post(SEARCH, json={"data": [{}]}, headers=headers)
    assert r.status_code == 401
    headers = hmac_headers(SEARCH)
    headers["x-mc-app-id"] = "another-app"
    r = client.post(SEARCH, json={"data": [{}]}, headers=headers)
    assert r.status_code == 401
    assert error_codes(r) == ["err_developer_key"]


def test_oauth_token_works_and_wrong_client_is_refused(client: httpx.Client) -> None:
    token = get_token(client)
    r = client.post(SEARCH, json={"data": [{}]}, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    bad = {"client_id": DEMO.client_id, "client_secret": "nope", "grant_type": "client_credentials"}
    r = client.post("/oauth/token", data=bad)
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_client"
    assert "nope" not in r.text
    r = client.post("/oauth/token", data={**bad, "grant_type": "password"})
    assert r.status_code == 400


def test_unknown_token_is_refused(client: httpx.Client) -> None:
    r = client.post(SEARCH, json={"data": [{}]}, headers={"Authorization": "Bearer made-up"})
    assert r.status_code == 401
    assert error_codes(r) == ["token_invalid"]


def test_expired_token_gives_token_expired_and_a_new_one_works() -> None:
    with Simulator(SimulatorConfig(messages=5)) as sim, httpx.Client(base_url=sim.url) as c:
        old = get_token(c)
        sim.expire_tokens()
        r = c.post(SEARCH, json={"data": [{}]}, headers={"Authorization": f"Bearer {old}"})
        assert r.status_code == 401
        assert error_codes(r) == ["token_expired"]
        new = get_token(c)
        r = c.post(SEARCH, json={"data": [{}]}, headers={"Authorization": f"Bearer {new}"})
        assert r.status_code == 200
        assert sim.stats()["tokens_issued"] == 2


def test_token_lifetime_is_enforced_by_the_clock() -> None:
    now = [1_900_000_000.0]
    config = SimulatorConfig(messages=5, token_lifetime_s=60)
    with Simulator(config, clock=lambda: now[0]) as sim, httpx.Client(base_url=sim.url) as c:
        token = get_token(c)
        auth = {"Authorization": f"Bearer {token}"}
        assert c.post(SEARCH, json={"data": [{}]}, headers=auth).status_code == 200
        now[0] += 61
        r = c.post(SEARCH, json={"data": [{}]}, headers=auth)
        assert r.status_code == 401
        assert error_codes(r) == ["token_expired"]


def test_expired_key_binding_gives_418_for_api_1_only() -> None:
    with Simulator(SimulatorConfig(messages=5)) as sim, httpx.Client(base_url=sim.url) as c:
        token = get_token(c)
        sim.expire_key_binding()
        r = c.post(SEARCH, json={"data": [{}]}, headers=hmac_headers(SEARCH))
        assert r.status_code == 418
        assert error_codes(r) == ["err_xdk_binding_expired"]
        r = c.post(SEARCH, json={"data": [{}]}, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200
