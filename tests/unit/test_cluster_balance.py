"""Fair share and the moves a node makes toward it (pure)."""

from __future__ import annotations

import pytest

from tagger.cluster.balance import Moves, fair_share, plan_moves


@pytest.mark.parametrize(
    ("accounts", "live", "share"),
    [(0, 3, 0), (1, 3, 1), (3, 3, 1), (4, 3, 2), (10, 1, 10), (10, 0, 10), (7, 2, 4)],
)
def test_fair_share_covers_every_account(accounts: int, live: int, share: int) -> None:
    assert fair_share(accounts, live) == share
    assert fair_share(accounts, live) * max(1, live) >= accounts


def test_takes_free_leases_up_to_the_share_in_the_order_given() -> None:
    assert plan_moves({"a"}, ["c", "b", "d"], 3) == Moves(("c", "b"), ())


def test_never_takes_what_it_holds_and_takes_nothing_at_its_share() -> None:
    assert plan_moves({"a", "b"}, ["a", "c"], 2) == Moves((), ())


def test_hands_back_the_last_names_beyond_the_share() -> None:
    assert plan_moves({"d", "a", "c", "b"}, ["e"], 2) == Moves((), ("c", "d"))


def test_nodes_agreeing_on_the_share_cover_all_accounts_without_overlap() -> None:
    accounts = [f"acct{i:02d}" for i in range(11)]
    held: list[set[str]] = [set(), set(), set()]
    share = fair_share(len(accounts), len(held))
    for _round in range(3):
        for mine in held:
            taken = set().union(*held)
            free = [a for a in accounts if a not in taken]
            moves = plan_moves(mine, free, share)
            mine.update(moves.take)
            mine.difference_update(moves.hand_back)
    assert set().union(*held) == set(accounts)
    assert sum(len(h) for h in held) == len(accounts)
    assert max(len(h) for h in held) <= share
