"""The TLS trust of an account with a ``ca_bundle``: added to the defaults, or alone.

Without a bundle the client trusts what httpx trusts by default (the Mozilla
CA list shipped as ``certifi``, or ``SSL_CERT_FILE``). A bundle *adds* its
CAs to that and to the system store, so a TLS-inspecting proxy's CA can be
trusted without losing the public CAs (which a ``base_url`` that bypasses the
proxy, or a failover region, still needs). ``ca_bundle_only`` trusts the
bundle alone. Certificates and host names are always verified.
"""

from __future__ import annotations

import ssl

import httpx


def tls_context(bundle: str, *, only: bool = False) -> ssl.SSLContext:
    """Return a verifying SSL context trusting ``bundle`` (a PEM file of CA certificates).

    ``only``: trust the bundle alone; otherwise trust it in addition to
    httpx's default CAs and the system store. Raises ``OSError`` when the file
    cannot be read and ``ssl.SSLError`` when it holds no usable certificate.
    """
    if only:
        return ssl.create_default_context(cafile=bundle)
    context = httpx.create_ssl_context()
    context.load_default_certs(ssl.Purpose.SERVER_AUTH)
    context.load_verify_locations(cafile=bundle)
    # Both defaults already say so; stated because nothing may ever turn them off.
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    return context
