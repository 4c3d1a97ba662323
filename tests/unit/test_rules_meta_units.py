"""Rule metadata is read without changing the content hash."""

from __future__ import annotations

from pathlib import Path

from tagger.rules import load_rules
from tests.support.rules import metadata_rule_file

META = "    owner: secops@example.com\n    references: [https://wiki.example.com/p, CHG-1]\n"


def test_metadata_is_read_and_leaves_the_content_hash_alone(tmp_path: Path) -> None:
    plain = load_rules([metadata_rule_file(tmp_path, "", "plain.yaml")]).rules[0]
    dated = META + "    created: 2026-11-01\n    modified: 2026/11/20\n"
    (owned,) = load_rules([metadata_rule_file(tmp_path, dated)]).rules
    assert owned.meta.owner == "secops@example.com"
    assert owned.meta.references == ("https://wiki.example.com/p", "CHG-1")
    assert (owned.meta.created, owned.meta.modified) == ("2026-11-01", "2026-11-20")
    assert owned.content_hash == plain.content_hash
