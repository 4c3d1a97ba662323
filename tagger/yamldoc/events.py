"""Build YAML data and its source positions straight from the parser's events.

Composing a node tree first (PyYAML's way) costs a Python object per node
plus two marks, and the safe constructor then walks that tree again: for a
rule file of tens of thousands of rules this dominated validation time and
memory. :func:`build_document` reads the event stream once and builds the
same data as ``yaml.safe_load`` directly, keeping only each node's start
(line and column packed into one integer) in one flat array for the whole
document: no object per position or per collection, nothing for the
garbage collector to walk.

It covers what rule and config files use: plain and quoted scalars (plain
ones resolved exactly as the safe loader does), mappings with text keys,
sequences, anchors and aliases. Anything else raises :class:`Unsupported`
and the caller falls back to the node-based builder, which handles every
case and words every error: explicit tags, non-text keys, merge keys
(``<<``, whose details vary between PyYAML versions), duplicate keys or
anchors, recursive or undefined aliases, very deep nesting, a document that
expands too far, several documents, or a value the constructor refuses.
Parser errors propagate unchanged: the node-based builder reads the same
events and would stop at the same one.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Sequence
from typing import Any

import yaml
from yaml.events import (
    AliasEvent,
    DocumentEndEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)

__all__ = ["Positions", "Unsupported", "build_document"]

_STR = "tag:yaml.org,2002:str"
# Plain scalars the safe constructor turns into these types (anything else
# resolved from a plain scalar, such as '<<' or '=', falls back).
_SCALAR_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("null", "bool", "int", "float", "timestamp")
)
# Deeper documents go to the node-based builder, which decides whether they
# are too deep (its walk is recursive).
MAX_DEPTH = 200
# A position is ``line << _SHIFT | column`` (both 0-based, as in yaml marks);
# a collection's entry in the table is ``offset << _SHIFT | count`` in the array.
_SHIFT = 32
_LOW = (1 << _SHIFT) - 1


class Unsupported(Exception):
    """The document needs the node-based builder (an unusual feature or an error)."""


class Positions:
    """Where each node of a document built by :func:`build_document` starts.

    Each mapping and sequence of the data (by identity) owns a run of the
    flat array of start positions: ``key, value, key, value, ...`` in the
    mapping's key order, or one per sequence item. A value shared through an
    alias has the positions of its anchor, as with the node-based builder.
    """

    __slots__ = ("_flat", "_root", "_table")

    def __init__(self, root: int, flat: array[int], table: dict[int, int]) -> None:
        self._root = root
        self._flat = flat
        self._table = table

    def locate(self, data: Any, path: Sequence[str | int], *, value: bool) -> tuple[int, int]:
        """Return the 1-based (line, column) of ``path`` in ``data`` (see ``Located.position``)."""
        node = data
        here = self._root
        for step in path:
            entry = self._table.get(id(node))
            if entry is None:
                break
            offset, count = entry >> _SHIFT, entry & _LOW
            if isinstance(node, dict):
                index = _key_index(node, step)
                if index is None or 2 * index + 1 >= count:
                    break
                here = self._flat[offset + 2 * index + (1 if value else 0)]
                node = node[step]
            elif isinstance(node, list) and isinstance(step, int) and not isinstance(step, bool):
                index = step + len(node) if step < 0 else step
                if not 0 <= index < min(len(node), count):
                    break
                here = self._flat[offset + index]
                node = node[index]
            else:
                break
        return (here >> _SHIFT) + 1, (here & _LOW) + 1


def _key_index(mapping: dict[Any, Any], step: Any) -> int | None:
    """Return the position of key ``step`` in ``mapping``'s order, or None."""
    try:
        if step not in mapping:
            return None
    except TypeError:  # unhashable step: cannot be a key
        return None
    for index, key in enumerate(mapping):
        if key == step:
            return index
    return None  # pragma: no cover - membership was just checked


_NO_KEY = object()


def build_document(loader: yaml.SafeLoader, max_alias_nodes: int) -> tuple[Any, Positions] | None:
    """Read one document from ``loader``'s events; return (data, positions), or None if empty.

    ``max_alias_nodes`` bounds how many nodes aliases may add to the document.

    Raises:
        Unsupported: anything this builder does not handle, errors included
        (the caller re-reads the text with the node-based builder).
    """
    try:
        return _build(loader, max_alias_nodes)
    except RecursionError:
        raise Unsupported from None


def _construct(loader: yaml.SafeLoader, constructor: Any, tag: str, text: str) -> Any:
    """Build the value of a plain scalar resolved to ``tag`` (an int, a date, ...)."""
    try:
        return constructor(loader, yaml.ScalarNode(tag, text))
    except Exception:  # e.g. an impossible date: the node builder words it
        raise Unsupported from None


