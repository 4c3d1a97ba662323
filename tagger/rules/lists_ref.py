"""``in_list``: a field test naming a shared list, resolved against the lists read with the rules.

``{field: sender.domain, in_list: newsletters}`` holds when the value is in
the list: for a domains list, when its domain is a listed domain or one of
their subdomains; for an addresses or strings list, when the whole value is
an entry; for a regexes list, when an entry matches somewhere in it. Which
kinds of list fit which kinds of field is :data:`FIELD_KINDS`.

The rule's content hash names every list it tests together with the list's
digest (unless the list opts out with ``hash: false``): see
:func:`list_hashes`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tagger.config.lists import ListKind
from tagger.rules.field_model import TEXTUAL, Field, Kind
from tagger.rules.lists_read import ListCatalog, SharedList
from tagger.rules.nodes import Node
from tagger.rules.operands import OperandError
from tagger.yamldoc.suggest import did_you_mean

IN_LIST = "in_list"

FIELD_KINDS: dict[ListKind, frozenset[Kind]] = {
    "domains": frozenset({"address", "domain"}),
    "addresses": frozenset({"address"}),
    "strings": TEXTUAL,
    "regexes": TEXTUAL,
}
"""The field kinds each kind of list can test."""

_INSTEAD: dict[ListKind, str] = {
    "domains": "test a domain or address field (sender.domain, from.domain, recipients.domain)",
    "addresses": "test an address field (sender.address, from.address, recipients.address)",
    "strings": "test a text, address or domain field",
    "regexes": "test a text, address or domain field",
}


class ListUnavailable(Exception):
    """The rule names a list that is declared but could not be read (reported already)."""


@dataclass(frozen=True, eq=False, slots=True)
class ListRef:
    """The operand of an ``in_list`` test: the list it names."""

    shared: SharedList

    @property
    def reads_folded(self) -> bool:
        """Whether the test reads case-folded values (see :attr:`SharedList.reads_folded`)."""
        return self.shared.reads_folded

    def test(self, value: str) -> bool:
        """Return whether ``value`` is in the list."""
        return self.shared.matcher.find(value) is not None

    def matched_entry(self, value: str) -> str | None:
        """Return which entry ``value`` matched, for explanations (None: none did)."""
        index = self.shared.matcher.find(value)
        if index is None:
            return None
        shared = self.shared
        where = f"{shared.spec.path}:{shared.lines[index]}"
        return f"list {shared.name}, entry '{shared.entries[index]}' ({where})"


def resolve_list(name: str, field: Field, catalog: ListCatalog | None) -> ListRef:
    """Return the reference to the list ``name`` for a test on ``field``.

    Raises:
        OperandError: no list has that name (with did-you-mean, or how to
            declare lists), or the list's kind cannot test the field.
        ListUnavailable: the list is declared but its file had problems.
    """
    catalog = catalog if catalog is not None else ListCatalog()
    shared = catalog.lists.get(name)
    if shared is None:
        if name in catalog.broken:
            raise ListUnavailable(name)
        declared = catalog.declared()
        if not declared:
            where = f"in {catalog.config}" if catalog.config else "in config.yaml"
            hint = (
                f"declare it under 'lists:' {where}, and give that configuration to this "
                "command: -c FILE (or $TAGGER_CONFIG, read when no rule paths are given)"
            )
            raise OperandError(f"unknown list '{name}': no lists are declared", hint)
        hint = did_you_mean(name, declared) or "declared lists: " + ", ".join(sorted(declared))
        raise OperandError(f"unknown list '{name}'", hint)
    kind = shared.spec.kind
    if field.kind not in FIELD_KINDS[kind]:
        raise OperandError(
            f"list '{name}' holds {kind}, which cannot test {field.name} ({field.type_name})",
            _INSTEAD[kind],
        )
    return ListRef(shared)


def lists_used(nodes: Iterable[Node | None]) -> dict[str, SharedList]:
    """Return every list the condition trees test, by name."""
    found: dict[str, SharedList] = {}
    stack = [n for n in nodes if n is not None]
    while stack:
        node = stack.pop()
        operand = node.leaf.operand if node.leaf is not None else None
        if isinstance(operand, ListRef):
            found[operand.shared.name] = operand.shared
        stack.extend(node.children)
    return found


def list_hashes(nodes: Iterable[Node | None]) -> dict[str, str]:
    """Return what a rule's content hash records of the lists it tests.

    Each list by name: its kind and, unless it sets ``hash: false``, the
    digest of its entries (so a change to the list changes the rule's hash);
    with ``hash: false`` the word ``unhashed`` in place of the digest.
    """
    return {
        name: f"{shared.spec.kind}:{shared.digest if shared.spec.hash else 'unhashed'}"
        for name, shared in sorted(lists_used(nodes).items())
    }
