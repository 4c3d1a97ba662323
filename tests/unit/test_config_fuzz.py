"""Whatever is in the file, loading either works or raises UserError (never a traceback)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tagger.config import Config, load_config
from tagger.errors import UserError
from tests.support.fuzz import set_path

EXAMPLE_TEXT = (Path(__file__).resolve().parents[2] / "config.example.yaml").read_text()
EXAMPLE = yaml.safe_load(EXAMPLE_TEXT)
FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["5m", "0s", "7d", "1.0", "2.0", "../x", "/", "*", "rules/*.yaml", "\x00"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.text(max_size=12), st.integers()), inner, max_size=4),
    ),
    max_leaves=12,
)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("fuzz")
    (directory / "rules").mkdir()
    (directory / "rules" / "one.yaml").write_text("rules: []\n")
    return directory


def load_text(directory: Path, text: str) -> Config | None:
    path = directory / "config.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        return load_config(path, env={"CREDENTIALS_DIRECTORY": str(directory)})
    except UserError as exc:
        assert exc.problems, "a UserError must say what is wrong"
        return None


@FUZZ
@given(text=st.text(max_size=300))
def test_arbitrary_text(workdir: Path, text: str) -> None:
    load_text(workdir, text)


@FUZZ
@given(data=values)
def test_arbitrary_structures(workdir: Path, data: Any) -> None:
    load_text(workdir, yaml.safe_dump(data, allow_unicode=True))


@FUZZ
@given(path=st.lists(st.integers(min_value=0, max_value=50), max_size=5), value=values)
def test_example_with_one_value_replaced(workdir: Path, path: list[int], value: Any) -> None:
    data = set_path(copy.deepcopy(EXAMPLE), path, value)
    load_text(workdir, yaml.safe_dump(data, allow_unicode=True))


@FUZZ
@given(position=st.integers(min_value=0, max_value=len(EXAMPLE_TEXT)), insert=st.text(max_size=8))
def test_example_text_with_characters_inserted(workdir: Path, position: int, insert: str) -> None:
    load_text(workdir, EXAMPLE_TEXT[:position] + insert + EXAMPLE_TEXT[position:])
