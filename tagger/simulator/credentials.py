"""Credentials the simulator accepts, and the documented demo set.

The demo credentials are deliberately fake and public: they only ever open
the local simulator. They let the example configuration, the demo and the
tests run without a Mimecast account.

==================  ===========================================
client_id           ``tagger-demo-client``
client_secret       ``tagger-demo-secret-not-real``
access_key          ``tagger-demo-access-key``
secret_key          base64 of ``tagger-demo-hmac-key-not-a-real-secret``
app_id              ``tagger-demo-app-id``
app_key             ``tagger-demo-app-key``
==================  ===========================================
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Credentials:
    """One API 2.0 application (client id/secret) and one API 1.0 key set.

    Secrets are excluded from ``repr`` so they never end up in logs or
    exception text. ``secret_key`` is base64, as Mimecast issues it; raises
    ``ValueError`` on construction if it does not decode.
    """

    access_key: str
    secret_key: str = field(repr=False)
    app_id: str
    app_key: str = field(repr=False)
    client_id: str
    client_secret: str = field(repr=False)

    def __post_init__(self) -> None:
        try:
            base64.b64decode(self.secret_key, validate=True)
        except (binascii.Error, ValueError):
            # The value itself is a secret: say what is wrong, never what it is.
            raise ValueError("secret_key must be base64-encoded") from None

    def secret_key_bytes(self) -> bytes:
        """Return the decoded HMAC key."""
        return base64.b64decode(self.secret_key)


DEMO = Credentials(
    access_key="tagger-demo-access-key",
    secret_key=base64.b64encode(b"tagger-demo-hmac-key-not-a-real-secret").decode("ascii"),
    app_id="tagger-demo-app-id",
    app_key="tagger-demo-app-key",
    client_id="tagger-demo-client",
    client_secret="tagger-demo-secret-not-real",  # noqa: S106 - documented fake
)
