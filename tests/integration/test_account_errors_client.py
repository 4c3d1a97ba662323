"""Account errors at the client against the simulator in process.

Answers for another message are refused; key-binding expiry in fail items is fatal.
"""

from __future__ import annotations

import pytest

from tagger.mimecast.client import MimecastClient
from tagger.mimecast.errors import KeyBindingExpired, MalformedResponse
from tagger.simulator import Simulator, SimulatorConfig
from tests.support.client import SecretWatch, run, settings_for, watch

__all__ = ["watch"]  # the fixture that fails a test on a leaked secret


def test_client_rejects_info_for_another_id(watch: SecretWatch) -> None:
    with Simulator(SimulatorConfig(seed=54, messages=5)) as sim:
        target = sim.messages()[0].id
        sim.misanswer_info(1)

        async def scenario() -> str:
            async with MimecastClient(settings_for(sim.url, "2.0")) as client:
                try:
                    await client.get_message_info(target)
                except MalformedResponse as exc:
                    assert exc.retryable
                    return "refused"
                return "accepted"

        assert run(scenario()) == "refused"


def test_key_binding_expiry_in_fail_items_is_fatal(watch: SecretWatch) -> None:
    with Simulator(SimulatorConfig(seed=55, messages=3)) as sim:
        target = sim.messages()[0].id
        sim.expire_key_binding(in_fail_item=True)

        async def scenario() -> None:
            async with MimecastClient(settings_for(sim.url, "1.0")) as client:
                await client.get_message_info(target)

        with pytest.raises(KeyBindingExpired) as caught:
            run(scenario())
        calls = sim.stats()["endpoints"]["info"]["by_status"]
    err = watch.raised(caught.value)
    assert isinstance(err, KeyBindingExpired) and not err.retryable
    assert err.code == "err_xdk_binding_expired" and err.status == 200
    assert calls == {"200": 1}  # not retried
