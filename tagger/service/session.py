"""One composition path for ``once``, ``backfill`` and ``run``: signals, state, runtime.

:func:`open_session` is the only place that puts a runnable set-up together,
always in the same order: the signal handlers first (a SIGTERM or SIGHUP that
arrives while the token or the tag list is being fetched must find them in
place), then the state (the locked file, or an in-memory copy of it in a dry
run), then the runtime (clients, tokens, tag ids). Whether a command is a dry
run is decided once, by :func:`dry_run_of`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

import structlog

from tagger.cluster.seat import Seat
from tagger.config import Config
from tagger.engine.options import NO_HOOKS, CycleOptions, Hooks, Runtime
from tagger.engine.run import run_cycle
from tagger.engine.sends import Sends
from tagger.engine.tally import CycleReport
from tagger.service import earlysignals
from tagger.service.clusterseat import join_cluster
from tagger.service.runtime import open_runtime, open_state, utc_now
from tagger.service.sharedquota import shared_quota
from tagger.service.stopack import acknowledge_stops
from tagger.state import StateStore

log = structlog.get_logger("tagger.service")

T = TypeVar("T")


class Stopped(Exception):
    """A stop was requested (SIGTERM/SIGINT) before the set-up was complete."""


def dry_run_of(config: Config, requested: bool) -> bool:
    """Return whether a command runs dry: asked on its command line or by the config."""
    return requested or config.dry_run


class Signals:
    """The process's one set of signal handlers.

    SIGTERM and SIGINT set :attr:`stop` (work in flight then finishes and is
    recorded). With ``reload``, SIGHUP calls the handler given to
    :meth:`on_reload`; one that arrives before there is a handler (during
    start-up) is logged and kept, and the handler runs as soon as it is given.
    Without ``reload``, SIGHUP keeps its default action.
    """

    def __init__(self, *, reload: bool = False) -> None:
        self.stop = asyncio.Event()
        self._reload = reload
        self._reload_handler: Callable[[], None] | None = None
        self._reload_pending = False
        self._installed: list[int] = []

    def install(self) -> None:
        """Install the handlers in the running event loop, then act on any signal noted early.

        A SIGTERM noted before (:mod:`tagger.service.earlysignals`) asks for a
        stop; a SIGHUP is kept for the reload handler, or, without ``reload``,
        takes its default action as it would have.
        """
        loop = asyncio.get_running_loop()
        wanted = [signal.SIGTERM, signal.SIGINT] + ([signal.SIGHUP] if self._reload else [])
        early = earlysignals.take()
        for sig in wanted:
            if sig == signal.SIGHUP:
                loop.add_signal_handler(sig, self._hangup)
            else:
                loop.add_signal_handler(sig, self.request_stop, sig.name)
            self._installed.append(sig)
        for noted in early:
            if noted not in wanted:
                signal.signal(noted, signal.SIG_DFL)
            # Handled now by the loop (or by the default action), as if sent now.
            os.kill(os.getpid(), noted)

    def uninstall(self) -> None:
        """Give the signals back their default actions (idempotent)."""
        with contextlib.suppress(RuntimeError):
            loop = asyncio.get_running_loop()
            while self._installed:
                loop.remove_signal_handler(self._installed.pop())

    def request_stop(self, why: str = "") -> None:
        """Ask for a stop after the work in flight."""
        log.info("stop_requested", signal=why)
        self.stop.set()

    def on_reload(self, handler: Callable[[], None]) -> None:
        """Call ``handler`` on each SIGHUP from now on (at once if one is pending)."""
        self._reload_handler = handler
        if self._reload_pending:
            self._reload_pending = False
            handler()

    def _hangup(self) -> None:
        if self._reload_handler is not None:
            self._reload_handler()
            return
        self._reload_pending = True
        log.info("reload_requested", deferred="until start-up is complete")

    async def unless_stopped(self, work: Awaitable[T]) -> T:
        """Await ``work`` unless a stop is requested first; raises :class:`Stopped` then.

        The work is cancelled (and awaited) when the stop comes first.
        """
        task = asyncio.ensure_future(work)
        stopping = asyncio.ensure_future(self.stop.wait())
        try:
            await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            raise Stopped("stopped during start-up")
        return task.result()


@dataclass
class Session:
    """What a command runs cycles with: the config, state, runtime, signals.

    ``sends`` are the applies under way in this process, for ``tagger pause``
    to wait on (:mod:`tagger.service.stopack`).
    """

    config: Config
    state: StateStore
    runtime: Runtime
    signals: Signals
    sends: Sends = field(default_factory=Sends)

    @property
    def dry_run(self) -> bool:
        """Return whether this session runs dry: its state is an in-memory copy.

        Decided once, by :func:`open_session`; the engine reads it from the
        same state (:attr:`tagger.engine.ledger.Ledger.dry_run`), so the two
        can never disagree.
        """
        return self.state.dry_run

    @property
    def stop(self) -> asyncio.Event:
        """Return the event set by SIGTERM/SIGINT."""
        return self.signals.stop

    async def cycle(
        self,
        options: CycleOptions,
        *,
        kind: str,
        hooks: Hooks = NO_HOOKS,
        verify: frozenset[str] = frozenset(),
    ) -> list[CycleReport]:
        """Run one cycle over every active account (see :func:`tagger.engine.run.run_cycle`)."""
        return await run_cycle(
            self.runtime, self.state, options, utc_now, self.stop, kind, hooks, verify, self.sends
        )


@contextlib.asynccontextmanager
async def _seat(config: Config, state: StateStore) -> AsyncIterator[Seat | None]:
    """Join the cluster for a live session on a PostgreSQL ledger; yields None otherwise.

    A PostgreSQL ledger is never written without the account's lease, even
    by a single node: two processes on one database would otherwise tag twice.
    """
    backend = config.state
    if state.dry_run or backend.backend != "postgresql" or backend.dsn is None:
        yield None
        return
    async with join_cluster(config, backend.dsn, [a.name for a in config.accounts]) as seat:
        yield seat


@contextlib.asynccontextmanager
async def open_session(
    config: Config, *, dry_run: bool, signals: Signals | None = None
) -> AsyncIterator[Session]:
    """Install the signal handlers, open the state, connect the accounts; close all after.

    Given the loaded config, the effective dry-run flag (see :func:`dry_run_of`)
    and optionally the signal handlers to install (default: stop on
    SIGTERM/SIGINT). Raises :class:`Stopped` when a stop is requested before
    the accounts are connected, StateLocked/StateError when the state cannot
    be opened, UserError (rules, unknown tags) and MimecastError (an account
    unreachable) from :func:`~tagger.service.runtime.open_runtime`.
    """
    signals = signals if signals is not None else Signals()
    signals.install()
    sends = Sends()
    watcher: asyncio.Task[None] | None = None
    try:
        with open_state(config, dry_run=dry_run) as state:
            if not state.dry_run:
                # From the moment the state is open: a pause during start-up is answered too.
                watcher = asyncio.ensure_future(acknowledge_stops(state, sends, utc_now))
            try:
                if signals.stop.is_set():
                    raise Stopped("stopped during start-up")
                async with shared_quota(config, dry_run=state.dry_run) as quota:
                    runtime = await signals.unless_stopped(open_runtime(config, cross=quota))
                    try:
                        async with _seat(config, state) as seat:
                            runtime.tenancy = seat
                            yield Session(config, state, runtime, signals, sends)
                    finally:
                        await runtime.close()
            finally:
                if watcher is not None:
                    watcher.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await watcher
    finally:
        signals.uninstall()
