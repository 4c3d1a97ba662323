"""``tagger pause``, ``resume`` and ``promote``: the operator's side of the safety rails.

``pause RULE`` writes the same pause record a blast-radius limit writes (on
every account whose rule set holds the rule, kind ``manual``); ``resume RULE``
lifts either. ``--account NAME`` narrows ``pause``, ``resume`` and
``promote`` to one account (accounts may run rule sets of their own, see
:mod:`tagger.cli.ruletargets`). A mistyped rule id is refused with a
did-you-mean.

Each writes small records to the state file, next to a running daemon: the
file is opened without the single-writer lock (SQLite serialises the write
itself). The daemon reads the kill switch and the pauses again at the moment
each apply is sent, and ``pause`` returns only once the running process has
confirmed that no apply of it reaches Mimecast any more
(:mod:`tagger.cli.stopwait`); promotions count from its next cycle. The kill
switch is also a file beside the state (:mod:`tagger.state.pausefile`), so
``pause --all`` works when the state file cannot be read. A rail records what
it keeps back as held pairs; ``promote`` and ``resume`` show them (distinct
messages and tags) and, on confirmation, lift the rail: the daemon's next
cycle applies them through its one apply path, paced by the quota
(``--from-now`` drops them instead, see :mod:`tagger.cli.held`).
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tagger import exitcodes
from tagger.audit.explanation import explanation_lines
from tagger.audit.sample import audit_sample
from tagger.cli.context import load
from tagger.cli.held import FROM_NOW, Backlog, confirm, counted, describe, drop, drop_stale
from tagger.cli.ruletargets import add_account_option, check_account, rule_targets, unknown_rule
from tagger.cli.stopwait import DEFAULT_WAIT_S, confirm_stop
from tagger.engine.guard import MANUAL
from tagger.errors import UserError
from tagger.monitor.lockprobe import lock_held
from tagger.rules import CompiledRule
from tagger.rules.accountsets import AccountRuleSets, load_account_rule_sets
from tagger.state import StateError, StateStore
from tagger.state.held import AWAITING, DISABLED, KILL_SWITCH, LIMIT, PAUSED, HeldRow
from tagger.state.pausefile import set_pause_file
from tagger.state.railstore import EVERY_ACCOUNT, PAUSE_ALL, PauseRow
from tagger.words import plural


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    """Add the ``pause``, ``resume`` and ``promote`` sub-commands."""
    pause = sub.add_parser(
        "pause", parents=[parent], help="pause a rule, or stop every apply at once (--all)"
    )
    pause.add_argument(
        "rule", nargs="?", help="the rule's id (paused on every account whose rules hold it)"
    )
    add_account_option(pause, "pause the rule")
    pause.add_argument("--all", action="store_true", help="every rule, account: the kill switch")
    pause.add_argument("--reason", metavar="TEXT", help="why (shown by status and in the logs)")
    pause.add_argument(
        "--wait",
        type=_seconds,
        default=DEFAULT_WAIT_S,
        metavar="SECONDS",
        help=(
            "with --all: how long to wait for a running tagger to confirm"
            f" (default {DEFAULT_WAIT_S:g})"
        ),
    )
    pause.set_defaults(handler=handle_pause)
    resume = sub.add_parser(
        "resume", parents=[parent], help="lift a rule's pause (or --all), applying what it held"
    )
    resume.add_argument("rule", nargs="?", help="the paused rule's id")
    resume.add_argument("--all", action="store_true", help="lift the kill switch")
    add_account_option(resume, "lift the rule's pause")
    _release_options(resume)
    resume.set_defaults(handler=handle_resume)
    promote = sub.add_parser(
        "promote", parents=[parent], help="let a rule awaiting promotion apply its tags"
    )
    promote.add_argument("rule", help="the rule's id")
    add_account_option(promote, "promote the rule")
    _release_options(promote)
    promote.set_defaults(handler=handle_promote)


def _release_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    parser.add_argument(
        "--from-now",
        action="store_true",
        help="release without applying the held backlog (its pairs are dropped)",
    )


def _now() -> datetime:
    return datetime.now(UTC)


def _seconds(text: str) -> float:
    """Return ``--wait``'s value: a number of seconds from 0 to 600."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 <= value <= 600:
        raise argparse.ArgumentTypeError(f"{text!r}: give 0 to 600 seconds")
    return value


