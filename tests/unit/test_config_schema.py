"""The shipped config schema and the example configuration."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from tagger.config import config_schema, load_config
from tagger.simulator.credentials import DEMO
from tagger.yamldoc.schema import schema_problems
from tagger.yamldoc.source import load_yaml_file

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config.example.yaml"


def all_properties(schema: Any, where: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield (path, schema) of every named property and definition, recursively."""
    if isinstance(schema, dict):
        for group in ("properties", "$defs"):
            for name, sub in schema.get(group, {}).items():
                yield f"{where}.{name}", sub
        for key, sub in schema.items():
            if key not in ("examples", "default", "enum", "const"):
                yield from all_properties(sub, f"{where}.{key}")
    elif isinstance(schema, list):
        for index, sub in enumerate(schema):
            yield from all_properties(sub, f"{where}[{index}]")


def test_schema_is_valid_draft_2020_12() -> None:
    Draft202012Validator.check_schema(config_schema())


def test_every_property_has_a_description_and_a_valid_example() -> None:
    schema = config_schema()
    found = list(all_properties(schema))
    assert len(found) > 40
    for where, sub in found:
        assert sub.get("description", "").strip(), f"{where} has no description"
        assert sub.get("examples"), f"{where} has no example"
        # Each example must itself be valid for the property it documents.
        resolved = {**sub, "$defs": schema["$defs"]}
        for example in sub["examples"]:
            errors = list(Draft202012Validator(resolved).iter_errors(example))
            assert not errors, f"{where}: example {example!r}: {errors[0].message}"


def test_example_config_is_schema_valid_in_place() -> None:
    doc = load_yaml_file(EXAMPLE)
    assert schema_problems(doc, config_schema()) == []


def test_example_config_loads_and_points_at_the_simulator(tmp_path: Path) -> None:
    shutil.copy(EXAMPLE, tmp_path / "config.yaml")
    (tmp_path / "config.yaml").chmod(0o600)
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "b.yaml").write_text("rules: []\n")
    (tmp_path / "rules" / "a.yaml").write_text("rules: []\n")
    config = load_config(tmp_path / "config.yaml", env={})
    assert config.warnings == ()
    (account,) = config.accounts
    settings = account.settings
    assert settings.base_url == "http://127.0.0.1:8765"
    assert settings.api_version == "2.0"
    assert settings.credentials.client_id == DEMO.client_id  # type: ignore[union-attr]
    assert settings.credentials.client_secret == DEMO.client_secret  # type: ignore[union-attr]
    assert config.rule_paths == (tmp_path / "rules" / "a.yaml", tmp_path / "rules" / "b.yaml")
    assert config.state_path == tmp_path / "state" / "tagger.db"
    # The audit file lives under the state directory, writable by the service.
    assert config.audit_path == tmp_path / "state" / "audit" / "audit.jsonl"
    assert config.rollout == "audit-first"
    assert config.limits.per_cycle == 500 and config.accounts[0].enabled
    assert config.schedule.interval == timedelta(minutes=5)
    assert config.window.max_catchup == timedelta(days=7)
    assert config.dry_run is False
    assert config.metrics.host == "127.0.0.1"
    assert config.source == tmp_path / "config.yaml"
