"""``tagger tags --messages TAG``: the messages carrying one Smart Tag, per account."""

from __future__ import annotations

import re
from pathlib import Path

from tagger import exitcodes
from tagger.simulator import Simulator, SimulatorConfig
from tests.support.daemon import run_tagger, write_config


def test_tags_messages_lists_the_messages_a_run_tagged(tmp_path: Path) -> None:
    with Simulator(SimulatorConfig(seed=7, messages=120)) as sim:
        cfg = str(write_config(tmp_path, sim))
        once = run_tagger("once", "-c", cfg)
        assert once.returncode == exitcodes.OK, once.stderr
        counts: dict[str, int] = {}
        for _message, tag in sim.applied():
            counts[tag] = counts.get(tag, 0) + 1
        tag_id = max(counts, key=lambda t: counts[t])
        tag = next(t for t in sim.smart_tags() if t["id"] == tag_id)

        listed = run_tagger("tags", "-c", cfg, "--messages", tag["path"])
        assert listed.returncode == exitcodes.OK, listed.stderr
        assert f"account demo: {counts[tag_id]} messages tagged {tag['path']}" in listed.stdout
        ids = re.findall(r"^  (\S+)$", listed.stdout, re.MULTILINE)
        assert sorted(ids) == sorted(m for m, t in sim.applied() if t == tag_id)

        by_id = run_tagger("tags", "-c", cfg, "--messages", tag_id)
        assert by_id.stdout == listed.stdout

        unknown = run_tagger("tags", "-c", cfg, "--messages", tag["path"] + "x")
        assert unknown.returncode == exitcodes.USER_ERROR
        assert "no Smart Tag" in unknown.stderr and "did you mean" in unknown.stderr
