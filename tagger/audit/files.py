"""Files tagger writes for people to read: private, and never through a symbolic link.

The audit file and the reports hold mail subjects and addresses: they are
created mode 0600 whatever the umask, and a symbolic link at their path is
refused (``O_NOFOLLOW``) rather than followed, so a link planted there cannot
make tagger append to, or overwrite, another file.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

__all__ = ["PRIVATE_MODE", "is_link_refusal", "open_private"]

PRIVATE_MODE = 0o600


def open_private(path: Path, *, append: bool) -> int:
    """Open ``path`` for writing (appending, or truncating); returns the descriptor.

    A file created here is given mode 0600 whatever the umask; an existing one
    keeps its mode. Raises OSError: ``ELOOP`` when the path is a symbolic link
    (see :func:`is_link_refusal`), and whatever else opening it raises.
    """
    flags = os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC | (os.O_APPEND if append else os.O_TRUNC)
    try:
        fd = os.open(path, flags | os.O_CREAT | os.O_EXCL, PRIVATE_MODE)
    except FileExistsError:
        return os.open(path, flags)
    try:
        os.fchmod(fd, PRIVATE_MODE)  # the umask may have taken bits away; never adds any
    except BaseException:
        os.close(fd)
        raise
    return fd


def is_link_refusal(exc: OSError) -> bool:
    """Return True when ``exc`` is :func:`open_private` refusing a symbolic link."""
    return exc.errno == errno.ELOOP
