"""YAML documents that remember where each value came from.

Both the rule loader and the config loader read YAML through this module so
that every problem they report carries ``file:line:column``. Parsing (safe
loader only) builds the plain Python data straight from the parser's events
with each node's position packed alongside (:mod:`tagger.yamldoc.events`), so
that a path such as ``("rules", 2, "match")`` can be turned back into a line
and column. Documents using rarer features (merge keys, explicit tags,
non-text keys) or holding a mistake are read by composing the node tree
instead, which words every error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tagger.errors import Problem, UserError
from tagger.yamldoc.events import Positions, Unsupported, build_document
from tagger.yamldoc.gcpause import paused_gc
from tagger.yamldoc.hints import unclosed_bracket

__all__ = [
    "Located",
    "format_path",
    "load_yaml",
    "load_yaml_file",
]

# Aliases let a small file expand to an enormous document ("billion laughs");
# refuse a document whose aliases add more than this many nodes. (Nodes
# written out count once: their number is bounded by the text itself.)
MAX_EXPANDED_NODES = 1_000_000
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_MERGE_TAG = "tag:yaml.org,2002:merge"
# Expanded sizes stop growing here (far past any document worth reading).
_SIZE_CAP = 1 << 62


@dataclass(frozen=True, eq=False)
class _Pos:
    """Where one node starts, plus the positions of its children."""

    line: int
    column: int
    # For mappings: data key -> (position of the key, position of the value).
    members: dict[Any, tuple[tuple[int, int], _Pos]] = field(default_factory=dict)
    # For sequences: positions of the items, in order.
    items: list[_Pos] = field(default_factory=list)


@dataclass(frozen=True)
class Located:
    """Parsed YAML data together with the source positions of its nodes."""

    data: Any
    file: str
    _root: _Pos | Positions = field(default_factory=lambda: _Pos(1, 1), repr=False, compare=False)

    @property
    def text_keys(self) -> bool:
        """Whether every mapping key in :attr:`data` is known to be text (a ``str``)."""
        # Only the event builder guarantees it (it hands other keys to _Builder).
        return isinstance(self._root, Positions)

    def position(self, path: Sequence[str | int]) -> tuple[int, int]:
        """Return the 1-based ``(line, column)`` of the node at ``path``.

        For a mapping member this is the position of its key. When the path
        leads somewhere that does not exist, the nearest existing ancestor's
        position is returned.
        """
        return self._walk(path, value=False)

    def value_position(self, path: Sequence[str | int]) -> tuple[int, int]:
        """Like :meth:`position`, but for a mapping member give its value's position."""
        return self._walk(path, value=True)

    def _walk(self, path: Sequence[str | int], *, value: bool) -> tuple[int, int]:
        if isinstance(self._root, Positions):
            return self._root.locate(self.data, path, value=value)
        node = self._root
        here = (node.line, node.column)
        for step in path:
            if node.members:
                try:
                    entry = node.members.get(step)
                except TypeError:  # unhashable step: cannot be a key
                    entry = None
                if entry is None and isinstance(step, str):
                    # Validation sees non-text keys (1, true) as their text.
                    entry = next((e for k, e in node.members.items() if str(k) == step), None)
                if entry is None:
                    return here
                key_pos, node = entry
                here = (node.line, node.column) if value else key_pos
            elif node.items and isinstance(step, int) and not isinstance(step, bool):
                if not -len(node.items) <= step < len(node.items):
                    return here
                node = node.items[step]
                here = (node.line, node.column)
            else:
                return here
        return here


def format_path(path: Sequence[str | int]) -> str:
    """Render a data path for humans: ``("rules", 2, "match")`` -> ``rules[2].match``."""
    out = ""
    for step in path:
        if isinstance(step, int) and not isinstance(step, bool):
            out += f"[{step}]"
        else:
            out += f".{step}" if out else str(step)
    return out


