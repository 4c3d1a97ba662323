"""Secrets given inline or by reference: ``{env: VAR}``, ``{file: path}``, ``{credential: name}``.

Only the places a secret comes from (variable, file and credential names)
ever appear in messages, never the secret itself.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

__all__ = ["CREDENTIALS_DIR", "SecretError", "SecretSource", "read_secret", "secret_source"]

SecretKind = Literal["inline", "env", "file", "credential"]
# Where ``{credential: NAME}`` is read outside systemd: DIR/credentials/NAME
# beside the config file (the file the unit's LoadCredential= names).
CREDENTIALS_DIR = "credentials"
# A secret is a key or a password; anything larger is the wrong file.
MAX_SECRET_BYTES = 64 * 1024


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

    Given the source, the directory relative file names resolve against (the
    config file's) and the environment (which also supplies
    ``CREDENTIALS_DIRECTORY``; without it a credential is read from
    ``credentials/NAME`` in that directory, the file the unit loads). File and
    credential contents lose one trailing newline. Raises :class:`SecretError`
    when the variable is unset, a file is unreadable, not a regular file or
    larger than :data:`MAX_SECRET_BYTES`, or the secret is empty.
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
    if directory:
        return _read_file(Path(directory) / source.name, f"systemd credential '{source.name}'")
    # Outside the service (tagger validate/status/once run by hand), the file
    # the unit's LoadCredential= reads: credentials/NAME beside the config.
    beside = base_dir / CREDENTIALS_DIR / source.name
    if not beside.exists():
        raise SecretError(
            f"systemd credential '{source.name}' is not available: CREDENTIALS_DIRECTORY"
            f" is not set and {beside} does not exist",
            hint=f"add LoadCredential={source.name}:{beside} to the service unit and put"
            " the secret in that file (mode 0600; tagger init writes both)",
        )
    return _read_file(beside, f"systemd credential '{source.name}' ({CREDENTIALS_DIR}/)")


def _read_file(path: Path, what: str) -> str:
    """Read a secret file as UTF-8 without its trailing newline.

    Only a regular file of at most :data:`MAX_SECRET_BYTES` is read: a device
    (``/dev/zero``), a FIFO (which would block for ever) or a directory is
    refused before it is opened, and the file is opened non-blocking and
    checked again, so it cannot be swapped for one in between.
    """
    try:
        before = os.stat(path)
    except FileNotFoundError:
        raise SecretError(f"{what} does not exist ({path})") from None
    except (OSError, ValueError) as exc:
        raise SecretError(f"cannot read {what} ({path}): {_reason(exc)}") from None
    _check_kind(before, path, what)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except (OSError, ValueError) as exc:
        raise SecretError(f"cannot read {what} ({path}): {_reason(exc)}") from None
    try:
        _check_kind(os.fstat(fd), path, what)
        raw = os.read(fd, MAX_SECRET_BYTES + 1)
    except OSError as exc:
        raise SecretError(f"cannot read {what} ({path}): {_reason(exc)}") from None
    finally:
        os.close(fd)
    if len(raw) > MAX_SECRET_BYTES:
        raise _too_large(path, what)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SecretError(f"{what} ({path}) is not UTF-8 text") from None
    text = text.removesuffix("\n").removesuffix("\r")
    if not text:
        raise SecretError(f"{what} ({path}) is empty")
    return text


def _check_kind(info: os.stat_result, path: Path, what: str) -> None:
    """Raise :class:`SecretError` unless ``info`` is a regular file of at most the size limit."""
    if not stat.S_ISREG(info.st_mode):
        raise SecretError(
            f"cannot read {what} ({path}): it is {_kind(info.st_mode)}, not a regular file",
            hint="point it at a file holding only the secret",
        )
    if info.st_size > MAX_SECRET_BYTES:
        raise _too_large(path, what)


def _too_large(path: Path, what: str) -> SecretError:
    return SecretError(
        f"{what} ({path}) is larger than {MAX_SECRET_BYTES // 1024} KiB: not a secret",
        hint="point it at a file holding only the secret",
    )


def _kind(mode: int) -> str:
    """Name the kind of a file that is not a regular one."""
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or "unreadable"
