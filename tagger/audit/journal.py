"""The audit file as a write-ahead record: each apply's intent on disk before it is sent.

Before an apply request goes out, one line saying so (outcome ``applying``,
``record: intent``) is appended to the live audit file and flushed to disk
with ``fdatasync``; the entries of its chunk, written (and flushed) as the
chunk ends and before its messages are marked processed, say what became of
it. So after a SIGKILL, a power cut, a full disk or a lost state, every apply
that may have reached Mimecast has its line. The readers pair an intent with
the outcome that follows it (:func:`tagger.audit.records.resolve_intents`),
so a report counts each applied pair once.

A write that fails (a full disk, a file size limit, a permission taken away)
leaves no torn line behind (the file is cut back to where it was) and raises:
the apply is then withheld, never sent unrecorded.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tagger.audit.entry import Entry
from tagger.audit.files import open_private
from tagger.audit.writer import append_lines, entry_lines, write_failure
from tagger.config.model import AuditRotation

__all__ = ["Journal"]


class Journal:
    """Appends write-ahead records and chunk entries to the live audit file ``path``.

    One process writes it. ``rotation`` applies to the chunks' entries (a
    write-ahead record is one short line and never rotates the file).
    ``broken`` holds the message of the last write that failed (None: none).
    """

    def __init__(self, path: Path, rotation: AuditRotation | None = None) -> None:
        self.path = path
        self.rotation = rotation if rotation is not None else AuditRotation()
        self.broken: str | None = None

    def append(self, record: Mapping[str, Any]) -> None:
        """Append ``record`` as one JSON line and flush it to disk; OSError when it cannot.

        The file is opened for each record (0600, never through a symbolic
        link), so rotation at the end of a cycle is followed. On a failure the
        file is cut back to its size before the write.
        """
        data = (json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")
        fd = open_private(self.path, append=True)
        try:
            size = os.fstat(fd).st_size
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fdatasync(fd)
            except OSError:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, size)
                raise
        finally:
            os.close(fd)

    def append_entries(self, account: str, entries: Sequence[Entry]) -> None:
        """Append the entries of ``account``'s chunk (flushed to disk); OSError when it cannot."""
        if entries:
            append_lines(self.path, entry_lines(account, entries), self.rotation)

    def failure(self, exc: OSError) -> str:
        """Return the operator's message for a write that failed, and remember it in ``broken``."""
        self.broken = f"{write_failure(self.path, exc)}; applies stop until it can be written"
        return self.broken
