"""Authentication as httpx flows: HMAC signing per request, bearer refresh inside the flow."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tagger.mimecast.auth import HmacSigner, TokenCache, sign_hmac
from tagger.mimecast.client import MimecastClient
from tagger.mimecast.errors import AuthenticationError
from tagger.mimecast.httpauth import BearerAuth, HmacAuth
from tagger.mimecast.settings import AccountSettings, HmacCredentials, OAuthCredentials
from tests.support.client import FakeTime, envelope, run

PATH = "/api/message-finder/get-message-info"
MOMENT = datetime(2015, 11, 24, 12, 50, 11, tzinfo=UTC)


def _hmac_creds() -> HmacCredentials:
    secret = base64.b64encode(b"unit-secret-key-bytes").decode("ascii")
    return HmacCredentials(
        access_key="unit-access-key",
        secret_key=secret,
        app_id="unit-app-id",
        app_key="unit-app-key",
    )


class _Unread(httpx.AsyncByteStream):
    """A body that records whether anyone read it."""

    def __init__(self) -> None:
        self.read = False
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        self.read = True
        yield b"x" * 4096

    async def aclose(self) -> None:
        self.closed = True


def _client(handler: Any, ft: FakeTime, **kw: Any) -> MimecastClient:
    settings = AccountSettings(
        name="unit",
        api_version="2.0",
        base_url="http://127.0.0.1:9",
        credentials=OAuthCredentials("unit-client", "unit-secret-value"),
        **kw,
    )
    return MimecastClient(
        settings,
        clock=ft.clock,
        sleep=ft.sleep,
        uniform=lambda: 0.0,
        transport=httpx.MockTransport(handler),
    )


def test_hmac_flow_signs_the_endpoint_path_below_a_base_path() -> None:
    creds = _hmac_creds()
    auth = HmacAuth(HmacSigner(creds, lambda: MOMENT), "/gateway/")
    request = httpx.Request("POST", "https://example.test/gateway" + PATH)
    flow = auth.sync_auth_flow(request)
    sent = next(flow)
    date, req_id = sent.headers["x-mc-date"], sent.headers["x-mc-req-id"]
    signature = sign_hmac(creds.secret_key, date, req_id, PATH, creds.app_key)
    assert date == "Tue, 24 Nov 2015 12:50:11 UTC"
    assert sent.headers["Authorization"] == f"MC {creds.access_key}:{signature}"
    assert sent.headers["x-mc-app-id"] == creds.app_id


def test_bearer_auth_refuses_a_sync_client() -> None:
    async def fetch() -> tuple[str, float]:
        return "unit-token-value", 1800.0

    auth = BearerAuth(TokenCache(fetch, lambda: 0.0))
    with pytest.raises(RuntimeError, match="AsyncClient"):
        next(auth.sync_auth_flow(httpx.Request("POST", "https://example.test/")))


def test_401_refreshes_once_inside_the_flow_without_reading_the_rejected_body() -> None:
    ft = FakeTime()
    tokens = iter(["first-token-value", "second-token-value"])
    bodies: list[_Unread] = []
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            return httpx.Response(200, json={"access_token": next(tokens), "expires_in": 1800})
        seen.append(request.headers["Authorization"])
        if request.headers["Authorization"] == "Bearer first-token-value":
            bodies.append(_Unread())
            return httpx.Response(401, headers={"Content-Encoding": "gzip"}, stream=bodies[-1])
        return httpx.Response(200, json=envelope([{"id": "m"}]))

    async def scenario() -> MimecastClient:
        # One slot: the refresh must not wait for the slot its own call holds.
        async with _client(handler, ft, concurrency=1) as client:
            info = await asyncio.wait_for(client.get_message_info("m"), timeout=5)
            assert info.id == "m"
            return client

    client = run(scenario())
    assert seen == ["Bearer first-token-value", "Bearer second-token-value"]
    assert bodies[0].closed and not bodies[0].read
    stats = client.stats.endpoint(PATH)
    assert (stats.requests, stats.retries, stats.token_refreshes, stats.failed) == (2, 0, 1, 0)
    assert client.stats.tokens_issued == 2


def test_401_after_a_refresh_is_a_final_authentication_error() -> None:
    ft = FakeTime()
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            return httpx.Response(200, json={"access_token": f"token-{len(calls)}-value"})
        calls.append(1)
        return httpx.Response(401, json={})

    async def scenario() -> None:
        async with _client(handler, ft) as client:
            await client.get_message_info("m")

    with pytest.raises(AuthenticationError) as caught:
        run(scenario())
    assert "rejected again right after a refresh" in str(caught.value)
    assert caught.value.status == 401 and not caught.value.retryable
    assert len(calls) == 2


def test_token_expired_in_fail_items_fetches_a_new_token_for_the_next_attempt() -> None:
    ft = FakeTime()
    issued: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            issued.append(f"token-{len(issued)}-value")
            return httpx.Response(200, json={"access_token": issued[-1], "expires_in": 1800})
        if request.headers["Authorization"] == "Bearer token-0-value":
            fail = [{"key": {}, "errors": [{"code": "token_expired", "message": "expired"}]}]
            return httpx.Response(200, json={"meta": {"status": 200}, "data": [], "fail": fail})
        return httpx.Response(200, json=envelope([{"id": "m"}]))

    async def scenario() -> None:
        async with _client(handler, ft) as client:
            assert (await client.get_message_info("m")).id == "m"

    run(scenario())
    assert issued == ["token-0-value", "token-1-value"]
