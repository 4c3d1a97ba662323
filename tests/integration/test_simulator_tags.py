"""Simulator Smart Tags: paginated list, idempotent apply, search by tag, errors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tagger.mimecast.models import MessageInfo
from tagger.simulator import Simulator, SimulatorConfig
from tagger.simulator.credentials import DEMO

LIST = "/api/data-retention/get-smart-tags"
APPLY = "/api/data-retention/apply-smart-tag"
BY_TAG = "/api/data-retention/search-smart-tag"
INFO = "/api/message-finder/get-message-info"


@pytest.fixture()
def sim() -> Iterator[Simulator]:
    with Simulator(SimulatorConfig(seed=4, messages=60, list_page_size=4)) as s:
        yield s


@pytest.fixture()
def http(sim: Simulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.url, timeout=10) as c:
        form = {
            "client_id": DEMO.client_id,
            "client_secret": DEMO.client_secret,
            "grant_type": "client_credentials",
        }
        token = c.post("/oauth/token", data=form).json()["access_token"]
        c.headers["Authorization"] = f"Bearer {token}"
        yield c


def post(http: httpx.Client, path: str, body: Any) -> dict[str, Any]:
    r = http.post(path, json=body)
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()
    return result


def codes(body: dict[str, Any]) -> list[str]:
    return [e["code"] for item in body["fail"] for e in item["errors"]]


def walk(http: httpx.Client, path: str, data: list[Any], size: int | None = None) -> list[Any]:
    """Follow meta.pagination.next to the end (bounded)."""
    rows: list[Any] = []
    pagination: dict[str, Any] = {} if size is None else {"pageSize": size}
    for _ in range(100):
        body = post(http, path, {"meta": {"pagination": pagination}, "data": data})
        assert body["fail"] == []
        rows.extend(body["data"])
        token = body["meta"]["pagination"].get("next")
        if not token:
            return rows
        pagination = {**pagination, "pageToken": token}
    raise AssertionError("pagination did not end")


def test_list_paginates_over_every_tag(sim: Simulator, http: httpx.Client) -> None:
    first = post(http, LIST, {"data": []})
    assert len(first["data"]) == 4
    assert first["meta"]["pagination"]["totalCount"] == len(sim.smart_tags()) >= 15
    rows = walk(http, LIST, [])
    assert rows == sim.smart_tags()
    paths = {t["path"] for t in rows}
    assert {"Security", "Security/Phishing", "Compliance/Finance", "Bulk/Greymail"} <= paths
    by_id = {t["id"]: t for t in rows}
    for tag in rows:
        parent = by_id.get(tag["parentId"]) if tag["parentId"] else None
        expected = f"{parent['path']}/{tag['name']}" if parent else tag["name"]
        assert tag["path"] == expected
    assert walk(http, LIST, [], size=50) == rows


def test_page_token_of_another_query_is_refused(sim: Simulator, http: httpx.Client) -> None:
    token = post(http, LIST, {"data": []})["meta"]["pagination"]["next"]
    tag = sim.smart_tags()[0]["id"]
    body = post(
        http, BY_TAG, {"meta": {"pagination": {"pageToken": token}}, "data": [{"smartTagId": tag}]}
    )
    assert codes(body) == ["err_validation_invalid_page_token"]
    body = post(http, LIST, {"meta": {"pagination": {"pageSize": 0}}, "data": []})
    assert codes(body) == ["err_validation_invalid_page_size"]


def test_apply_is_idempotent_and_shows_in_message_info(sim: Simulator, http: httpx.Client) -> None:
    tag = next(t for t in sim.smart_tags() if t["path"] == "Security/Phishing")
    msg = sim.messages()[7].id
    for _ in range(3):
        body = post(http, APPLY, {"data": [{"id": msg, "smartTagId": tag["id"]}]})
        assert body == {
            "meta": {"status": 200},
            "data": [{"id": msg, "smartTagId": tag["id"]}],
            "fail": [],
        }
    info = post(http, INFO, {"data": [{"id": msg}]})["data"][0]
    assert info["retentionInfo"]["smartTags"] == [
        {"id": tag["id"], "name": "Phishing", "path": "Security/Phishing"}
    ]
    assert (
        sim.message_info_json(msg)["retentionInfo"]["smartTags"]
        == info["retentionInfo"]["smartTags"]
    )
    parsed = MessageInfo.parse(info)
    assert parsed is not None and [t.path for t in parsed.smart_tags] == ["Security/Phishing"]
    assert sim.applied() == {(msg, tag["id"]): 3}
    applies = sim.stats()["applies"]
    assert (applies["calls"], applies["distinct"], applies["repeats"]) == (3, 1, 2)


def test_search_by_tag_lists_tagged_messages_paginated(sim: Simulator, http: httpx.Client) -> None:
    tag = sim.smart_tags()[3]["id"]
    msgs = [m.id for m in sim.messages()[:9]]
    for m in msgs:
        post(http, APPLY, {"data": [{"id": m, "smartTagId": tag}]})
    post(http, APPLY, {"data": [{"id": msgs[0], "smartTagId": tag}]})
    rows = walk(http, BY_TAG, [{"smartTagId": tag}])
    assert [r["id"] for r in rows] == msgs
    other = sim.smart_tags()[4]["id"]
    assert walk(http, BY_TAG, [{"smartTagId": other}]) == []


def test_unknown_tag_or_message_or_blank_fields_fail(sim: Simulator, http: httpx.Client) -> None:
    msg, tag = sim.messages()[0].id, sim.smart_tags()[0]["id"]
    cases = [
        ({"id": msg, "smartTagId": "st-nope"}, "err_smart_tag_not_found"),
        ({"id": "eNqNOPE", "smartTagId": tag}, "err_message_not_found"),
        ({"id": "", "smartTagId": tag}, "err_validation_blank"),
        ({"id": msg}, "err_validation_null"),
    ]
    for item, code in cases:
        body = post(http, APPLY, {"data": [item]})
        assert body["data"] == [] and codes(body) == [code]
        assert body["fail"][0]["key"] == item
    assert sim.applied() == {}
    body = post(http, BY_TAG, {"data": [{"smartTagId": "st-nope"}]})
    assert codes(body) == ["err_smart_tag_not_found"]
    body = post(http, INFO, {"data": [{"id": "eNqNOPE"}]})
    assert codes(body) == ["err_message_not_found"]


def test_tag_paths_are_configurable() -> None:
    config = SimulatorConfig(tags=("Cases/2026/Alpha", "Cases/2026/Beta"), messages=1)
    sim = Simulator(config)
    assert [t["path"] for t in sim.smart_tags()] == [
        "Cases",
        "Cases/2026",
        "Cases/2026/Alpha",
        "Cases/2026/Beta",
    ]
