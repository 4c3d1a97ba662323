"""The one rule loader: files -> schema check -> compile -> logic checks -> RuleSet.

``validate``, ``test``, ``explain`` and the daemon all load rules through
:func:`check_rule_files` (or :func:`load_rules`, which raises on errors), so
they can never disagree about what a rule means or whether it is valid.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tagger.config.lists import ListSpec
from tagger.errors import Problem, UserError
from tagger.rules.checks import check_rule
from tagger.rules.compile import compile_rule
from tagger.rules.lists_read import ListCatalog, read_lists
from tagger.rules.model import CompiledRule, RuleSet
from tagger.yamldoc.gcpause import paused_gc
from tagger.yamldoc.problems import Problems
from tagger.yamldoc.schema import schema_problems
from tagger.yamldoc.source import Located, load_yaml_file

SCHEMA_FILE = Path(__file__).with_name("rules.schema.json")
RULE_SUFFIXES = (".yaml", ".yml")


@functools.cache
def rules_schema() -> dict[str, Any]:
    """Return the rule-file JSON Schema shipped in the package."""
    schema: dict[str, Any] = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    return schema


def rule_files(paths: Sequence[Path]) -> tuple[list[Path], list[Problem]]:
    """Expand ``paths`` (files, or directories holding ``*.yaml``/``*.yml``) to rule files.

    Directories are not searched recursively (fixtures live in subfolders).
    Returns the files in a stable order, each once, and problems for missing
    paths or when no file is found at all.
    """
    files: list[Path] = []
    problems: list[Problem] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix in RULE_SUFFIXES and p.is_file())
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            problems.append(Problem("no such file or directory", file=str(path)))
    unique = list(dict.fromkeys(files, None))
    if not unique and not problems:
        where = ", ".join(str(p) for p in paths) or "(no paths given)"
        problems.append(Problem(f"no rule files (*.yaml) found in {where}"))
    return unique, problems


def _under(path: str, parents: set[str]) -> bool:
    """Whether ``path`` is one of ``parents`` or lies below one (``a.b``, ``a[0]`` below ``a``)."""
    if path in parents:
        return True
    # Each '.' or '[' ends an ancestor: a set lookup each, never a scan of ``parents``.
    return any(path[:i] in parents for i, char in enumerate(path) if char in ".[")


def _load_file(file: Path) -> tuple[Located | None, list[Problem]]:
    try:
        doc = load_yaml_file(file)
    except UserError as exc:
        return None, list(exc.problems)
    if doc.data is None:
        hint = "start the file with 'rules:' and a list of rules"
        return None, [Problem("the file is empty", file=doc.file, line=1, column=1, hint=hint)]
    if isinstance(doc.data, list):
        hint = "put the list under a 'rules:' key"
        message = "a rule file is a mapping with 'rules:', not a bare list"
        return None, [Problem(message, file=doc.file, line=1, column=1, hint=hint)]
    return doc, schema_problems(doc, rules_schema())


def check_rule_files(
    paths: Sequence[Path], lists: Sequence[ListSpec] = ()
) -> tuple[RuleSet | None, list[Problem]]:
    """Load, validate and compile every rule in ``paths``.

    ``lists`` are the shared lists the config declares: their files are read
    here, with the rules, so their problems are reported with the rules'.
    Returns the rule set (None when there is any error) and every problem
    found, errors and warnings: the lists' first, then the rules' in file
    order. Never raises for bad input.
    """
    # A large rule set is built in one go and kept: the collector's passes over
    # the growing set would cost more than the work itself (see paused_gc).
    with paused_gc():
        catalog, list_problems = read_lists(lists)
        return _check_rule_files(paths, catalog, list_problems)


def _check_rule_files(
    paths: Sequence[Path], catalog: ListCatalog, list_problems: list[Problem]
) -> tuple[RuleSet | None, list[Problem]]:
    files, problems = rule_files(paths)
    compiled: list[CompiledRule] = []
    first_ids: dict[str, tuple[Located, tuple[str | int, ...]]] = {}
    for file in files:
        doc, schema = _load_file(file)
        problems.extend(schema)
        if doc is None:
            continue
        reporter, duplicates = Problems(doc), Problems(doc)
        items = doc.data.get("rules") if isinstance(doc.data, dict) else None
        for index, data in enumerate(items if isinstance(items, list) else []):
            path = ("rules", index)
            rule = compile_rule(data, path, reporter, file.parent, catalog)
            _check_duplicate(data, path, duplicates, first_ids)
            if rule is not None:
                check_rule(rule, path, reporter)
                compiled.append(rule)
        reported = {p.path for p in schema if p.path}
        problems.extend(p for p in reporter.problems if not _under(p.path, reported))
        # A duplicate id is reported with the rule's schema errors (a missing key
        # elsewhere in the rule does not hide it), unless the id itself is wrong.
        problems.extend(p for p in duplicates.problems if p.path not in reported)
    order = {str(f): i for i, f in enumerate(files)}
    problems.sort(key=lambda p: (order.get(p.file, -1), p.line, p.column))
    # The lists' problems first, in the order the config declares the lists.
    problems = list_problems + problems
    if any(p.severity == "error" for p in problems):
        return None, problems
    return build_ruleset(compiled, problems, files), problems


def _check_duplicate(
    data: Any,
    path: tuple[str | int, ...],
    reporter: Problems,
    first_ids: dict[str, tuple[Located, tuple[str | int, ...]]],
) -> None:
    rule_id = data.get("id") if isinstance(data, dict) else None
    if not isinstance(rule_id, str):
        return
    first = first_ids.setdefault(rule_id, (reporter.doc, path))
    if first[1] is path:
        return
    # Located only when there is a duplicate to report.
    doc, first_path = first
    line, column = doc.value_position((*first_path, "id"))
    reporter.add(
        (*path, "id"),
        f"duplicate rule id {rule_id!r}",
        f"first defined at {doc.file}:{line}:{column}",
        at_value=True,
    )


def build_ruleset(
    rules: Sequence[CompiledRule], problems: Sequence[Problem], files: Sequence[Path]
) -> RuleSet:
    """Order compiled rules (priority high to low, then id) and hash the result."""
    ordered = sorted(rules, key=lambda r: (-r.priority, r.id))
    enabled = tuple(r for r in ordered if r.enabled)
    digest = hashlib.sha256("\n".join(r.content_hash for r in enabled).encode()).hexdigest()
    return RuleSet(
        rules=enabled,
        disabled=tuple(r for r in ordered if not r.enabled),
        warnings=tuple(p for p in problems if p.severity == "warning"),
        content_hash=digest,
        files=tuple(str(f) for f in files),
    )


def load_rules(paths: Sequence[Path], lists: Sequence[ListSpec] = ()) -> RuleSet:
    """Load and compile the rules in ``paths`` (files or directories).

    ``lists`` are the shared lists the config declares (read here too).
    Returns the rule set; its ``warnings`` hold non-fatal problems.

    Raises:
        UserError: with every problem found, when any is an error.
    """
    ruleset, problems = check_rule_files(paths, lists)
    if ruleset is None:
        errors = sum(1 for p in problems if p.severity == "error")
        raise UserError(problems, f"invalid rules: {errors} error(s)")
    return ruleset
