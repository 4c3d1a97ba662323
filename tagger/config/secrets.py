"""Secrets given inline or by reference: ``{env: VAR}``, ``{file: path}``, ``{credential: name}``.

Only the places a secret comes from (variable, file and credential names)
ever appear in messages, never the secret itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

__all__ = ["SecretError", "SecretSource", "read_secret", "secret_source"]

SecretKind = Literal["inline", "env", "file", "credential"]


class SecretError(ValueError):
    """A secret could not be read. ``hint`` says how to fix it (never the value)."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


@dataclass(frozen=True)
class SecretSource:
    """Where one secret comes from. For ``inline`` the value is kept out of ``repr``."""

    kind: SecretKind
    name: str  # variable, file or credential name; the value itself when inline

    def __repr__(self) -> str:
        shown = "<redacted>" if self.kind == "inline" else self.name
        return f"SecretSource(kind={self.kind!r}, name={shown!r})"


def secret_source(value: Any) -> SecretSource:
    """Return the source described by a schema-valid secret value (string or one-key mapping)."""
    if isinstance(value, str):
        return SecretSource("inline", value)
    (kind, name), *_ = value.items()
    if kind not in ("env", "file", "credential"):
        raise ValueError(f"unknown secret source {kind!r}")
    return SecretSource(kind, str(name))


def read_secret(source: SecretSource, *, base_dir: Path, env: Mapping[str, str]) -> str:
    """Return the secret text of ``source``.

    Given the source, the directory relative file names resolve against and
    the environment (which also supplies ``CREDENTIALS_DIRECTORY``). File and
    credential contents lose one trailing newline. Raises :class:`SecretError`
    when the variable is unset, a file is unreadable, or the secret is empty.
    """
    if source.kind == "inline":
        return source.name
    if source.kind == "env":
        value = env.get(source.name)
        if value is None:
            raise SecretError(
                f"environment variable {source.name} is not set",
                hint="set it in the service environment (e.g. EnvironmentFile=)",
            )
        if not value:
            raise SecretError(f"environment variable {source.name} is empty")
        return value
    if source.kind == "file":
        return _read_file(base_dir / source.name, f"secret file {source.name}")
    directory = env.get("CREDENTIALS_DIRECTORY")
    if not directory:
        raise SecretError(
            f"systemd credential '{source.name}' is not available:"
            " CREDENTIALS_DIRECTORY is not set",
            hint=f"add LoadCredential={source.name}:/path/to/secret to the service unit",
        )
    return _read_file(Path(directory) / source.name, f"systemd credential '{source.name}'")


def _read_file(path: Path, what: str) -> str:
    """Read a secret file as UTF-8 without its trailing newline."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise SecretError(f"{what} does not exist ({path})") from None
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or "unreadable"
        raise SecretError(f"cannot read {what} ({path}): {reason}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SecretError(f"{what} ({path}) is not UTF-8 text") from None
    text = text.removesuffix("\n").removesuffix("\r")
    if not text:
        raise SecretError(f"{what} ({path}) is empty")
    return text
