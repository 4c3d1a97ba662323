"""Compile a condition tree written in YAML into :class:`~tagger.rules.nodes.Node`.

A condition is a mapping that is either a group — exactly one of ``all``
(list), ``any`` (list) or ``not`` (one condition) — or a field test:
``field`` plus exactly one operator, with the optional modifiers
``case_sensitive``, ``elements`` (lists: ``any`` or ``all``) and ``flags``
(regex). Every problem is reported, located; a broken subtree compiles to
``None`` and the caller keeps going so one run reports everything.
"""

from __future__ import annotations

from typing import Any

from tagger.errors import Severity
from tagger.rules.field_model import TEXTUAL, Field
from tagger.rules.fields import FIELDS
from tagger.rules.lists_read import ListCatalog
from tagger.rules.lists_ref import IN_LIST, ListUnavailable, resolve_list
from tagger.rules.matchers import REGEX_FLAGS
from tagger.rules.nodes import Leaf, Node, Path, group, leaf_node, negate
from tagger.rules.operands import OperandError, Options
from tagger.rules.operators import OPERATORS, Operator, operators_for
from tagger.words import show
from tagger.yamldoc.problems import Problems
from tagger.yamldoc.suggest import did_you_mean

GROUP_KEYS = ("all", "any", "not")
MODIFIER_KEYS = ("field", "case_sensitive", "elements", "flags")
CONDITION_KEYS = GROUP_KEYS + MODIFIER_KEYS + tuple(OPERATORS)


def leaf_label(leaf: Leaf) -> str:
    """Return e.g. ``attachments.extension (all elements) in ['exe', 'js']``."""
    parts = [leaf.field.name]
    if leaf.field.is_list and leaf.elements == "all":
        parts.append("(all elements)")
    parts += [leaf.operator.name, show(leaf.raw)]
    if leaf.options.case_sensitive:
        parts.append("(case-sensitive)")
    if leaf.options.flags:
        parts.append("(flags: " + ", ".join(leaf.options.flags) + ")")
    return " ".join(parts)


