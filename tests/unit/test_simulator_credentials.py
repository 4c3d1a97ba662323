"""The simulator's credentials never show in their repr."""

from __future__ import annotations

from tagger.simulator import SimulatorConfig
from tagger.simulator.credentials import DEMO


def test_secrets_do_not_show_in_repr() -> None:
    text = repr(DEMO) + repr(SimulatorConfig())
    for secret in (DEMO.secret_key, DEMO.client_secret, DEMO.app_key):
        assert secret not in text
