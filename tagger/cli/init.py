"""``tagger init [DIR]``: write a starter config, the shipped rules and the systemd unit.

Writes ``DIR/config.yaml`` (the example config pointed at the local
simulator, mode 0644: its secret is the systemd credential
``mimecast-client-secret``, kept in ``DIR/credentials/``, mode 0600, and its
state and audit files go to the state directory, ``$STATE_DIRECTORY`` under
systemd, else /var/lib/tagger), ``DIR/rules/`` (the shipped rules with their
fixtures) and ``DIR/tagger.service`` (running this tagger on
``DIR/config.yaml``, loading that credential); refuses to overwrite anything
unless --force. Then prints the next steps.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import Any

from tagger import exitcodes
from tagger.cli.install import (
    CREDENTIAL,
    SHIPPED_ENTRY,
    ShippedFileChanged,
    config_text,
    unit_text,
)
from tagger.cli.skel import CONFIG, RULES, UNIT, skel_dir
from tagger.config.secrets import CREDENTIALS_DIR
from tagger.errors import Problem, UserError

# The simulator's public demo secret (config.example.yaml holds it inline).
DEMO_SECRET = "tagger-demo-secret-not-real"  # noqa: S105 - public, useless elsewhere


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    """Add the ``init`` sub-command."""
    parser = sub.add_parser(
        "init",
        help="write a starter config, the shipped rules and the systemd unit into DIR",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
    )
    parser.add_argument("dir", nargs="?", default=".", metavar="DIR", help="default: here")
    parser.add_argument("--force", action="store_true", help="overwrite files that exist")
    parser.set_defaults(handler=handle)


def plan(target: Path) -> list[tuple[Path, Path]]:
    """Return (source, destination) for every file ``init`` writes into ``target``.

    The config and the unit are adapted from their sources (:mod:`tagger.cli.install`);
    the credential's source is the example config, whose demo secret it holds.
    """
    base = skel_dir()
    out = [
        (base / CONFIG, target / "config.yaml"),
        (base / UNIT, target / "tagger.service"),
        (base / CONFIG, target / CREDENTIALS_DIR / CREDENTIAL),
    ]
    rules = base / RULES
    for source in sorted(rules.rglob("*")):
        if source.is_file() and source.suffix in (".yaml", ".yml", ".json"):
            out.append((source, target / "rules" / source.relative_to(rules)))
    return out


def entry_point() -> Path:
    """Return the ``tagger`` command to put in the unit: this installation's own."""
    beside = Path(sys.executable).with_name("tagger")
    if beside.is_file():
        return beside.absolute()
    found = shutil.which("tagger")
    return Path(found).absolute() if found else Path(SHIPPED_ENTRY)


def _write(path: Path, text: str, mode: int) -> None:
    """Write ``text`` to ``path`` and set ``mode`` whatever the umask."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)


def handle(args: argparse.Namespace) -> int:
    """Write the files; 0, or 2 (nothing written) when one exists and ``--force`` is not given."""
    target = Path(args.dir).absolute()
    files = plan(target)
    existing = [dest for _, dest in files if dest.exists()]
    if existing and not args.force:
        raise UserError(
            [Problem("already exists", file=str(p)) for p in existing],
            "tagger init writes nothing over existing files (use --force to overwrite):",
        )
    base = skel_dir()
    try:
        service_config = config_text((base / CONFIG).read_text("utf-8"))
        service_unit = unit_text(
            (base / UNIT).read_text("utf-8"), config_dir=target, entry=entry_point()
        )
    except ShippedFileChanged as exc:
        raise UserError.single(str(exc), file=str(base)) from None
    config, unit = target / "config.yaml", target / "tagger.service"
    secret = target / CREDENTIALS_DIR / CREDENTIAL
    # Readable by the service's (dynamic) user: no secret is in them. A folder that
    # exists keeps its mode (it is the operator's).
    if not target.exists():
        target.mkdir(parents=True)
        target.chmod(0o755)
    _write(config, service_config, 0o644)
    _write(unit, service_unit, 0o644)
    for source, dest in files:
        if dest.parent.is_relative_to(target / "rules"):
            _write(dest, source.read_text("utf-8"), 0o644)
    for folder in {d.parent for _, d in files if d.parent.is_relative_to(target / "rules")}:
        folder.chmod(0o755)
    # Root's only: systemd reads it for the service (LoadCredential=). A secret
    # that is there is never replaced by the demo one, --force or not.
    if not secret.parent.exists():
        secret.parent.mkdir()
        secret.parent.chmod(0o700)
    kept = secret.exists()
    if not kept:
        _write(secret, DEMO_SECRET + "\n", 0o600)
    rules = sum(1 for _, d in files if d.parent.name == "rules" and d.suffix == ".yaml")
    print(
        f"wrote {config} (mode 0644: no secret in it)\n"
        f"      {target / 'rules'}/ ({rules} rule files)\n"
        + (
            f"      (kept {secret}: an existing secret is never overwritten)\n"
            if kept
            else f"      {secret} (mode 0600: the simulator's demo secret)\n"
        )
        + f"      {unit}\n"
        f"secret: config.yaml names it {{credential: {CREDENTIAL}}}. The service gets it\n"
        f"        from {unit.name}'s LoadCredential= (systemd reads {secret});\n"
        "        commands run by hand read that file directly.\n"
        f"state:  state.db and audit/ go to the state directory, never into {target}:\n"
        "        $STATE_DIRECTORY under systemd (StateDirectory=tagger, /var/lib/tagger,\n"
        "        owned by the service's dynamic user), /var/lib/tagger when run by hand.\n"
        "next:\n"
        f"  tagger validate -c {config}\n"
        "  tagger simulate &      # a local Mimecast simulator on port 8765\n"
        f"  tagger once --dry-run -c {config}\n"
        "then, for your account:\n"
        f"  edit {config} (region or base_url, client_id, domains)\n"
        f"  printf '%s' 'YOUR-CLIENT-SECRET' > {secret}\n"
        f"  cp {unit} /etc/systemd/system/ && systemctl daemon-reload\n"
        "  systemctl enable --now tagger && systemctl status tagger\n"
        f"  tagger status -c {config}"
    )
    return exitcodes.OK
