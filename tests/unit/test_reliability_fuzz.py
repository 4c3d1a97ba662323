"""Bad input never escapes as a traceback.

Rule files: whatever text or structure is in one, loading returns a rule set
or raises UserError whose every problem names the file and a line.
API responses: whatever status and body the service sends, the client returns
a parsed result or raises a typed MimecastError; a KeyError, TypeError or any
other exception is a bug. (The config loader has its own fuzz tests.)
"""

from __future__ import annotations

import asyncio
import copy
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tagger.errors import UserError
from tagger.mimecast.client import MimecastClient
from tagger.mimecast.criteria import SearchCriteria
from tagger.mimecast.errors import MimecastError
from tagger.mimecast.pacing import cycle_bound
from tagger.mimecast.settings import (
    AccountSettings,
    HmacCredentials,
    OAuthCredentials,
    RetryPolicy,
)
from tagger.rules import RuleSet, load_rules
from tagger.simulator import DEMO
from tests.support.fuzz import set_path

ROOT = Path(__file__).resolve().parents[2]
SHIPPED_TEXT = (ROOT / "rules" / "security.yaml").read_text(encoding="utf-8")
SHIPPED = yaml.safe_load(SHIPPED_TEXT)
FUZZ = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# Words of the rule language, so random structures often get past the first check.
WORDS = [
    "rules", "id", "description", "priority", "mode", "enforce", "audit", "stop", "schedule",
    "search", "route", "status", "attachments", "lookback", "from", "to", "match", "unless",
    "all", "any", "not", "field", "equals", "in", "gte", "lt", "glob", "regex", "domain",
    "cidr", "elements", "tags", "examples", "expect", "summary", "fixture", "name",
    "sender.domain", "spam.score", "attachments.extension", "Security/Phishing", "inbound",
    "1d", "30m", "-1", "",
]  # fmt: skip
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(WORDS),
)
structures = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(WORDS), inner, max_size=5),
    ),
    max_leaves=25,
)


@pytest.fixture(scope="module")
def rules_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("rules-fuzz")


def load_text(directory: Path, text: str) -> RuleSet | None:
    """Load ``text`` as a rule file; on UserError check every problem is located."""
    path = directory / "fuzz.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        return load_rules([path])
    except UserError as exc:
        assert exc.problems, "a UserError must say what is wrong"
        for problem in exc.problems:
            assert problem.file == str(path), problem
            assert isinstance(problem.line, int) and problem.line >= 1, problem
        return None


@FUZZ
@given(text=st.text(max_size=300))
def test_rule_file_with_arbitrary_text(rules_dir: Path, text: str) -> None:
    load_text(rules_dir, text)


@FUZZ
@given(data=structures)
def test_rule_file_with_arbitrary_structure(rules_dir: Path, data: Any) -> None:
    load_text(rules_dir, yaml.safe_dump({"rules": [data]}, allow_unicode=True))
    load_text(rules_dir, yaml.safe_dump(data, allow_unicode=True))


@FUZZ
@given(path=st.lists(st.integers(min_value=0, max_value=40), max_size=6), value=structures)
def test_shipped_rules_with_one_value_replaced(
    rules_dir: Path, path: list[int], value: Any
) -> None:
    data = set_path(copy.deepcopy(SHIPPED), path, value)
    load_text(rules_dir, yaml.safe_dump(data, allow_unicode=True, sort_keys=False))


@FUZZ
@given(position=st.integers(min_value=0, max_value=len(SHIPPED_TEXT)), insert=st.text(max_size=8))
def test_shipped_rule_text_with_characters_inserted(
    rules_dir: Path, position: int, insert: str
) -> None:
    load_text(rules_dir, SHIPPED_TEXT[:position] + insert + SHIPPED_TEXT[position:])


# -- API responses -------------------------------------------------------------------------

