"""Contract of message shapes: hand-written real-shaped fixtures and the simulator, read alike.

The fixtures under ``tests/fixtures/`` reproduce what real Mimecast responses
look like (components with body parts, keyed ``deliveredMessage``, ``allow`` and
``info`` disagreeing, display-name From headers, the ``descision`` typo,
``symbolGroups``, ``txInfo``/``queueInfo``, null fields, no pagination). They
are served by a tiny HTTP server on 127.0.0.1 and read by the real client; the
simulator's messages are read by the same client. Both must give the field
values a careful reader of the JSON expects, and the simulator must exercise
every field the fixtures do.
"""

from __future__ import annotations

import ipaddress
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tagger.mimecast.client import MimecastClient
from tagger.mimecast.components import PART_NAMES
from tagger.mimecast.criteria import SearchCriteria
from tagger.mimecast.models import Message, MessageInfo, TrackedEmail
from tagger.rules.context import Context
from tagger.rules.fields import FIELDS
from tagger.simulator import Simulator, SimulatorConfig
from tagger.simulator.truth import truth_message
from tests.support.client import SecretWatch, run, settings_for, watch

__all__ = ["watch"]

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
INFO_FILES = sorted((FIXTURES / "message_info").glob("*.json"))
SEARCH_FILE = FIXTURES / "search" / "tracked-emails.json"
PHISH = "eNoVjs1OwzAQhF_F8jlBdtr8ttyCqCoFqUrVM8qxLbEqxUlsjcmgYe6-3agYsv3ZPH"
INVOICE = "eNoVjk1Pg0AQhv8K2TPgLl8F7qSmF0xtmj2b0ZkCEWYJu7aHpv_d1RpvOCbzvPDOZ5wTLhXlcWVsZI"
HELD = "eNoVjk1Pg0AQhv8K2TPgLl8F7qSmF0xtmj2b0ZkCEWYJu7aHpv_d1RpvOCbzvPDOZ5wTLhXlcWVsHD"

# What a careful reader of each fixture's JSON expects, field by field.
EXPECTED: dict[str, dict[str, Any]] = {
    PHISH: {
        "from.address": "payroll@examp1e-hr.com",
        "from.domain": "examp1e-hr.com",
        "from.name": "Payroll Team",
        "sender.domain": "mailer.examp1e-hr.com",
        "sender.name": None,
        "to.address": ("ann.lee@example.com",),
        "recipients.address": ("ann.lee@example.com",),
        "attachments.present": False,
        "attachments.count": 0.0,
        "attachments.extension": (),
        "components.type": (
            "Email Transmission File",
            "Email Primary Body HTML",
            "Email Primary Body Plain Text",
            "Email HTML Body Part",
        ),
        "spf.result": "fail",
        "spf.allow": True,
        "dmarc.result": "fail",
        "dkim.result": "none",
        "rbl.result": None,
        "permitted_sender.result": "none",
        "permitted_sender.allow": True,
        "verdict.decision": "spam",
        "verdict.augmentations": ("lookalike_domain",),
        "route": "inbound",
        "policies.type": ("Anti-Spoofing", "Spam Scanning"),
        "sender.ip": ipaddress.ip_address("192.0.2.77"),
    },
    INVOICE: {
        "from.address": "j.mueller@supplier.example.de",
        "from.domain": "supplier.example.de",
        "from.name": "Jörg Müller",
        "to.address": ("ap@example.com", "finance@example.com"),
        "to.domain": ("example.com",),
        "cc.address": ("carol.white@example.com",),
        "recipients.count": 2.0,
        "attachments.present": True,
        "attachments.count": 1.0,
        "attachments.extension": ("zip",),
        "attachments.name": ("Rechnung-2026-4471.zip",),
        "attachments.mime_type": ("application/zip",),
        "components.name": (
            "transmission.eml",
            "body.htm",
            "body.txt",
            "Rechnung-2026-4471.zip",
        ),
        "verdict.decision": "clean",
        "managed_sender.result": "allow",
        "smart_tags.path": ("Bulk/Greymail",),
        "route": "inbound",
        "spam.detection_level": "relaxed",
    },
    HELD: {
        "from.address": "MAILER-DAEMON",
        "from.domain": None,
        "sender.address": None,
        "sender.domain": None,
        "to.address": (),
        "cc.address": (),
        "subject": None,
        "attachments.count": 1.0,
        "attachments.name": ("Scan_0042.pdf.exe",),
        "attachments.extension": ("exe",),
        "components.type": ("Email Transmission File",),
        "message.size": 4410.0,
        "sender.host": None,
        "spf.result": "unknown",
        "spf.allow": None,
        "dkim.result": None,
        "dmarc.result": None,
        "dmarc.allow": False,
        "rbl.result": "fail",
        "greymail": None,
        "verdict.decision": None,
        "route": "inbound",
        "policies.name": (),
        "smart_tags.path": (),
        "litigation_hold": False,
        "status": "held",
    },
}


