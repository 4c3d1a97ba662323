"""The event builder reads documents exactly as the node-based builder does.

Every document is loaded twice: through :func:`tagger.yamldoc.source.load_yaml`
(the event builder, falling back to the node builder when it must) and
through the node builder alone. The data, the position of every path (and of
paths that lead nowhere) and every error must be the same.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from tagger.errors import UserError
from tagger.yamldoc import source as yamlsource
from tagger.yamldoc.source import Located, load_yaml

REPO = Path(__file__).resolve().parents[2]

DOCUMENTS = {
    "rules": "rules:\n  - id: a\n    tags: [x, y]\n    match: {field: subject, contains: 'z'}\n",
    "scalars": "a: 0x1F\nb: 0o17\nc: 1_000\nd: .inf\ne: 1e3\nf: +12\ng: 012\nh: 190:20:30\n",
    "bools_nulls": "a: yes\nb: No\nc: on\nd: OFF\ne:\nf: ~\ng: null\nh: ''\n",
    "quoted": "a: '1'\nb: \"true\"\nc: 'null'\n'2': x\n",
    "dates": "a: 2024-01-02\nb: 2024-01-02T03:04:05Z\n",
    "aliases": "a: &x hello\nb: *x\nc: [*x, *x]\nd: &m {k: [1, 2]}\ne: [*m, {f: *m}]\n",
    "alias_key": "k: &k name\n*k : 2\n",
    "empty_collections": "a: {}\nb: []\nc: {d: []}\n",
    "roots": "- a\n- b: 1\n",
    "scalar_root": "hello\n",
    "empty_document": "---\n...\n",
    "nothing": "# nothing\n",
    "line_breaks": "a: 1\r\nb:\r\n  c: 2\r\n",
    "old_mac": "a: 1\rb: 2\r",
    "nel": "a: 1\x85b: 2\n",
    "bom": "\ufeffa: 1\n",
    "unicode": "naïve: {ключ: 1, 名前: zoë}\n",
    "block_scalars": "a: |\n  line1\n  line2\nb: >\n  folded\n  text\n",
    "directive": "%YAML 1.1\n---\na: 1\n",
    "flow": "rules: [" + ", ".join(f"{{id: r{i}, tags: [a, b]}}" for i in range(50)) + "]\n",
    # Handed to the node builder:
    "merge": "base: &b\n  x: 1\n  z: 3\nother:\n  <<: *b\n  y: 2\n  z: 4\n",
    "merge_list": "a: &a {k: 1, p: 1}\nb: &b {kk: 2, q: 2}\nc:\n  q: 9\n  <<: [*a, *b]\n",
    "tags": "a: !!str 1\nb: !!set {x, y}\nc: !!omap [{a: 1}]\nd: !!binary aGVsbG8=\ne: ! 12\n",
    "non_text_keys": "2: a\ntrue: b\nnull: c\nd: {1.5: x, 2024-01-01: y}\n",
    "deep": "a: " + "[" * 300 + "]" * 300 + "\n",
    # Errors:
    "duplicate_key": "a: 1\nb: 2\na: 3\n",
    "duplicate_bool_key": "? true\n: 1\n? yes\n: 2\n",
    "one_and_true": "1: a\ntrue: b\n",
    "duplicate_anchor": "a: &x 1\nb: &x 2\n",
    "undefined_alias": "a: *x\n",
    "recursive_alias": "a: &a [1, *a]\n",
    "bad_date": "a: 2024-13-45\n",
    "bad_date_then_duplicate": "a: 2024-13-45\nb: 1\nb: 2\n",
    "duplicate_then_syntax": "a: 1\na: 2\nb: [1, 2\n",
    "syntax": "a: 1\nb: [1, 2\nc: 3\n",
    "indentation": "a:\n  b: 1\n c: 2\n",
    "two_documents": "a: 1\n---\nb: 2\n",
    "junk_after_document": "a: 1\n--- [\n",
    "value_tag": "c: =\n",
    "merge_value": "c: <<\n",
    "bad_merge": "c:\n  <<: 3\n",
    "collection_key": "? [a, b]\n: 1\n",
    "control_character": "a: 1\nb: x\x07\n",
    "custom_tag": "a: !foo 1\n",
}


def node_builder_only(text: str) -> Located:
    """Load ``text`` the way the node-based builder alone does."""
    original = yamlsource._load_from_events
    yamlsource._load_from_events = lambda text, file: None  # type: ignore[assignment]
    try:
        return load_yaml(text, "f.yaml")
    finally:
        yamlsource._load_from_events = original


def outcome(load: Any, text: str) -> tuple[str, Any]:
    try:
        return "ok", load(text)
    except UserError as exc:
        return "error", [(str(p), p.hint) for p in exc.problems]


def paths(data: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path into ``data``, plus a few that lead nowhere."""
    yield prefix
    if isinstance(data, dict):
        for key, value in data.items():
            yield from paths(value, (*prefix, key))
        yield (*prefix, "missing")
        yield (*prefix, ["unhashable"])
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from paths(value, (*prefix, index))
        yield from ((*prefix, len(data)), (*prefix, -1), (*prefix, -len(data) - 1))
        yield (*prefix, True)


