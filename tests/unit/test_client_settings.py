"""Account settings, region resolution, the https-only rule and HMAC signing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from tagger.mimecast.auth import HmacSigner, format_hmac_date, sign_hmac
from tagger.mimecast.endpoints import EndpointPaths
from tagger.mimecast.errors import ConfigurationError
from tagger.mimecast.regions import resolve_base_url
from tagger.mimecast.settings import (
    AccountSettings,
    HmacCredentials,
    OAuthCredentials,
    RetryPolicy,
)

SECRET_KEY = base64.b64encode(b"unit-test-hmac-key-0123456789").decode()
SECRETS = ("oauth-client-secret-xyz", SECRET_KEY, "app-key-secret-abc", "access-key-secret-def")


def _hmac_creds() -> HmacCredentials:
    return HmacCredentials(
        access_key="access-key-secret-def",
        secret_key=SECRET_KEY,
        app_id="app-id-visible",
        app_key="app-key-secret-abc",
    )


@pytest.mark.parametrize(
    ("value", "version", "expected"),
    [
        ("global", "2.0", "https://api.services.mimecast.com"),
        ("UK", "2.0", "https://uk-api.services.mimecast.com"),
        ("us", "2.0", "https://us-api.services.mimecast.com"),
        ("eu", "1.0", "https://eu-api.mimecast.com"),
        ("jer", "1.0", "https://jer-api.mimecast.com"),
        ("za", "1.0", "https://za-api.mimecast.com"),
        ("https://proxy.example.com/mc/", "2.0", "https://proxy.example.com/mc"),
        ("http://127.0.0.1:8080", "2.0", "http://127.0.0.1:8080"),
        ("http://[::1]:8080", "1.0", "http://[::1]:8080"),
        ("http://localhost:1234", "1.0", "http://localhost:1234"),
    ],
)
def test_region_names_and_urls_resolve(value: str, version: str, expected: str) -> None:
    assert resolve_base_url(value, version) == expected


def test_unknown_region_suggests_the_closest_name() -> None:
    with pytest.raises(ValueError, match="did you mean 'global'"):
        resolve_base_url("globl", "2.0")
    # "eu" is an API 1.0 region only.
    with pytest.raises(ValueError, match=r"unknown API 2\.0 region 'eu'"):
        resolve_base_url("eu", "2.0")
    with pytest.raises(ValueError, match="unknown API version"):
        resolve_base_url("global", "3.0")


@pytest.mark.parametrize(
    "url",
    ["http://api.services.mimecast.com", "http://10.0.0.5:80", "ftp://x.example", "https://"],
)
def test_only_https_except_loopback(url: str) -> None:
    with pytest.raises(ValueError):
        resolve_base_url(url, "2.0")


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1::8765", "https://api.example.com:http", "https://api.example.com:99999"],
)
def test_a_malformed_url_is_refused_with_the_url_named(url: str) -> None:
    with pytest.raises(ValueError, match="is not a valid URL"):
        resolve_base_url(url, "2.0")


def test_settings_resolve_region_and_check_credentials_match_version() -> None:
    settings = AccountSettings(
        name="a", api_version="1.0", base_url="de", credentials=_hmac_creds()
    )
    assert settings.base_url == "https://de-api.mimecast.com"
    assert settings.endpoints == EndpointPaths()
    with pytest.raises(ConfigurationError, match=r"API 2\.0 needs client_id"):
        AccountSettings(name="a", api_version="2.0", base_url="us", credentials=_hmac_creds())
    with pytest.raises(ConfigurationError, match="did you mean"):
        AccountSettings(
            name="a",
            api_version="2.0",
            base_url="usa",
            credentials=OAuthCredentials("id", "oauth-client-secret-xyz"),
        )
    with pytest.raises(ValueError, match="must be a path"):
        EndpointPaths(search="api/search")
    with pytest.raises(ConfigurationError):
        RetryPolicy(max_attempts=0)


def test_repr_of_settings_and_credentials_shows_no_secret() -> None:
    oauth = AccountSettings(
        name="a",
        api_version="2.0",
        base_url="global",
        credentials=OAuthCredentials("client-id-visible", "oauth-client-secret-xyz"),
    )
    hmac_settings = AccountSettings(
        name="b", api_version="1.0", base_url="eu", credentials=_hmac_creds()
    )
    texts = [repr(oauth), str(oauth), repr(hmac_settings), str(hmac_settings)]
    texts += [repr(oauth.credentials), repr(hmac_settings.credentials)]
    for text in texts:
        for secret in SECRETS:
            assert secret not in text
    assert "client-id-visible" in repr(oauth) and "app-id-visible" in repr(hmac_settings)
    assert "<redacted>" in repr(hmac_settings)


def test_hmac_signature_matches_the_documented_algorithm() -> None:
    date = "Tue, 24 Nov 2015 12:50:11 UTC"
    request_id = "8a0f4c2e-2b1a-4f57-9d1c-5d6e8f9a0b1c"
    uri = "/api/message-finder/search"
    app_key = "app-key-secret-abc"
    # The seeds' recipe, written out independently of the client.
    data_to_sign = date + ":" + request_id + ":" + uri + ":" + app_key
    digest = hmac.new(base64.b64decode(SECRET_KEY), data_to_sign.encode(), hashlib.sha1).digest()
    expected = base64.b64encode(digest).decode()
    assert sign_hmac(SECRET_KEY, date, request_id, uri, app_key) == expected
    assert sign_hmac(SECRET_KEY, date, request_id, "/api/other", app_key) != expected


def test_hmac_date_format_is_utc_and_locale_free() -> None:
    moment = datetime(2015, 11, 24, 12, 50, 11, tzinfo=UTC)
    assert format_hmac_date(moment) == "Tue, 24 Nov 2015 12:50:11 UTC"
    plus_two = moment.astimezone(timezone(timedelta(hours=2)))
    assert format_hmac_date(plus_two) == "Tue, 24 Nov 2015 12:50:11 UTC"
    assert format_hmac_date(datetime(2026, 1, 4, 0, 0, 5, tzinfo=UTC)) == (
        "Sun, 04 Jan 2026 00:00:05 UTC"
    )


def test_hmac_headers_use_a_fresh_request_id_and_sign_the_path() -> None:
    moment = datetime(2026, 3, 2, 9, 8, 7, tzinfo=UTC)
    signer = HmacSigner(_hmac_creds(), lambda: moment)
    first, second = signer.headers("/api/a"), signer.headers("/api/a")
    assert first["x-mc-req-id"] != second["x-mc-req-id"]
    assert uuid.UUID(first["x-mc-req-id"]).version == 4
    assert first["x-mc-date"] == "Mon, 02 Mar 2026 09:08:07 UTC"
    assert first["x-mc-app-id"] == "app-id-visible"
    signature = sign_hmac(
        SECRET_KEY, first["x-mc-date"], first["x-mc-req-id"], "/api/a", "app-key-secret-abc"
    )
    assert first["Authorization"] == f"MC access-key-secret-def:{signature}"


def test_bad_base64_secret_is_a_clear_configuration_error() -> None:
    bad = "not base64 at all!!"
    with pytest.raises(ConfigurationError, match="not valid base64") as caught:
        HmacCredentials(access_key="a", secret_key=bad, app_id="b", app_key="c")
    assert bad not in str(caught.value) and bad not in repr(caught.value)
    with pytest.raises(ConfigurationError):
        sign_hmac(bad, "d", "r", "/u", "k")