json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=False),
        st.text(max_size=10),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=15,
)
# Bodies shaped like the real envelope, with random parts in the places the client reads.
envelopes = st.fixed_dictionaries(
    {"meta": st.one_of(json_values, st.fixed_dictionaries({"status": st.just(200)}))},
    optional={
        "data": st.one_of(
            json_values,
            st.lists(
                st.one_of(
                    json_values,
                    st.fixed_dictionaries(
                        {},
                        optional={
                            "id": json_values,
                            "trackedEmails": st.lists(json_values, max_size=3),
                            "name": json_values,
                            "path": json_values,
                            "retentionInfo": json_values,
                            "recipientInfo": json_values,
                            "deliveredMessage": json_values,
                        },
                    ),
                ),
                max_size=3,
            ),
        ),
        "fail": st.one_of(json_values, st.lists(json_values, max_size=2)),
    },
)
bodies = st.one_of(
    envelopes.map(lambda v: json.dumps(v).encode()),
    json_values.map(lambda v: json.dumps(v).encode()),
    envelopes.map(lambda v: json.dumps(v).encode()).flatmap(
        lambda b: st.integers(0, len(b)).map(lambda n: b[:n])
    ),
    st.binary(max_size=200),
)
statuses = st.one_of(
    st.sampled_from([200, 200, 200, 201, 204, 400, 401, 403, 404, 418, 429]),
    st.integers(100, 599),
)
CALLS = ("search", "info", "tags", "apply", "search_tag")
T0 = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


def settings_for(version: str) -> AccountSettings:
    """Return account settings that never wait: one attempt per call."""
    retry = RetryPolicy(max_attempts=1, max_total_s=1, base_delay_s=0.0, max_delay_s=0.0)
    if version == "2.0":
        creds: OAuthCredentials | HmacCredentials = OAuthCredentials(
            DEMO.client_id, DEMO.client_secret
        )
    else:
        creds = HmacCredentials(DEMO.access_key, DEMO.secret_key, DEMO.app_id, DEMO.app_key)
    return AccountSettings("fuzz", version, "http://127.0.0.1:9", creds, timeout_s=1, retry=retry)


async def no_sleep(seconds: float) -> None:
    """Never wait (the rate-limit gate may ask to)."""


async def call(client: MimecastClient, which: str) -> object:
    """Make one client call whose response parsing is under test."""
    if which == "search":
        return await client.search(SearchCriteria(), T0, T0 + timedelta(hours=1))
    if which == "info":
        return await client.get_message_info("msg-1")
    if which == "tags":
        return await client.list_smart_tags()
    if which == "apply":
        return await client.apply_smart_tag("msg-1", "tag-1")
    return [m async for m in client.search_smart_tag("tag-1")]


@settings(max_examples=400, deadline=None)
@given(
    version=st.sampled_from(["2.0", "1.0"]),
    which=st.sampled_from(CALLS),
    status=statuses,
    body=bodies,
    token_body=st.one_of(st.just(b'{"access_token": "tok", "expires_in": 1800}'), bodies),
    headers=st.dictionaries(
        st.sampled_from(["x-ratelimit-reset", "x-ratelimit-remaining", "retry-after"]),
        st.one_of(st.text("0123456789.-e x", max_size=6), st.integers(-5, 10**6).map(str)),
        max_size=3,
    ),
)
def test_any_response_gives_a_result_or_a_typed_error(
    version: str,
    which: str,
    status: int,
    body: bytes,
    token_body: bytes,
    headers: dict[str, str],
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/oauth/token"):
            return httpx.Response(status if status >= 400 else 200, content=token_body)
        return httpx.Response(status, content=body, headers=headers)

    async def run() -> None:
        client = MimecastClient(
            settings_for(version),
            sleep=no_sleep,
            transport=httpx.MockTransport(answer),
        )
        try:
            # A quota wait is paced only as long as the cycle has time: here 1 s.
            with cycle_bound(time.monotonic() + 1.0):
                await call(client, which)
        except MimecastError as exc:
            assert str(exc) and repr(exc)  # printable, as the CLI prints it
        finally:
            await client.aclose()

    asyncio.run(run())