def handle_pause(args: argparse.Namespace) -> int:
    """Pause a rule on every account, or turn the kill switch on (``--all``).

    Then waits for a running tagger to confirm that none of the paused applies
    reaches Mimecast any more; the matches are recorded as held pairs. Exits
    0 once confirmed (or when no tagger process has the state open), 1 when
    the process holding the state did not confirm within ``--wait`` seconds
    (the pause is stored all the same) or when the pause could not be stored.
    """
    config = load(args)
    if bool(args.all) == bool(args.rule):
        raise UserError.single(
            "name one rule to pause, or --all to stop every apply (the kill switch), not both",
            hint="tagger pause RULE [--reason TEXT], or tagger pause --all",
        )
    if args.account is not None and args.all:
        raise UserError.single(
            "--account narrows a rule's pause: give the rule, not --all",
            hint="tagger pause RULE --account NAME; the kill switch (--all) stops every account",
        )
    if args.all:
        return _kill_switch(config.state_path, args.wait)
    with StateStore.open(config.state_path, lock=False) as store:
        sets = load_account_rule_sets(config)
        accounts = [name for name, _ in rule_targets(config, sets, args.rule, args.account)]
        reason = args.reason or "paused by the operator (tagger pause)"
        at = _now()
        for account in accounts:
            store.add_pause(PauseRow(account, args.rule, reason, 0, 0, MANUAL, at))
        confirmed = confirm_stop(store, config.state_path, args.wait)
    if not confirmed.confirmed:
        print(f"rule {args.rule!r} is paused, but {confirmed.text}", file=sys.stderr)
        return exitcodes.FAILURE
    names = ", ".join(accounts)
    print(
        f"rule {args.rule!r} paused on {plural(len(accounts), 'account')} ({names}):"
        f" its matches are recorded as held pairs ({confirmed.text});"
        f" 'tagger resume {args.rule}' applies them"
    )
    return exitcodes.OK


def _kill_switch(state_path: Path, wait_s: float) -> int:
    """Turn the kill switch on (its file beside the state, then its row) and await the confirmation.

    Either one stops every apply: a damaged or unreadable state file only
    earns a warning (and no confirmation can be had through it, which matters
    only when a tagger process holds the state). Returns FAILURE, saying what
    to do instead, when neither can be set or a running process did not confirm.
    """
    at = _now()
    problems: list[str] = []
    try:
        where = set_pause_file(state_path, True, at)
    except StateError as exc:
        where = None
        problems.append(str(exc))
    try:
        with StateStore.open(state_path, lock=False) as store:
            store.set_switch(PAUSE_ALL, True, at)
            confirmed = confirm_stop(store, state_path, wait_s)
    except StateError as exc:
        problems.append(str(exc))
        if where is None:
            for problem in problems:
                print(f"tagger: error: {problem}", file=sys.stderr)
            print(
                "tagger: error: the kill switch could NOT be set; stop the daemon instead "
                "(e.g. `systemctl stop tagger`): a stopped daemon applies nothing",
                file=sys.stderr,
            )
            return exitcodes.FAILURE
        print(
            f"warning: the state file could not record the kill switch ({exc}); "
            f"its file {where} is set, and that alone stops every apply",
            file=sys.stderr,
        )
        if lock_held(state_path):
            print(
                "the kill switch is on, but the running tagger could not confirm it through the"
                " damaged state file: stop it (systemctl stop tagger) to be sure",
                file=sys.stderr,
            )
            return exitcodes.FAILURE
        print("every apply is paused (cycles still search and record what they would apply)")
        return exitcodes.OK
    if not confirmed.confirmed:
        print(f"the kill switch is on, but {confirmed.text}", file=sys.stderr)
        return exitcodes.FAILURE
    print(
        "every apply is paused (cycles still search and record what they would apply): "
        f"{confirmed.text}; 'tagger resume --all' lifts it"
    )
    return exitcodes.OK


def _release(
    store: StateStore,
    backlog: Backlog,
    args: argparse.Namespace,
    audit: Path | None,
    question: str,
) -> bool | None:
    """Ask, then drop what the release drops; True when confirmed (None: no terminal)."""
    if args.from_now:
        question += f"; drop its {counted(backlog.rows + backlog.expired)} held"
    elif backlog.rows:
        question += f"; apply its {counted(backlog.rows)} held with the next cycle"
    answer = confirm(question, args.yes or not (backlog.rows or backlog.expired or backlog.stale))
    if answer is not True:
        return answer
    at = _now()
    drop_stale(store, backlog, at, audit)
    if args.from_now:
        drop(store, backlog.rows + backlog.expired, FROM_NOW, at, audit)
    return True


