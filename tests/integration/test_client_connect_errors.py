"""Errors that say where and how: an unreachable server, and https:// against plain HTTP.

Real sockets on 127.0.0.1: a port nothing listens on, and a plain-HTTP
server addressed as ``https://``. Each message names the URL and the
account and says what to fix; a TLS protocol error is never retried, and a
connection that cannot be opened is retried only briefly.
"""

from __future__ import annotations

import socket
import time

import pytest

from tagger.engine.candidate import Failure
from tagger.mimecast.client import MimecastClient
from tagger.mimecast.endpoints import TOKEN_PATH
from tagger.mimecast.errors import TransportError
from tagger.mimecast.retry import MAX_CONNECT_ATTEMPTS
from tagger.mimecast.settings import AccountSettings, OAuthCredentials, RetryPolicy
from tests.support.client import run
from tests.support.hostile import Answer, HostileServer


def closed_port() -> int:
    """Return a loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def attempt(url: str) -> tuple[TransportError, int, float]:
    """Call the API once at ``url``; return the error, the requests sent and the time taken."""
    settings = AccountSettings(
        name="branch-office",
        api_version="2.0",
        base_url=url,
        credentials=OAuthCredentials("client-id", "secret-value-never-shown"),
        retry=RetryPolicy(max_attempts=6, max_total_s=60, base_delay_s=0.05, max_delay_s=0.2),
    )

    async def scenario() -> tuple[TransportError, int]:
        async with MimecastClient(settings) as client:
            with pytest.raises(TransportError) as info:
                await client.get_message_info("m-1")
            return info.value, client.stats.endpoint(TOKEN_PATH).requests

    started = time.monotonic()
    error, requests = run(scenario())
    return error, requests, time.monotonic() - started


def test_unreachable_server_names_url_and_account_and_stops_retrying_soon() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    error, requests, _ = attempt(url)
    text = str(error)
    assert f"cannot connect to {url}{TOKEN_PATH}" in text
    assert "for account 'branch-office'" in text
    assert "check base_url (or region)" in text
    assert "secret-value-never-shown" not in text
    # Three attempts, not the six the retry policy would allow.
    assert requests == MAX_CONNECT_ATTEMPTS < 6
    # Transient: the next cycle tries again, the message is not the problem.
    failure = Failure.of(error, "apply failed")
    assert failure.transient and not failure.account_level


def test_https_against_a_plain_http_port_says_the_server_does_not_speak_tls() -> None:
    with HostileServer(lambda seen: Answer.of_json({})) as server:
        assert server.url.startswith("http://")
        url = server.url.replace("http://", "https://")
        error, requests, _ = attempt(url)
    text = str(error)
    assert f"TLS error at {url}{TOKEN_PATH} for account 'branch-office'" in text
    assert "WRONG_VERSION_NUMBER" in text
    assert "this server does not speak TLS on that port" in text
    assert not error.retryable
    assert requests == 1  # never retried
    # It concerns the whole account: a message is never set aside for it.
    assert Failure.of(error, "apply failed").account_level
