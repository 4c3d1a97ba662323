"""TLS trust: ``ca_bundle`` adds CAs to the default trust, ``ca_bundle_only`` trusts it alone.

A real HTTPS server on 127.0.0.1 with a certificate signed by a CA made for
the test (``openssl``): the client reaches it only when the bundle holding
that CA is configured, either way; without it, verification fails with the
hint to set ``ca_bundle``. Verification is never turned off.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
from pathlib import Path

import httpx
import pytest

from tagger.mimecast.client import MimecastClient, _verify
from tagger.mimecast.endpoints import TOKEN_PATH
from tagger.mimecast.errors import TransportError
from tagger.mimecast.settings import AccountSettings, OAuthCredentials, RetryPolicy
from tests.support.client import run
from tests.support.hostile import TOKEN_ANSWER, Answer, HostileServer, envelope

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A test CA (ca.pem) and a server certificate for 127.0.0.1 signed by it."""
    d = tmp_path_factory.mktemp("pki")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
            "/CN=tagger test CA", "-keyout", "ca.key", "-out", "ca.pem", cwd=d)  # fmt: skip
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
            "-keyout", "server.key", "-out", "server.csr", cwd=d)  # fmt: skip
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-extfile", "san.ext", "-out", "server.pem",
            cwd=d)  # fmt: skip
    return d


def server_context(pki: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki / "server.pem", pki / "server.key")
    return context


def script(seen: object) -> Answer:
    if getattr(seen, "path", "") == TOKEN_PATH:
        return TOKEN_ANSWER
    return Answer.of_json(envelope([{"id": "m-1"}]))


def fetch(url: str, **kw: object) -> str:
    settings = AccountSettings(
        name="tls",
        api_version="2.0",
        base_url=url,
        credentials=OAuthCredentials("tls-client", "tls-secret-value-1"),
        retry=RetryPolicy(max_attempts=1, max_total_s=20),
        **kw,  # type: ignore[arg-type]
    )

    async def scenario() -> str:
        async with MimecastClient(settings) as client:
            return (await client.get_message_info("m-1")).id

    result: str = run(scenario())
    return result


@pytest.mark.parametrize("only", [False, True])
def test_the_bundle_ca_is_trusted_whether_added_or_alone(pki: Path, only: bool) -> None:
    with HostileServer(script, tls=server_context(pki)) as server:
        assert server.url.startswith("https://")
        assert fetch(server.url, ca_bundle=str(pki / "ca.pem"), ca_bundle_only=only) == "m-1"


def test_without_the_bundle_verification_fails_with_a_hint(pki: Path) -> None:
    with (
        HostileServer(script, tls=server_context(pki)) as server,
        pytest.raises(TransportError) as info,
    ):
        fetch(server.url)
    assert "TLS certificate verification failed" in str(info.value)
    assert "ca_bundle" in str(info.value) and not info.value.retryable


def test_a_bundle_adds_to_the_default_cas_and_only_replaces_them(pki: Path) -> None:
    bundle = str(pki / "ca.pem")
    # What the client trusts without a bundle: httpx's defaults.
    defaults = {c["serialNumber"] for c in httpx.create_ssl_context().get_ca_certs()}
    contexts = {}
    for only in (False, True):
        settings = AccountSettings(
            name="tls",
            api_version="2.0",
            base_url="https://127.0.0.1:9",
            credentials=OAuthCredentials("tls-client", "tls-secret-value-1"),
            ca_bundle=bundle,
            **({"ca_bundle_only": True} if only else {}),  # type: ignore[arg-type]
        )
        context = _verify(settings)
        assert isinstance(context, ssl.SSLContext)
        assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
        contexts[only] = context.get_ca_certs()
    alone = contexts[True]
    assert len(alone) == 1 and alone[0]["subject"] == ((("commonName", "tagger test CA"),),)
    added = {c["serialNumber"] for c in contexts[False]}
    assert alone[0]["serialNumber"] in added
    assert defaults and defaults <= added  # nothing trusted by default is lost
