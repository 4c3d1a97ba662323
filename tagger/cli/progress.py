"""Progress of a long command (``backfill``): a bar on a terminal, log lines otherwise.

On a terminal, a tqdm bar on standard error; log lines written meanwhile go
through the bar (``tqdm.write``) so they never push it off screen. Without a
terminal (a service, a pipe, a file), a ``progress`` log event every
``every`` seconds and at the end, with the percentage, the rate and the
estimated time left.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

import structlog
from tqdm import tqdm

log = structlog.get_logger("tagger.cli")


class _ThroughBar:
    """A text stream that writes whole lines above the bar."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._pending = ""

    def write(self, text: str) -> int:
        self._pending += text
        *lines, self._pending = self._pending.split("\n")
        for line in lines:
            tqdm.write(line, file=self._stream)
        return len(text)

    def flush(self) -> None:
        self._stream.flush()


class Progress:
    """Counts steps done out of ``total``; see the module docstring for how it shows."""

    def __init__(
        self,
        total: int,
        unit: str,
        *,
        stream: TextIO | None = None,
        every: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total, self.unit, self.done = total, unit, 0
        self._stream = stream if stream is not None else sys.stderr
        self._every, self._clock = every, clock
        self._started = self._last = clock()
        self._bar: Any = None
        self._swapped: list[tuple[logging.StreamHandler[Any], Any]] = []
        isatty = getattr(self._stream, "isatty", None)
        if callable(isatty) and isatty():
            self._bar = tqdm(total=total, unit=unit, file=self._stream)
            through = _ThroughBar(self._stream)
            for handler in logging.getLogger().handlers:
                if isinstance(handler, logging.StreamHandler) and handler.stream is self._stream:
                    self._swapped.append((handler, handler.setStream(through)))

    def update(self, note: str = "") -> None:
        """Count one more step done (``note``: where it got to, shown beside the bar)."""
        self.done += 1
        if self._bar is not None:
            self._bar.update(1)
            if note:
                self._bar.set_postfix_str(note)
            return
        now = self._clock()
        if now - self._last >= self._every or self.done == self.total:
            self._last = now
            self._report(now, note)

    def _report(self, now: float, note: str) -> None:
        elapsed = max(now - self._started, 1e-9)
        rate = self.done / elapsed
        left = (self.total - self.done) / rate if rate > 0 else None
        log.info(
            "progress",
            done=self.done,
            total=self.total,
            unit=self.unit,
            percent=round(100 * self.done / self.total, 1) if self.total else 100.0,
            rate_per_min=round(rate * 60, 2),
            eta_s=round(left) if left is not None else None,
            at=note or None,
        )

    def close(self) -> None:
        """Remove the bar and give the log its stream back."""
        for handler, stream in self._swapped:
            handler.setStream(stream)
        self._swapped.clear()
        if self._bar is not None:
            self._bar.close()
            self._bar = None
