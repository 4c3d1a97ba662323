"""The last word before a call goes out: a clearance checked at the moment of sending.

A call that may be withdrawn (an apply: the kill switch, a paused rule, an
audit record that could not be written) carries a :data:`Clearance`. The
exchange enters it once the call has its turn at the rate-limit gate and its
connection slot, immediately before the request is sent, and leaves it when
the answer (or the failure) is in: every wait in front of the send happens
before the check, none after it. Entering it raises :class:`Withheld` when
the call must not be sent; nothing is sent then, and the call is not retried.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

__all__ = ["Clearance", "Withheld"]


class Withheld(Exception):
    """The call was not sent: its clearance was refused at the moment of sending.

    ``reason`` says why in the operator's words; ``rail`` is True when a rail
    (kill switch, paused rule) held it, False when something it depends on
    failed (the audit record could not be written).
    """

    def __init__(self, reason: str, *, rail: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.rail = rail


# Called right before the send; the context it returns is left once the
# exchange is over. Entering it raises Withheld when the call may not go out.
Clearance = Callable[[], AbstractContextManager[None]]