class _FixtureHandler(BaseHTTPRequestHandler):
    """Answers like Mimecast from the fixture files (no pagination, as real search)."""

    infos: dict[str, Any] = {}
    search: Any = None

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length)
        if self.path.endswith("/oauth/token"):
            self._send({"access_token": "fixture-access-token", "expires_in": 1800})
        elif self.path == "/api/message-finder/search":
            self._send(self.search)
        elif self.path == "/api/message-finder/get-message-info":
            ident = json.loads(body)["data"][0]["id"]
            found = self.infos.get(ident)
            fail = {"key": {"id": ident}, "errors": [{"code": "err_message_not_found"}]}
            envelope = {"meta": {"status": 200}, "data": [], "fail": [fail]}
            self._send(found if found is not None else envelope)
        else:
            self.send_error(404)

    def _send(self, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def fixture_server() -> Iterator[str]:
    infos = {}
    for path in INFO_FILES:
        doc = json.loads(path.read_text(encoding="utf-8"))
        infos[doc["data"][0]["id"]] = doc
    handler = type(
        "Handler",
        (_FixtureHandler,),
        {
            "infos": infos,
            "search": json.loads(SEARCH_FILE.read_text(encoding="utf-8")),
        },
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(SimulatorConfig(seed=19, messages=80, history_hours=4.0)) as s:
        # Tags already on some messages (retentionInfo.smartTags), as in a live account.
        tag = s.smart_tags()[0]["id"]

        async def apply() -> None:
            async with MimecastClient(settings_for(s.url, "2.0")) as client:
                for m in s.messages()[:5]:
                    await client.apply_smart_tag(m.id, tag)

        run(apply())
        yield s


def _read_all(url: str, watch: SecretWatch, ids: list[str] | None = None) -> list[Message]:
    """Search the last day through the real client, then read every message's info."""

    async def scenario() -> list[Message]:
        client = MimecastClient(settings_for(url, "2.0"), transport=watch.recorder())
        async with client:
            end = datetime.now(UTC) + timedelta(days=3650)
            found = await client.search(SearchCriteria(), end - timedelta(days=7300), end)
            out = []
            for summary in found.emails:
                if ids is None or summary.id in ids:
                    out.append(Message(summary, await client.get_message_info(summary.id)))
            return out

    return run(scenario())


def _values(message: Message) -> dict[str, Any]:
    ctx = Context(message)
    return {name: ctx.value(name) for name in FIELDS}


def _present(values: dict[str, Any]) -> set[str]:
    return {k for k, v in values.items() if v is not None and v != () and v is not False}


def _sane(message: Message) -> None:
    """What any parse of any real answer must satisfy."""
    assert message.info is not None
    for attachment in message.info.attachments:
        assert attachment.name.casefold() not in PART_NAMES
        assert "transmission file" not in attachment.type.casefold()
        assert "body" not in attachment.type.casefold()
    values = _values(message)
    for name in ("from.domain", "sender.domain"):
        assert values[name] is None or ("<" not in values[name] and ">" not in values[name])
    for name in ("recipients.domain", "to.domain", "cc.domain"):
        assert all("<" not in d and ">" not in d and " " not in d for d in values[name])


def test_fixtures_are_read_as_their_json_says(fixture_server: str, watch: SecretWatch) -> None:
    messages = _read_all(fixture_server, watch)
    assert [m.id for m in messages] == [PHISH, INVOICE, HELD]
    for message in messages:
        _sane(message)
        values = _values(message)
        for name, want in EXPECTED[message.id].items():
            assert values[name] == want, (message.id, name)


def test_simulator_messages_read_as_the_simulator_knows_them(
    sim: Simulator, watch: SecretWatch
) -> None:
    messages = _read_all(sim.url, watch)
    assert len(messages) == 80
    for message in messages:
        _sane(message)
        record = next(m for m in sim.messages() if m.id == message.id)
        tags = sim.message_info_json(record.id)["retentionInfo"]["smartTags"]
        assert _values(message) == _values(truth_message(record, tags)), message.id


def test_the_simulator_exercises_every_field_the_fixtures_fill(
    fixture_server: str, sim: Simulator, watch: SecretWatch
) -> None:
    from_fixtures = set().union(*(_present(_values(m)) for m in _read_all(fixture_server, watch)))
    from_sim = set().union(*(_present(_values(m)) for m in _read_all(sim.url, watch)))
    assert from_fixtures - from_sim == set()
    # And both fill the fields that matter for the shapes.
    shapes = {"attachments.count", "components.type", "from.name", "spf.allow", "verdict.decision"}
    assert shapes <= from_fixtures and shapes <= from_sim


def test_fixture_documents_parse_alike_from_files_and_over_http(
    fixture_server: str, watch: SecretWatch
) -> None:
    over_http = {m.id: m for m in _read_all(fixture_server, watch)}
    tracked = json.loads(SEARCH_FILE.read_text(encoding="utf-8"))["data"][0]["trackedEmails"]
    assert "pagination" not in json.loads(SEARCH_FILE.read_text(encoding="utf-8"))["meta"]
    for path in INFO_FILES:
        item = json.loads(path.read_text(encoding="utf-8"))["data"][0]
        summary = TrackedEmail.parse(next(t for t in tracked if t["id"] == item["id"]))
        assert summary is not None
        local = Message(summary, MessageInfo.parse(item))
        assert _values(local) == _values(over_http[item["id"]]), path.name
