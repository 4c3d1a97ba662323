"""The secret scan of the client fault tests catches a leak."""

from __future__ import annotations

from tagger.simulator import DEMO
from tests.support.client import WRONG_SECRET_KEY, SecretWatch, watch

__all__ = ["watch"]  # the fixture that fails a test on a leaked secret


def test_the_secret_scan_itself_catches_a_leak(watch: SecretWatch) -> None:
    assert watch.leaks([f"token refresh failed for {DEMO.client_secret}"]) != []
    assert watch.leaks([f"key={WRONG_SECRET_KEY}"]) != []
    assert watch.leaks(["nothing to see here"]) == []
