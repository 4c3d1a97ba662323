"""Helpers of the scoped-search tests: the simulator's domains and accounts that name them."""

from __future__ import annotations

from typing import Any

from tagger.rules import load_rules
from tagger.simulator import Simulator
from tagger.simulator.vocab import INTERNAL_DOMAINS
from testkit import RULES_DIR
from testkit.setup import account_yaml

DOMAINS = list(INTERNAL_DOMAINS)


def scoped_account(sim: Simulator, **extra: Any) -> list[dict[str, Any]]:
    return [{**account_yaml(sim), **extra}]


def query_count() -> int:
    return len(load_rules([RULES_DIR]).queries)