def _refused(answer: bool | None, what: str) -> int:
    if answer is None:
        print(
            f"refusing to {what} without confirmation: no terminal to ask on; run again with"
            " --yes (or --from-now --yes to drop the held backlog)",
            file=sys.stderr,
        )
    else:
        print(f"not {what}d")
    return exitcodes.FAILURE


def _applied_note(backlog: Backlog, from_now: bool) -> str:
    if from_now:
        return f"{counted(backlog.rows + backlog.expired)} dropped (the audit report says so)"
    if not backlog.rows:
        return "nothing held to apply"
    return f"{counted(backlog.rows)} applied by the next cycle, paced by the quota, each once"


def handle_resume(args: argparse.Namespace) -> int:
    """Lift the kill switch (``--all``: its file and row) or a rule's pause, with held pairs."""
    config = load(args)
    if not args.all and not args.rule:
        raise UserError.single("name the rule to resume, or --all to lift the kill switch")
    if args.account is not None and not args.rule:
        raise UserError.single(
            "--account narrows a rule's resume: give the rule",
            hint="tagger resume RULE --account NAME; tagger resume --all lifts the kill switch",
        )
    audit = config.audit_path
    with StateStore.open(config.state_path, lock=False) as store:
        now = _now()
        if args.all:
            # A disabled account's pairs wait for the account, not for the switch.
            enabled = {a.name for a in config.accounts if a.enabled}
            rows = [
                r
                for r in store.held_rows()
                if r.reason == KILL_SWITCH or (r.reason == DISABLED and r.account in enabled)
            ]
            backlog = Backlog.of(rows, now)
            for line in describe(backlog, "held by the kill switch (or an account since enabled)"):
                print(line)
            answer = _release(store, backlog, args, audit, "lift the kill switch")
            if answer is not True:
                return _refused(answer, "resume")
            set_pause_file(config.state_path, False, _now())
            store.set_switch(PAUSE_ALL, False, _now())
            print(
                "the kill switch is off: applies resume with the next cycle;"
                f" held: {_applied_note(backlog, args.from_now)}"
            )
        if args.rule:
            if args.account is not None:
                check_account(config, args.account)
            mine = [p for p in store.pauses(args.account)]
            paused = [p for p in mine if p.rule_id == args.rule]
            sets = _rule_sets(config)
            if not paused:
                ids = _rule_ids(sets, args.account)
                pauses = {p.rule_id for p in mine}
                if ids is not None and args.rule not in ids:
                    files = config.every_rule_path
                    if sets is not None and args.account is not None:
                        files = sets.files.get(args.account, files)
                    raise unknown_rule(args.rule, ids | pauses, files, args.account)
                others = ", ".join(sorted(pauses)) or "none"
                where = "" if args.account is None else f" on account {args.account}"
                print(
                    f"rule {args.rule!r} is not paused{where} (paused rules: {others})",
                    file=sys.stderr,
                )
                return exitcodes.FAILURE
            held = store.held_rows(account=args.account, rule_ids=[args.rule])
            rows = [r for r in held if r.reason in (PAUSED, LIMIT)]
            backlog = _backlog(rows, now, sets, args.rule)
            why = "; ".join(sorted({f"{p.account}: {p.reason}" for p in paused}))
            since = min(p.paused_at for p in paused)
            print(f"rule {args.rule!r} paused since {since:%Y-%m-%d %H:%M}Z ({why})")
            for line in describe(backlog, "held while paused"):
                print(line)
            answer = _release(store, backlog, args, audit, f"resume {args.rule!r}")
            if answer is not True:
                return _refused(answer, "resume")
            lifted = store.lift_pause(args.rule, args.account)
            print(
                f"rule {args.rule!r} resumed on {plural(lifted, 'account')};"
                f" held: {_applied_note(backlog, args.from_now)}"
            )
    return exitcodes.OK


def _rule_sets(config: Any) -> AccountRuleSets | None:
    """Return every account's rule set; None: the rule files do not load."""
    try:
        return load_account_rule_sets(config)
    except UserError:
        return None


def _rule_ids(sets: AccountRuleSets | None, account: str | None) -> set[str] | None:
    """Return every rule id of ``account``'s set (None: of every set), disabled too.

    None when the rule files do not load.
    """
    if sets is None:
        return None
    if account is None:
        return sets.all_ids()
    return {r.id for r in sets.of(account).all_rules()}


