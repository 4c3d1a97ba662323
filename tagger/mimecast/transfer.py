"""Reading one HTTP answer within bounds: a size cap on the decoded body and a total deadline.

httpx's own timeout applies to each read, so a server that drips a byte every
few seconds is never timed out by it, and ``response.content`` holds a body of
any size (a small gzip bomb decodes to gigabytes). :func:`read_body` streams
the body and stops as soon as the decoded bytes pass the cap; the caller runs
the whole exchange under :func:`exchange_limit` seconds of ``asyncio.timeout``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from tagger.mimecast.envelope import NotJson, decode_json
from tagger.mimecast.errors import MalformedResponse, ResponseTooLarge

MIB = 1024 * 1024
# Never start an exchange with (almost) no time: a call at its deadline gets this much.
MIN_EXCHANGE_S = 0.05


# What :meth:`Reply.decoded` gives for a body that is not JSON.
NOT_JSON: Any = object()


@dataclass(frozen=True, slots=True)
class Reply:
    """One HTTP answer, read whole (within the size cap).

    Holds the status, headers, body and request id, the request as last sent
    (its auth headers included: never log it) and how many times the auth
    flow resent it (1 after a bearer token was refreshed on a 401).
    """

    status: int
    headers: httpx.Headers
    body: bytes
    request_id: str | None
    request: httpx.Request | None = None
    resent: int = 0

    def decoded(self) -> tuple[Any, str]:
        """Return the decoded JSON body and ``""``, or :data:`NOT_JSON` and why it is not JSON."""
        try:
            return decode_json(self.body), ""
        except NotJson as exc:
            return NOT_JSON, str(exc)


def exchange_limit(timeout_s: float, remaining_s: float) -> float:
    """Return how long one HTTP exchange may take, body included, in seconds.

    At most ``timeout_s`` (the account's ``timeout_s``), and never beyond the
    ``remaining_s`` of the call's ``retry.max_total_s``. Pure.
    """
    return max(min(timeout_s, remaining_s), MIN_EXCHANGE_S)


def size_text(size: int) -> str:
    """Return a byte count as people read it (``64 MB``, ``512 KB``, ``17 bytes``)."""
    if size >= MIB:
        return f"{size / MIB:g} MB"
    if size >= 1024:
        return f"{size / 1024:g} KB"
    return f"{size} bytes"


async def read_body(
    response: httpx.Response, max_bytes: int, *, endpoint: str, request_id: str | None
) -> bytes:
    """Read a streamed response's decoded body, at most ``max_bytes`` of it; closes the response.

    Counts the bytes after content decoding (gzip, deflate, brotli), so a
    compressed bomb is stopped within one network chunk of the cap. Raises
    :class:`ResponseTooLarge` past the cap (naming the setting to raise) and
    :class:`MalformedResponse` (retryable) when the content encoding is broken.
    """
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > max_bytes:
                raise ResponseTooLarge(
                    f"response body larger than {size_text(max_bytes)}: stopped reading"
                    " (raise the account's max_response_mb if the service really sends"
                    " answers this large)",
                    limit="max_response_mb",
                    endpoint=endpoint,
                    status=response.status_code,
                    request_id=request_id,
                )
            chunks.append(chunk)
    except httpx.DecodingError:
        raise MalformedResponse(
            "response body could not be decoded (broken content encoding)",
            endpoint=endpoint,
            status=response.status_code,
            request_id=request_id,
            retryable=True,
        ) from None
    finally:
        await response.aclose()
    return b"".join(chunks)