class ConditionCompiler:
    """Compiles condition mappings, reporting problems to a :class:`Problems`.

    ``lists`` are the shared lists an ``in_list`` test may name (None: none declared).
    """

    def __init__(self, reporter: Problems, lists: ListCatalog | None = None) -> None:
        self.reporter = reporter
        self.lists = lists

    def compile(self, data: Any, path: Path) -> Node | None:
        """Return the node for the condition ``data`` found at ``path``, or None if broken."""
        if not isinstance(data, dict):
            self.reporter.add(
                path,
                "a condition must be a mapping: 'all', 'any', 'not', or 'field' with an operator",
                at_value=True,
            )
            return None
        groups = [k for k in GROUP_KEYS if k in data]
        if groups:
            others = [k for k in data if k not in GROUP_KEYS and k in CONDITION_KEYS]
            if len(groups) > 1 or others:
                keys = ", ".join(repr(k) for k in groups + others)
                self.reporter.add(
                    path,
                    f"a condition mapping takes exactly one of 'all', 'any', 'not' or a field "
                    f"test, found {keys}",
                    "nest them: put the parts in a list under 'all'",
                    at_value=False,
                )
                return None
            return self._group(groups[0], data[groups[0]], path)
        return self._leaf(data, path)

    def _group(self, kind: str, value: Any, path: Path) -> Node | None:
        here = (*path, kind)
        if kind == "not":
            child = self.compile(value, here)
            return None if child is None else negate(child, path)
        if not isinstance(value, list):
            self.reporter.add(here, f"'{kind}' takes a list of conditions", at_value=True)
            return None
        if not value:
            meaning = "always holds" if kind == "all" else "never holds"
            self.reporter.add(
                here,
                f"empty '{kind}': an empty '{kind}' {meaning}",
                "add conditions or remove the group",
                at_value=False,
            )
            return None
        children = [self.compile(item, (*here, i)) for i, item in enumerate(value)]
        if any(c is None for c in children):
            return None
        return group("all" if kind == "all" else "any", [c for c in children if c], path)

    def _leaf(self, data: dict[Any, Any], path: Path) -> Node | None:
        """Return the node of the field test ``data`` at ``path``, or None (reported) if broken."""
        field = self._field(data, path)
        if field is None:
            return None
        op = self._operator(data, path, field)
        if op is None:
            return None
        options = self._options(data, path, field, op.name)
        elements = self._elements(data, path, field)
        if options is None or elements is None:
            return None
        try:
            operand = op.parse(data[op.name], field, options)
            if op.name == IN_LIST:
                operand = resolve_list(operand, field, self.lists)
        except OperandError as exc:
            self.reporter.add((*path, op.name), str(exc), exc.hint, at_value=True)
            return None
        except ListUnavailable:
            return None  # the list file's own problems are reported
        leaf = Leaf(field, op, operand, data[op.name], options, elements)
        self._check_values(leaf, path)
        return leaf_node(leaf, path, leaf_label(leaf))

    def _field(self, data: dict[Any, Any], path: Path) -> Field | None:
        """Return the field a test names, or None (reported) when it names none or no known one."""
        name = data.get("field")
        if name is None:
            # An unknown key (a misspelt 'field') is reported by the schema already.
            if all(k in CONDITION_KEYS for k in data):
                self.reporter.add(
                    path,
                    "a condition needs 'field' and an operator, or 'all', 'any', 'not'",
                    at_value=False,
                )
            return None
        if not isinstance(name, str) or name not in FIELDS:
            hint = did_you_mean(str(name), FIELDS) or "see the field catalogue: tagger help rules"
            self.reporter.add((*path, "field"), f"unknown field {show(name)}", hint, at_value=True)
            return None
        return FIELDS[name]

    def _operator(self, data: dict[Any, Any], path: Path, field: Field) -> Operator | None:
        """Return the one operator of a test on ``field``, or None (reported).

        Refused: no operator, several, or one that does not apply to the field's kind.
        """
        report = self.reporter.add
        name = field.name
        ops = [k for k in data if k in OPERATORS]
        if not ops:
            unknown = [str(k) for k in data if k not in CONDITION_KEYS]
            if unknown:
                # The schema reports the unknown key; say which operators this field takes.
                report(
                    path,
                    f"'{unknown[0]}' is not an operator of {name} ({field.type_name})",
                    "use one of: " + ", ".join(operators_for(field.kind)),
                    at_value=False,
                )
                return None
            report(
                path,
                f"condition on {name} has no operator",
                "use one of: " + ", ".join(operators_for(field.kind)),
                at_value=False,
            )
            return None
        if len(ops) > 1:
            report(
                path,
                "a condition takes one operator, found " + ", ".join(ops),
                "combine several tests with 'all' or 'any'",
                at_value=False,
            )
            return None
        op = OPERATORS[ops[0]]
        if field.kind not in op.kinds:
            message = f"operator '{op.name}' does not apply to {name} ({field.type_name})"
            if op.name == IN_LIST:
                message = (
                    f"list {show(data[op.name])} cannot test {name} ({field.type_name}): "
                    "in_list tests text, address and domain fields"
                )
            report(
                (*path, op.name),
                message,
                "use one of: " + ", ".join(operators_for(field.kind)),
                at_value=False,
            )
            return None
        return op

    def _options(self, data: dict[Any, Any], path: Path, field: Field, op: str) -> Options | None:
        case = data.get("case_sensitive", False)
        flags = data.get("flags", [])
        ok = True
        if not isinstance(case, bool):
            self.reporter.add(
                (*path, "case_sensitive"), "'case_sensitive' takes true or false", at_value=True
            )
            ok = False
        elif case and op == IN_LIST:
            self.reporter.add(
                (*path, "case_sensitive"),
                "'case_sensitive' belongs to the list, not to an in_list test",
                "set case_sensitive: true on the list under 'lists:' in the config "
                "(strings and regexes lists)",
                at_value=False,
            )
            ok = False
        elif case and (field.kind not in TEXTUAL or op == "domain"):
            self.reporter.add(
                (*path, "case_sensitive"),
                f"'case_sensitive' has no effect on {op} over {field.type_name}",
                at_value=False,
            )
            ok = False
        if "flags" in data and op != "regex":
            self.reporter.add((*path, "flags"), "'flags' only applies to 'regex'", at_value=False)
            return None
        if not isinstance(flags, list) or any(f not in REGEX_FLAGS for f in flags):
            bad = (
                next((f for f in flags if f not in REGEX_FLAGS), flags)
                if isinstance(flags, list)
                else flags
            )
            self.reporter.add(
                (*path, "flags"),
                f"unknown regex flag {show(bad)}",
                did_you_mean(str(bad), REGEX_FLAGS) or "flags are: " + ", ".join(REGEX_FLAGS),
                at_value=True,
            )
            return None
        return Options(case_sensitive=bool(case), flags=tuple(flags)) if ok else None

    def _elements(self, data: dict[Any, Any], path: Path, field: Field) -> Any:
        if "elements" not in data:
            return "any"
        value = data["elements"]
        if not field.is_list:
            self.reporter.add(
                (*path, "elements"),
                f"'elements' only applies to list fields; {field.name} is {field.type_name}",
                at_value=False,
            )
            return None
        if value not in ("any", "all"):
            self.reporter.add(
                (*path, "elements"),
                f"'elements' is 'any' or 'all', not {show(value)}",
                did_you_mean(str(value), ("any", "all")),
                at_value=True,
            )
            return None
        return value

    def _check_values(self, leaf: Leaf, path: Path) -> None:
        """Flag equality operands outside the values Mimecast reports for the field."""
        field = leaf.field
        if not field.values or leaf.operator.name not in ("equals", "in"):
            return
        known = {v.casefold() for v in field.values}
        given = leaf.raw if isinstance(leaf.raw, list) else [leaf.raw]
        bad = [v for v in given if str(v).casefold() not in known]
        if not bad:
            return
        never = len(bad) == len(given)
        severity: Severity = "error" if field.strict and never else "warning"
        what = "this condition can never hold" if never else "that value never matches"
        self.reporter.add(
            (*path, leaf.operator.name),
            f"{show(bad[0])} is not a value of {field.name} ({', '.join(field.values)}): {what}",
            did_you_mean(str(bad[0]), field.values),
            severity=severity,
            at_value=True,
        )
