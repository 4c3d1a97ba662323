"""The state's generation: noticing a state file older than the last one this host wrote.

A copy of the state file taken while tagger ran (without its ``-wal``), or a
backup restored over it, lacks the records of the applies made since. Those
applies are permanent at Mimecast, and a state that does not remember them
would apply them again. So each cycle bumps a generation:

1. before its first apply, the marker beside the file (``<state file>.ran``,
   see :mod:`tagger.state.integrity`) is rewritten atomically and fsynced
   with the generation ``N + 1`` the cycle will bring the state to
   (:meth:`GenerationRecords.begin_generation`);
2. when the cycle has ended, the state records ``N + 1`` in ``state_meta``
   (:meth:`GenerationRecords.commit_generation`).

Opening a file whose generation is below the marker's therefore means one of:
the file is a copy or a backup older than the last one written here, or the
last cycle was cut off before it ended. Either way some applies may be
missing from it, and :meth:`GenerationRecords.behind_marker` says so; the
store then makes every account read the tags already on each message before
applying any, until one of its cycles completes (as after a lost state). A
marker gone while the state has a generation is treated the same way: nothing
can be trusted about which file is newer.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from tagger.state.access import StateAccess
from tagger.state.atomic import write_atomically
from tagger.state.errors import StateError
from tagger.state.integrity import marker_path
from tagger.state.lock import real_path
from tagger.state.times import to_us

GENERATION = "generation"
_LINE = re.compile(r"^generation (\d+)$", re.MULTILINE)


def marker_generation(state_path: Path) -> int | None:
    """Return the generation the marker of ``state_path`` holds (None: no marker, or none in it).

    A marker written by an older tagger holds no generation. Raises
    StateError when the marker exists but cannot be read.
    """
    marker = marker_path(state_path)
    try:
        text = marker.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateError(f"cannot read marker {marker}: {exc.strerror or exc}") from exc
    found = _LINE.findall(text)
    return int(found[-1]) if found else None


def write_marker_generation(state_path: Path, generation: int) -> None:
    """Rewrite the marker of ``state_path`` with ``generation`` (atomically, fsynced).

    Keeps the marker's first line (when the state was first opened). Raises
    StateError when it cannot be written.
    """
    marker = marker_path(state_path)
    try:
        first = marker.read_text(encoding="utf-8", errors="replace").splitlines()[:1]
    except FileNotFoundError:
        first = []
    except OSError as exc:
        raise StateError(f"cannot read marker {marker}: {exc.strerror or exc}") from exc
    head = first[0] if first and not _LINE.match(first[0]) else _first_line(state_path)
    try:
        write_atomically(marker, f"{head}\n{GENERATION} {generation}\n")
    except OSError as exc:
        raise StateError(
            f"cannot write marker {marker}: {exc.strerror or exc}; make {marker.parent} "
            "writable by the tagger user"
        ) from exc


def _first_line(state_path: Path) -> str:
    when = datetime.now(UTC).isoformat(timespec="seconds")
    return f"tagger state {real_path(state_path)} first opened {when}"


class GenerationRecords(StateAccess):
    """The generation of the state file and of its marker (mixed into the store)."""

    def generation(self) -> int:
        """Return the generation recorded in the state (0: never recorded, or no such table).

        A file opened with fewer migrations (an upgrade test) has no table for it.
        """
        if not self._db.has_table("state_meta"):
            return 0
        rows = self._rows("SELECT value FROM state_meta WHERE name = ?", (GENERATION,))
        return int(rows[0][0]) if rows else 0

    def behind_marker(self) -> tuple[int, int | None] | None:
        """Return (state's, marker's generation) when the state may lack applies, else None.

        It may when its generation is below the marker's, or when it has one
        and the marker is gone. A marker without a generation (written by an
        older tagger) says nothing.
        """
        if self.dialect != "sqlite":
            return None  # no marker: PostgreSQL is restored as a whole, never copied file-wise
        mine = self.generation()
        theirs = marker_generation(self.path)
        if theirs is None:
            exists = marker_path(self.path).exists()
            return (mine, None) if mine > 0 and not exists else None
        return (mine, theirs) if mine < theirs else None

    def begin_generation(self) -> int:
        """Write the marker with the generation the cycle now starting brings the state to.

        Called before the cycle's first apply; returns that generation for
        :meth:`commit_generation`. Raises StateError when the marker cannot be
        written (the cycle must not apply what a restored copy would forget).
        """
        if self.dialect != "sqlite":
            return self.generation() + 1
        generation = max(self.generation(), marker_generation(self.path) or 0) + 1
        write_marker_generation(self.path, generation)
        return generation

    def commit_generation(self, generation: int, at: datetime) -> None:
        """Record in the state that the cycle begun with ``generation`` has ended."""
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO state_meta (name, value, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET value = excluded.value,"
                " updated_at = excluded.updated_at",
                (GENERATION, generation, to_us(at)),
            )
