"""Authentication as httpx applies it: one :class:`httpx.Auth` per API version.

:class:`HmacAuth` (API 1.0) signs every request as it is sent: a fresh
``x-mc-date`` and ``x-mc-req-id`` and the ``MC accessKey:signature`` header.
:class:`BearerAuth` (API 2.0) adds the current OAuth2 token and expresses
"an expired token is refreshed once and the request resent" inside its flow:
on a 401 it forgets the rejected token (unless another call already replaced
it), waits for the one shared refresh and sends the same request again. A
second 401 goes back to the caller, which reports it.

The token cache's :class:`asyncio.Lock` is what makes concurrent calls share
one refresh. The client runs on one event loop (every entry point drives it
with ``asyncio.run``), so :class:`BearerAuth` is for ``httpx.AsyncClient``
only and refuses a synchronous client instead of refreshing without a lock.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator

import httpx

from tagger.mimecast.auth import HmacSigner, TokenCache
from tagger.mimecast.errors import MimecastError


class TokenUnavailable(Exception):
    """Obtaining a token failed for good (the token request's own retries are spent).

    ``error`` is the :class:`MimecastError` to report; retrying the call that
    needed the token would only repeat the token request's retries.
    """

    def __init__(self, error: MimecastError) -> None:
        super().__init__(str(error))
        self.error = error


class ApiAuth(httpx.Auth):
    """What the requester asks of either scheme, beyond httpx's flow (no-ops by default)."""

    async def ready(self) -> None:
        """Make sure the next request can be authenticated without waiting (fetch a due token).

        Raises :class:`TokenUnavailable` when that fails for good.
        """

    def reject(self, request: httpx.Request) -> None:
        """Forget the credential ``request`` carried: the service said it has expired."""


class HmacAuth(ApiAuth):
    """Signs each request for API 1.0; given the signer and the base URL's path prefix.

    The signed URI is the endpoint path (``/api/...``): a path prefix of the
    configured base URL is not part of it.
    """

    def __init__(self, signer: HmacSigner, base_path: str = "") -> None:
        self._signer = signer
        self._prefix = base_path.rstrip("/")

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Add the signature headers (fresh date and request id) and send the request once."""
        path = request.url.path
        if self._prefix and path.startswith(self._prefix + "/"):
            path = path[len(self._prefix) :]
        request.headers.update(self._signer.headers(path))
        yield request


class BearerAuth(ApiAuth):
    """Adds the OAuth2 token; on a 401 refreshes it once and resends (see the module docstring).

    Given the :class:`TokenCache` that fetches tokens (the fetch registers each
    token with the log redactor and has its own retries).
    """

    def __init__(self, tokens: TokenCache) -> None:
        self._tokens = tokens

    def __repr__(self) -> str:
        return f"BearerAuth({self._tokens!r})"

    async def ready(self) -> None:
        """Fetch a token now if none is valid (outside any connection slot)."""
        await self._token()

    def reject(self, request: httpx.Request) -> None:
        """Forget the token ``request`` was sent with, unless it was replaced already."""
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme == "Bearer" and token:
            self._tokens.invalidate(token)

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        """Refuse: the shared refresh is guarded by an asyncio lock, not a thread lock."""
        raise RuntimeError("BearerAuth refreshes tokens asynchronously: use httpx.AsyncClient")

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """Send ``request`` with the current token; after a 401, once more with a fresh one.

        Raises :class:`TokenUnavailable` when no token can be obtained.
        """
        token = await self._token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code != 401:
            return
        await _drop_body(response)
        self._tokens.invalidate(token)
        token = await self._token()
        request.headers["Authorization"] = f"Bearer {token}"
        yield request

    async def _token(self) -> str:
        try:
            return await self._tokens.get()
        except MimecastError as err:
            raise TokenUnavailable(err) from None


async def _drop_body(response: httpx.Response) -> None:
    """Close a rejected answer's body unread, leaving an empty one in its place.

    httpx reads a response whole before an auth flow's next request goes out;
    this body is never used, and reading it could pass the account's size cap.
    """
    stream = response.stream
    response.stream = httpx.ByteStream(b"")
    if isinstance(stream, httpx.AsyncByteStream):
        await stream.aclose()
