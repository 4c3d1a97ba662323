"""Which ledger a configuration names: the SQLite file (the default) or PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from tagger.state.dsn import guessed_secrets

Backend = Literal["sqlite", "postgresql"]
BACKENDS: tuple[Backend, ...] = ("sqlite", "postgresql")


@dataclass(frozen=True)
class StateBackend:
    """The ledger's backend (``state:`` in the config).

    ``sqlite``: the file at ``state_path``. ``postgresql``: the database
    ``dsn`` names (a secret: kept out of ``repr``); ``where`` is how messages
    and ``tagger status`` name it (``HOST:PORT/DBNAME``, never a password).
    """

    backend: Backend = "sqlite"
    dsn: str | None = field(default=None, repr=False)
    where: str = ""

    def secret_values(self) -> tuple[str, ...]:
        """Return the DSN and its password (for the log redactor; never print them)."""
        if self.dsn is None:
            return ()
        return tuple(guessed_secrets(self.dsn))