def _backlog(
    rows: list[HeldRow], now: datetime, sets: AccountRuleSets | None, rule_id: str
) -> Backlog:
    """Sort held ``rows`` of ``rule_id`` by what a release does, each against its account's rule.

    A pair of a definition other than its account's current one is stale;
    when the rules do not load, any definition is current.
    """
    by_account: dict[str, list[HeldRow]] = {}
    for row in rows:
        by_account.setdefault(row.account, []).append(row)
    live: list[HeldRow] = []
    expired: list[HeldRow] = []
    stale: list[HeldRow] = []
    for account, mine in by_account.items():
        rule = None if sets is None else sets.of(account).get(rule_id)
        part = Backlog.of(mine, now, None if rule is None else rule.content_hash)
        live += part.rows
        expired += part.expired
        stale += part.stale
    return Backlog(tuple(live), tuple(expired), tuple(stale))


def _print_sample(path: Path, rule_id: str, content_hash: str) -> None:
    """Print up to five of the rule's latest audit-only matches with their explanations."""
    try:
        sample = audit_sample(path, rule_id, content_hash)
    except OSError as exc:
        print(f"cannot read the audit file {path}: {exc.strerror or exc}", file=sys.stderr)
        return
    if not sample:
        print(f"no audit-only match of this definition in {path} yet")
        return
    print(f"its latest {len(sample)} audit-only matches (from {path}):")
    for entry in sample:
        tags = ", ".join(str(t) for t in entry.get("tags") or [])
        print(
            f"  {entry.get('received') or entry.get('timestamp')} {entry.get('message_id')}"
            f" from {entry.get('sender')}: {entry.get('subject')!r} -> {tags}"
        )
        for line in explanation_lines(entry.get("explanation")):
            print(f"      {line}")


def handle_promote(args: argparse.Namespace) -> int:
    """Show the rule's held pairs and audit sample, confirm, then record its id and hash.

    The promotion holds on every account when every account runs the
    top-level rules (no ``accounts[].rules``); else on each account whose
    rule set holds the rule (``--account``: that one), for its definition
    there. The next cycle applies the held pairs of this definition (or none
    with ``--from-now``); those of earlier definitions are dropped.
    """
    config = load(args)
    sets = load_account_rule_sets(config)
    targets = rule_targets(config, sets, args.rule, args.account)
    disabled = [name for name, rule in targets if not rule.enabled]
    if disabled:
        where = "" if not config.per_account_rules else f" on {', '.join(disabled)}"
        raise UserError.single(
            f"rule {args.rule!r} is disabled (enabled: false){where}: nothing to promote",
            hint="enable it and reload; it then audits until promoted",
        )
    shared = args.account is None and not config.per_account_rules
    with StateStore.open(config.state_path, lock=False) as store:
        now = _now()
        names = [name for name, _ in targets]
        held = store.held_rows(rule_ids=[args.rule])
        rows = [r for r in held if r.reason == AWAITING and (shared or r.account in names)]
        backlog = _backlog(rows, now, sets, args.rule)
        todo = [(n, r) for n, r in targets if (r.id, r.content_hash) not in store.promotions(n)]
        if not todo:
            where = "" if shared else _on(names)
            print(f"rule {args.rule!r} is already promoted in its current definition{where}")
            if backlog.stale:
                drop_stale(store, backlog, now, config.audit_path)
            return exitcodes.OK
        for rule in _definitions(todo):
            print(f"rule {rule.id!r} (hash {rule.content_hash[:12]}) awaits promotion")
        for line in describe(backlog, "held until promoted"):
            print(line)
        print("see 'tagger report' on the audit file for each match with its explanation")
        if config.audit_path is not None:
            for rule in _definitions(todo):
                _print_sample(config.audit_path, rule.id, rule.content_hash)
        where = "" if shared else _on([n for n, _ in todo])
        question = f"promote {args.rule!r}{where}: it applies its tags"
        answer = _release(store, backlog, args, config.audit_path, question)
        if answer is not True:
            return _refused(answer, "promote")
        at = _now()
        for name, rule in todo:
            store.promote(rule.id, rule.content_hash, at, EVERY_ACCOUNT if shared else name)
    print(
        f"rule {args.rule!r} promoted{where}: it applies its tags from the"
        f" next cycle; held: {_applied_note(backlog, args.from_now)}"
    )
    return exitcodes.OK


def _on(accounts: list[str]) -> str:
    """Return `` on account a, b`` for a message (empty for the single-rule-set case)."""
    if not accounts:
        return ""
    return f" on {plural(len(accounts), 'account')} ({', '.join(accounts)})"


def _definitions(targets: list[tuple[str, CompiledRule]]) -> list[CompiledRule]:
    """Return the distinct definitions (content hashes) of the rule among ``targets``."""
    return list({r.content_hash: r for _, r in targets}.values())
