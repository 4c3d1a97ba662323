"""``tagger report AUDIT.jsonl…``: summarise audit files as text, one HTML page, or CSV.

Without ``--html``/``--csv`` a per-rule summary is printed. ``--html FILE``
writes one self-contained page (no external assets), ``--csv FILE`` one row
per entry (``-`` writes either to standard output). With ``-c`` (or
``--rules``) the rule files are read too: rules that matched nothing are
listed, and each rule's description, owner, references and dates are shown;
with ``-c`` each rule's state is read from the state file too (enforcing,
awaiting promotion since…, paused since… and why, with the pairs held).
Every count is of distinct messages and tags: an entry repeated, or a
message audited then applied, counts once, its outcomes side by side.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from tagger import exitcodes
from tagger.audit import read_records, summarise
from tagger.audit.csvout import write_csv
from tagger.audit.files import is_link_refusal, open_private
from tagger.audit.html import render_html
from tagger.audit.records import AuditRecord
from tagger.audit.summary import RuleMeta, text_lines
from tagger.cli.common import lists_from_args
from tagger.cli.rulestate import rule_states
from tagger.cli.timeargs import parse_when
from tagger.config import Config
from tagger.errors import UserError
from tagger.rules import RuleSet, load_rules
from tagger.rules.accountsets import load_account_rule_sets

MODES = ("live", "dry-run", "audit")


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    """Add the ``report`` sub-command."""
    parser = sub.add_parser(
        "report",
        parents=[parent],
        help="summarise audit files: per-rule counts, HTML page, CSV",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
    )
    parser.add_argument(
        "files", nargs="+", metavar="AUDIT.jsonl", help="audit files (rotated copies too)"
    )
    parser.add_argument("--html", metavar="FILE", help="write a self-contained HTML report")
    parser.add_argument("--csv", metavar="FILE", help="write one CSV row per entry")
    parser.add_argument("--mode", choices=MODES, action="append", help="only entries of MODE")
    parser.add_argument("--rule", metavar="ID", action="append", help="only entries of rule ID")
    parser.add_argument("--since", metavar="T", help="only mail received since T (7d, ISO 8601)")
    parser.add_argument("--until", metavar="T", help="only mail received before T")
    parser.add_argument(
        "--rules",
        metavar="PATH",
        action="append",
        help="rule files or directories, for metadata and rules without matches "
        "(default: the config's rules when -c is given)",
    )
    parser.add_argument(
        "--sample", type=int, default=5, metavar="N", help="latest matches shown per rule"
    )
    parser.set_defaults(handler=handle)


def _rules(args: argparse.Namespace) -> tuple[RuleSet | None, Config | None]:
    """Return the rule set named by ``--rules`` or the config (None: neither), and the config."""
    config = None
    if getattr(args, "config", None) or os.environ.get("TAGGER_CONFIG"):
        from tagger.config import default_config_path, load_config

        config = load_config(default_config_path(given=getattr(args, "config", None)))
    if args.rules:
        lists = config.lists if config is not None else lists_from_args(args)
        return load_rules([Path(p) for p in args.rules], lists), config
    if config is not None:
        sets = load_account_rule_sets(config)
        if not sets.own:
            return sets.default, config
        # Every account's rules, for their metadata: an id's first definition.
        rules = {r.id: r for s in (*sets.own.values(), sets.default) for r in s.all_rules()}
        return RuleSet(tuple(rules.values())), config
    return None, None


def _meta(ruleset: RuleSet | None, config: Config | None) -> dict[str, RuleMeta]:
    """Return each rule's metadata, with its state when the config (and state file) are at hand."""
    if ruleset is None:
        return {}
    states = rule_states(config, ruleset) if config is not None else {}
    return {
        r.id: RuleMeta(
            description=r.description,
            owner=r.meta.owner,
            references=r.meta.references,
            created=r.meta.created,
            modified=r.meta.modified,
            status=r.meta.status,
            level=r.meta.level,
            author=r.meta.author,
            falsepositives=r.meta.falsepositives,
            state=states.get(r.id, ""),
        )
        for r in ruleset.all_rules()
    }


def _select(records: Iterable[AuditRecord], args: argparse.Namespace) -> list[AuditRecord]:
    now = datetime.now(UTC)
    since = parse_when(args.since, "--since", now) if args.since else None
    until = parse_when(args.until, "--until", now) if args.until else None
    out = []
    for r in records:
        if args.mode and r.mode not in args.mode:
            continue
        if args.rule and r.rule not in args.rule:
            continue
        when = r.when
        if since is not None and (when is None or when < since):
            continue
        if until is not None and (when is None or when >= until):
            continue
        out.append(r)
    return out


def _open(target: str) -> TextIO:
    if target == "-":
        return sys.stdout
    path = Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Mode 0600 and no symbolic link followed: the report holds mail subjects and addresses.
    return os.fdopen(open_private(path, append=False), "w", encoding="utf-8", newline="")


def _write(target: str, text_or_rows: str | Sequence[AuditRecord]) -> None:
    """Write the report to ``target``; raises UserError naming the file when it cannot."""
    try:
        out = _open(target)
    except OSError as exc:
        why = (
            "it is a symbolic link, which tagger does not follow for the files it writes;"
            " give the real path"
            if is_link_refusal(exc)
            else f"{exc.strerror or exc}"
        )
        raise UserError.single(f"cannot write the report: {why}", file=target) from None
    try:
        if isinstance(text_or_rows, str):
            out.write(text_or_rows)
        else:
            write_csv(text_or_rows, out)
    finally:
        if out is not sys.stdout:
            out.close()


def handle(args: argparse.Namespace) -> int:
    """Read the audit files and write what was asked; 0, or 2 when a file cannot be read."""
    paths = [Path(f) for f in args.files]
    try:
        records, problems = read_records(paths)
    except OSError as exc:
        raise UserError.single(
            f"cannot read audit file: {exc.strerror}", file=str(exc.filename or "")
        ) from None
    for problem in problems:
        print(problem, file=sys.stderr)
    records = _select(records, args)
    ruleset, config = _rules(args)
    rule_ids = [r.id for r in ruleset.all_rules()] if ruleset is not None else []
    if args.rule:
        rule_ids = [r for r in rule_ids if r in args.rule]
    meta = _meta(ruleset, config)
    summary = summarise(records, rules=rule_ids, meta=meta, sample=max(0, args.sample))
    if args.csv:
        _write(args.csv, records)
    if args.html:
        _write(args.html, render_html(summary, [str(p) for p in paths], datetime.now(UTC)))
    if "-" not in (args.csv, args.html):
        for line in text_lines(summary):
            print(line)
        for label, target in (("CSV", args.csv), ("HTML", args.html)):
            if target:
                print(f"{label} report: {Path(target).resolve()}")
    return exitcodes.OK