def _build(loader: yaml.SafeLoader, max_alias_nodes: int) -> tuple[Any, Positions] | None:
    """Read the events of one document; return (data, positions), or None if empty.

    Raises :class:`Unsupported` (see :func:`build_document`).

    Longer than the house limit on purpose: this loop runs once per node of
    a possibly huge file, so the open collection's state stays in local
    variables (its parents' on a stack) and every event is handled inline.
    Moving the scalar case alone into a helper made building 3-6% slower
    (6,000 rich or 20,000 compact generated rules); only the setup and the
    rare paths (a plain text not seen before, anchors, aliases) are helpers.
    """
    get: Callable[[], Any] = loader.get_event
    get()  # stream start
    if type(get()) is StreamEndEvent:
        return None
    resolve_plain = _plain_resolver(loader)
    plain: dict[str, Any] = {}  # plain scalar text -> its value (also shares equal strings)
    flat: array[int] = array("q")
    table: dict[int, int] = {}
    anchors: dict[str, tuple[Any, int, int]] = {}  # name -> (value, position, expanded size)
    stack: list[tuple[Any, ...]] = []
    # The collection being filled (None at the top level), its positions, the
    # key waiting for its value and that key's position.
    container: Any = None
    marks: array[int] = array("q")
    key: Any = _NO_KEY
    key_mark = 0
    nodes = 0  # nodes so far, aliases expanded (for an anchor's expanded size)
    added = 0  # nodes added by aliases
    root: Any = None
    root_mark = 0
    no_key, scalar_event, shift = _NO_KEY, ScalarEvent, _SHIFT  # locals: used for every node
    while True:
        event = get()
        kind = type(event)
        if kind is scalar_event:
            nodes += 1
            if event.tag is not None:
                raise Unsupported  # explicit tag
            text = event.value
            start = event.start_mark
            mark = start.line << shift | start.column
            if not event.implicit[0]:
                value: Any = text
            elif (value := plain.get(text, no_key)) is no_key:
                value = plain[text] = resolve_plain(text)
            if event.anchor is not None:
                _define_anchor(anchors, event.anchor, (value, mark, 1))
        elif kind is MappingStartEvent or kind is SequenceStartEvent:
            nodes += 1
            if event.tag is not None or len(stack) >= MAX_DEPTH:
                raise Unsupported  # !!set, !!omap, ...; or too deep
            anchor = event.anchor
            if anchor is not None:
                _define_anchor(anchors, anchor, _OPEN)
            start = event.start_mark
            mark = start.line << _SHIFT | start.column
            stack.append((container, marks, key, key_mark, mark, anchor, nodes))
            container = {} if kind is MappingStartEvent else []
            marks = array("q")
            key = _NO_KEY
            continue
        elif kind is MappingEndEvent or kind is SequenceEndEvent:
            value = container
            if marks:
                table[id(value)] = len(flat) << _SHIFT | len(marks)
                flat.extend(marks)
            container, marks, key, key_mark, mark, anchor, first = stack.pop()
            if anchor is not None:
                anchors[anchor] = (value, mark, nodes - first + 1)
        elif kind is AliasEvent:
            value, mark, size = _aliased(anchors, event.anchor)
            nodes += size
            added += size
            if added > max_alias_nodes:
                raise Unsupported  # the node builder refuses it
        elif kind is DocumentEndEvent:
            break
        else:
            raise Unsupported
        # Hand the finished node to the collection it belongs to.
        if container.__class__ is list:
            container.append(value)
            marks.append(mark)
        elif key is not no_key:
            container[key] = value
            marks.append(key_mark)
            marks.append(mark)
            key = no_key
        elif container is None:
            root, root_mark = value, mark
        elif value.__class__ is not str or value in container:
            raise Unsupported  # non-text or duplicate key
        else:
            key, key_mark = value, mark
    if type(get()) is not StreamEndEvent:
        raise Unsupported  # more than one document
    return root, Positions(root_mark, flat, table)


def _plain_resolver(loader: yaml.SafeLoader) -> Callable[[str], Any]:
    """Return what turns a plain scalar's text into its value, as the safe loader would.

    The function returned raises :class:`Unsupported` for a text resolved to
    a tag the safe constructor does not build (``<<``, ``=``) or that it
    refuses (an impossible date). Raises Unsupported itself when the
    loader resolves by path.
    """
    if getattr(loader, "yaml_path_resolvers", None):
        raise Unsupported  # resolution would depend on the path
    resolve: Callable[[type[yaml.Node], str, tuple[bool, bool]], str] = loader.resolve
    # Implicit resolvers are indexed by first character: text starting with
    # any other one is a string without asking (unless a resolver takes all).
    first_chars = loader.yaml_implicit_resolvers
    if None in first_chars:
        first_chars = _EVERY_CHARACTER
    constructors = loader.yaml_constructors

    def value_of(text: str) -> Any:
        tag = resolve(yaml.ScalarNode, text, _PLAIN) if text[:1] in first_chars else _STR
        if tag == _STR:
            return text
        if tag in _SCALAR_TAGS:
            return _construct(loader, constructors[tag], tag, text)
        raise Unsupported  # '<<' (merge), '=' (value)

    return value_of


def _define_anchor(
    anchors: dict[str, tuple[Any, int, int]], name: str, entry: tuple[Any, int, int]
) -> None:
    """Record anchor ``name`` as ``entry``; raises :class:`Unsupported` if already defined."""
    if name in anchors:
        raise Unsupported  # duplicate anchor
    anchors[name] = entry


def _aliased(anchors: dict[str, tuple[Any, int, int]], name: str) -> tuple[Any, int, int]:
    """Return (value, position, expanded size) of anchor ``name``.

    Raises :class:`Unsupported` when it is undefined, or still open (a
    recursive alias).
    """
    found = anchors.get(name)
    if found is None or found is _OPEN:
        raise Unsupported  # undefined, or recursive
    return found


_OPEN: tuple[Any, int, int] = (None, 0, 0)  # an anchor whose collection is still being read
_PLAIN = (True, False)  # how a plain scalar is resolved: implicitly, as plain text


class _EveryCharacter:
    """Contains every first character: each plain scalar goes through the resolver."""

    def __contains__(self, item: object) -> bool:
        return True


_EVERY_CHARACTER: Any = _EveryCharacter()
