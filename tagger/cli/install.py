"""What ``tagger init`` writes for a service install: the config and unit, adapted to DIR.

Pure text transforms of the shipped ``config.example.yaml`` and
``systemd/tagger.service``. The written config keeps no secret (it is
readable by the service's dynamic user, mode 0644): the client secret is
``{credential: mimecast-client-secret}``, which the unit loads from
``DIR/credentials/`` with ``LoadCredential=`` and which commands run by hand
read from that same file. State and audit files go to the state directory
(``{state_directory: ...}``: ``$STATE_DIRECTORY`` under systemd, else
``/var/lib/tagger``), never into DIR, which the service sees read-only.
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["CREDENTIAL", "SHIPPED_DIR", "config_text", "unit_text"]

# The credential the written config names and the written unit loads.
CREDENTIAL = "mimecast-client-secret"
# Where the shipped unit expects the config.
SHIPPED_DIR = "/etc/tagger"
SHIPPED_ENTRY = "/usr/local/bin/tagger"

# (shipped line, written line): each shipped line must be there exactly once.
_CONFIG_EDITS = (
    (
        "      client_secret: tagger-demo-secret-not-real\n",
        f"      client_secret: {{credential: {CREDENTIAL}}}"
        f"   # credentials/{CREDENTIAL} (LoadCredential= in the unit)\n",
    ),
    ("state_path: ./state/tagger.db\n", "state_path: {state_directory: state.db}\n"),
    ("  path: ./state/audit/audit.jsonl\n", "  path: {state_directory: audit/audit.jsonl}\n"),
)


class ShippedFileChanged(RuntimeError):
    """A shipped file no longer holds a line ``tagger init`` adapts (a packaging bug)."""


def _edit(text: str, old: str, new: str, name: str) -> str:
    """Return ``text`` with the whole line ``old`` replaced by ``new``; it must be there once."""
    line = re.compile("^" + re.escape(old), re.MULTILINE)
    if len(line.findall(text)) != 1:
        raise ShippedFileChanged(f"{name}: expected the line {old.strip()!r} once; reinstall")
    return line.sub(lambda _: new, text)


def config_text(shipped: str) -> str:
    """Return the service config made from the shipped example config's text. Pure."""
    text = shipped
    for old, new in _CONFIG_EDITS:
        text = _edit(text, old, new, "config.example.yaml")
    header = (
        "# Written by `tagger init` for a service install: no secret in this file (the\n"
        f"# client secret is the systemd credential {CREDENTIAL}, loaded by the unit from\n"
        f"# credentials/{CREDENTIAL}), state and audit files in the state directory\n"
        "# ($STATE_DIRECTORY under systemd, /var/lib/tagger otherwise).\n#\n"
    )
    return header + text


def unit_text(shipped: str, *, config_dir: Path, entry: Path) -> str:
    """Return the unit made from the shipped one for a config in ``config_dir``. Pure.

    Given the shipped unit's text, the (absolute) directory ``init`` writes
    to and the ``tagger`` entry point to run. ``ExecStart=`` runs ``entry``,
    every ``/etc/tagger/`` path becomes ``config_dir``, and
    ``ConfigurationDirectory=`` names ``config_dir`` when it is a directory
    of ``/etc`` (systemd only manages those), else it is left out.
    """
    old = f"ExecStart={SHIPPED_ENTRY} run -c {SHIPPED_DIR}/config.yaml\n"
    new = f"ExecStart={entry} run -c {SHIPPED_DIR}/config.yaml\n"
    text = _edit(shipped, old, new, "unit")
    text = text.replace(SHIPPED_DIR, str(config_dir))
    managed = "ConfigurationDirectory=tagger\n"
    mode = "ConfigurationDirectoryMode=0755\n"
    if config_dir.parent == Path("/etc"):
        text = _edit(text, managed, f"ConfigurationDirectory={config_dir.name}\n", "unit")
    else:
        note = f"# ({config_dir} is outside /etc: no ConfigurationDirectory=)\n"
        text = _edit(text, managed, note, "unit")
        text = _edit(text, mode, "", "unit")
    return text