def assert_same_reading(text: str) -> None:
    kind, got = outcome(lambda t: load_yaml(t, "f.yaml"), text)
    want_kind, want = outcome(node_builder_only, text)
    assert (kind, kind == "error" and got) == (want_kind, want_kind == "error" and want)
    if kind == "ok":
        assert repr(got.data) == repr(want.data)
        for path in paths(got.data):
            assert got.position(path) == want.position(path), path
            assert got.value_position(path) == want.value_position(path), path


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_both_builders_read_every_document_alike(name: str) -> None:
    assert_same_reading(DOCUMENTS[name])


def test_shipped_and_corpus_files_read_alike() -> None:
    files = sorted((REPO / "rules").glob("*.yaml")) + sorted(
        (REPO / "tests" / "rules_corpus").glob("*.yaml")
    )
    files.append(REPO / "config.example.yaml")
    assert len(files) > 10
    for file in files:
        assert_same_reading(file.read_text(encoding="utf-8"))


def test_plain_documents_take_the_event_builder_and_unusual_ones_fall_back() -> None:
    assert load_yaml(DOCUMENTS["rules"], "f.yaml").text_keys
    assert load_yaml(DOCUMENTS["aliases"], "f.yaml").text_keys
    for name in ("merge", "tags", "non_text_keys", "deep"):
        assert not load_yaml(DOCUMENTS[name], "f.yaml").text_keys, name


def test_nodes_written_out_do_not_count_towards_the_alias_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(yamlsource, "MAX_EXPANDED_NODES", 100)
    long_list = "l: [" + ", ".join(["x"] * 300) + "]\n"
    assert len(load_yaml(long_list, "f.yaml").data["l"]) == 300
    assert len(node_builder_only(long_list).data["l"]) == 300
    # Nine aliases of a ten-item list add 99 nodes; ten add 110.
    anchor = "a: &a [" + ", ".join(["x"] * 10) + "]\n"
    fits = anchor + "b: [" + ", ".join(["*a"] * 9) + "]\n"
    assert len(load_yaml(fits, "f.yaml").data["b"]) == 9
    too_many = anchor + "b: [" + ", ".join(["*a"] * 10) + "]\n"
    for load in (lambda t: load_yaml(t, "f.yaml"), node_builder_only):
        with pytest.raises(UserError, match="too large once its aliases are expanded"):
            load(too_many)


def test_equal_plain_values_are_built_once() -> None:
    doc = load_yaml("a: [inbound, inbound]\nb: inbound\n", "f.yaml")
    assert doc.data["a"][0] is doc.data["a"][1] is doc.data["b"]


# Plain data, dumped to YAML: keys of any scalar type (non-text keys fall
# back), text that looks like numbers, dates or booleans, shared values.
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=8),
    st.sampled_from(["yes", "no", "on", "~", "0x10", "1_0", "2024-01-02", "1e3", ".inf", "<<"]),
)
_data = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(_scalars, inner, max_size=4)
    ),
    max_leaves=25,
)


@given(_data, st.sampled_from([False, True]))
def test_any_dumped_data_reads_alike(data: Any, flow: bool) -> None:
    text = yaml.safe_dump({"root": data, "again": data}, default_flow_style=flow)
    assert_same_reading(text)
