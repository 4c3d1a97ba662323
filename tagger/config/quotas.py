"""Which accounts share one API quota: their ``quota_group``, or the same credentials.

An account's ``quota_group`` names the quota it spends. Accounts with the
same credentials spend one quota whatever the file says, so an account
without a group joins the group of an account with the same credentials,
and two such accounts in different groups are a mistake in the file.
Credentials are compared by keyed hash, in memory only, and never named in
a problem.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from tagger.config.model import AccountConfig
from tagger.mimecast.quota import credential_key
from tagger.yamldoc.problems import Problems

__all__ = ["share_quota_groups"]


def share_quota_groups(
    built: Sequence[tuple[int, AccountConfig]], out: Problems
) -> list[AccountConfig]:
    """Return the accounts, each without a group given the one of its credentials' accounts.

    Given the accounts with their index in the file's ``accounts`` list;
    reports, at its ``quota_group``, an account whose group differs from
    that of an earlier account with the same credentials.
    """
    named: dict[str, tuple[str, int]] = {}  # credential key -> (group, index of its first)
    for index, account in built:
        group = account.settings.quota_group
        if group is None:
            continue
        first = named.setdefault(credential_key(account.settings), (group, index))
        if first[0] != group:
            out.add(
                ("accounts", index, "quota_group"),
                f"quota group '{group}' differs from the group '{first[0]}' of"
                f" accounts[{first[1]}], which has the same credentials (one quota)",
                hint="give both accounts the same quota_group, or leave it out",
                at_value=True,
            )
    shared: list[AccountConfig] = []
    for _, account in built:
        found = named.get(credential_key(account.settings))
        if account.settings.quota_group is None and found is not None:
            account = replace(account, settings=replace(account.settings, quota_group=found[0]))
        shared.append(account)
    return shared