def load_yaml_file(path: Path) -> Located:
    """Read and parse the YAML file at ``path``.

    Raises:
        UserError: the file cannot be read, is not UTF-8, or is not valid YAML.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise UserError.single(
            f"file is not valid UTF-8 (byte {exc.start})", file=str(path)
        ) from None
    except OSError as exc:
        raise UserError.single(f"cannot read file: {exc.strerror or exc}", file=str(path)) from None
    return load_yaml(text, str(path))


def load_yaml(text: str, file: str) -> Located:
    """Parse one YAML document with the safe loader, keeping node positions.

    Given the document text and the file name to report it under. Returns
    the data as ``yaml.safe_load`` would, plus positions.

    Raises:
        UserError: syntax errors (located at the yaml mark), duplicate keys in
        a mapping, recursive aliases, or a document that expands too far.
    """
    loader: yaml.SafeLoader | None = None
    try:
        fast = _load_from_events(text, file)
        if fast is not None:
            return fast
        # libyaml's parser (when PyYAML has it) composes the same nodes and marks
        # several times faster than the pure-Python one.
        loader = _SafeLoader(text)
        node = loader.get_single_node()
        if node is None:
            return Located(None, file)
        root = _Builder(loader, file).build(node)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc, file, text) from None
    except yaml.reader.ReaderError as exc:
        line, column = _line_col(text, exc.position)
        message = f"unacceptable character #x{exc.character:04x} in YAML"
        raise UserError.single(message, file=file, line=line, column=column) from None
    except yaml.YAMLError as exc:
        raise UserError.single(f"invalid YAML: {exc}", file=file) from None
    except (ValueError, TypeError, OverflowError) as exc:
        # The safe constructor raises plain errors for values such as an
        # impossible date ("2024-13-45"); we cannot locate them precisely.
        raise UserError.single(f"invalid YAML value: {exc}", file=file) from None
    except RecursionError:
        raise UserError.single("YAML document is nested too deeply", file=file) from None
    finally:
        if loader is not None:
            loader.dispose()
    return Located(data, file, root)


def _load_from_events(text: str, file: str) -> Located | None:
    """Build the document straight from the parser's events (:mod:`tagger.yamldoc.events`).

    Returns None when the document needs the node-based builder (unusual
    features, duplicate keys, ...). Parser errors propagate as yaml errors.
    """
    loader = _SafeLoader(text)
    try:
        # The build allocates one object per value and frees nothing: collections
        # in between would walk the growing document again and again (measured:
        # about half of the load time of a large file).
        with paused_gc():
            built = build_document(loader, MAX_EXPANDED_NODES)
    except Unsupported:
        return None
    finally:
        loader.dispose()
    if built is None:
        return Located(None, file)
    data, positions = built
    return Located(data, file, positions)


def _syntax_error(exc: yaml.MarkedYAMLError, file: str, text: str) -> UserError:
    """Turn a yaml error into a located problem (at the problem mark).

    A flow collection (``[``/``{``) left open is reported where it was
    opened: PyYAML only notices it where the text runs out.
    """
    mark = exc.problem_mark or exc.context_mark
    opened = unclosed_bracket(text, mark.index if mark is not None else None)
    if opened is not None and "flow" in f"{exc.context} {exc.problem}":
        line, column, bracket = opened
        seen = f"line {mark.line + 1}" if mark is not None else "the end"
        return UserError(
            [
                Problem(
                    f"invalid YAML: this '{bracket}' is never closed",
                    file=file,
                    line=line,
                    column=column,
                    hint=f"add the closing '{']' if bracket == '[' else '}'}'; "
                    f"the parser gave up at {seen}",
                )
            ]
        )
    tab = _tab_near(text, mark.index if mark is not None else None)
    if tab is not None:
        line, column = tab
        before = text.splitlines()[line - 1][: column - 1] if text else ""
        spot = "in the indentation" if not before.strip() else "where YAML allows none"
        return UserError.single(
            f"invalid YAML: a tab was found {spot}",
            file=file,
            line=line,
            column=column,
            hint="YAML indents with spaces only: replace the tab with spaces",
        )
    problem = exc.problem or exc.context or "invalid YAML"
    hint = ""
    if exc.context and problem.startswith("but "):
        # "expected X" / "but found Y" only make sense read together.
        problem = f"{exc.context} {problem}"
    elif exc.context and exc.problem and exc.context_mark is not None:
        hint = f"{exc.context} at line {exc.context_mark.line + 1}"
    where: dict[str, str | int] = {"file": file}
    if mark is not None:
        where.update(line=mark.line + 1, column=mark.column + 1)
    return UserError([Problem(f"invalid YAML: {problem}", hint=hint, **where)])  # type: ignore[arg-type]


def _tab_near(text: str, index: int | None) -> tuple[int, int] | None:
    """Return (line, column) of the tab a YAML error is about, or None. Pure.

    Given the document and the index PyYAML stopped at: a tab there, or in
    the leading whitespace of that line (where YAML forbids one).
    """
    if index is None or not 0 <= index <= len(text):
        return None
    if index < len(text) and text[index] == "\t":
        return _line_col(text, index)
    start = text.rfind("\n", 0, index) + 1
    end = text.find("\n", start)
    line = text[start : end if end >= 0 else len(text)]
    indent = line[: len(line) - len(line.lstrip(" \t"))]
    if "\t" in indent:
        return _line_col(text, start + indent.index("\t"))
    return None


def _line_col(text: str, index: int) -> tuple[int, int]:
    """Return the 1-based line and column of character ``index`` in ``text``."""
    before = text[:index]
    line = before.count("\n") + 1
    return line, index - (before.rfind("\n") + 1) + 1


class _Builder:
    """Walks a composed node tree: checks keys and records positions."""

    def __init__(self, loader: yaml.SafeLoader, file: str) -> None:
        self._loader = loader
        self._file = file
        self._done: dict[int, _Pos] = {}
        self._sizes: dict[int, int] = {}
        self._active: set[int] = set()

    def build(self, node: yaml.Node) -> _Pos:
        """Return the position tree of ``node``; raise UserError on bad structure."""
        # Every distinct node gets a size: their number is the nodes written out.
        if self._expanded_size(node) - len(self._sizes) > MAX_EXPANDED_NODES:
            raise UserError.single(
                "YAML document is too large once its aliases are expanded", file=self._file
            )
        return self._pos(node)

    def _expanded_size(self, node: yaml.Node) -> int:
        key = id(node)
        if key in self._sizes:
            return self._sizes[key]
        if key in self._active:
            mark = node.start_mark
            raise UserError.single(
                "recursive YAML alias (a node that contains itself) is not supported",
                file=self._file,
                line=mark.line + 1,
                column=mark.column + 1,
            )
        self._active.add(key)
        size = 1
        if isinstance(node, yaml.SequenceNode):
            size += sum(self._expanded_size(child) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                size += self._expanded_size(key_node) + self._expanded_size(value_node)
        self._active.discard(key)
        self._sizes[key] = min(size, _SIZE_CAP)
        return self._sizes[key]

    def _pos(self, node: yaml.Node) -> _Pos:
        if id(node) in self._done:
            return self._done[id(node)]
        mark = node.start_mark
        pos = _Pos(mark.line + 1, mark.column + 1)
        self._done[id(node)] = pos
        if isinstance(node, yaml.SequenceNode):
            pos.items.extend(self._pos(child) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            self._mapping(node, pos)
        return pos

    def _mapping(self, node: yaml.MappingNode, pos: _Pos) -> None:
        merged: list[_Pos] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merge_pos = self._pos(value_node)
                merged.extend(merge_pos.items if merge_pos.items else [merge_pos])
                continue
            key = self._key(key_node)
            key_mark = key_node.start_mark
            if key in pos.members:
                first = pos.members[key][0]
                raise UserError(
                    [
                        Problem(
                            f"duplicate key '{key}' in a mapping",
                            file=self._file,
                            line=key_mark.line + 1,
                            column=key_mark.column + 1,
                            hint=f"first given at line {first[0]}, column {first[1]}",
                        )
                    ]
                )
            pos.members[key] = ((key_mark.line + 1, key_mark.column + 1), self._pos(value_node))
        # Explicit keys win over merged ones; earlier merges win over later.
        for source in merged:
            for key, entry in source.members.items():
                pos.members.setdefault(key, entry)

    def _key(self, key_node: yaml.Node) -> Any:
        """Return the data value of a mapping key (as the constructor will build it)."""
        if not isinstance(key_node, yaml.ScalarNode):
            # Collections as keys are unhashable; the constructor reports them.
            return ("<collection key>", id(key_node))
        return self._loader.construct_object(key_node, deep=True)
