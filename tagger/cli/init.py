"""``tagger init [DIR]``: write a starter config, the shipped rules and the systemd unit.

Writes ``DIR/config.yaml`` (the example config, mode 0600, pointed at the
local simulator as shipped), ``DIR/rules/`` (the shipped rules with their
fixtures) and ``DIR/tagger.service``; refuses to overwrite anything unless
``--force``. Then prints the next steps.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path
from typing import Any

from tagger import exitcodes
from tagger.cli.skel import CONFIG, RULES, UNIT, skel_dir
from tagger.errors import Problem, UserError


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
    """Return (source, destination) for every file ``init`` writes into ``target``."""
    base = skel_dir()
    out = [(base / CONFIG, target / "config.yaml"), (base / UNIT, target / "tagger.service")]
    rules = base / RULES
    for source in sorted(rules.rglob("*")):
        if source.is_file() and source.suffix in (".yaml", ".yml", ".json"):
            out.append((source, target / "rules" / source.relative_to(rules)))
    return out


def handle(args: argparse.Namespace) -> int:
    """Write the files; 0, or 2 (nothing written) when one exists and ``--force`` is not given."""
    target = Path(args.dir)
    files = plan(target)
    existing = [dest for _, dest in files if dest.exists()]
    if existing and not args.force:
        raise UserError(
            [Problem("already exists", file=str(p)) for p in existing],
            "tagger init writes nothing over existing files (use --force to overwrite):",
        )
    for source, dest in files:
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, dest)
    # The starter config holds the simulator's (public) demo secret inline.
    (target / "config.yaml").chmod(0o600)
    rules = sum(1 for _, d in files if d.parent.name == "rules" and d.suffix == ".yaml")
    config = target / "config.yaml"
    print(f"wrote {config}, {target / 'rules'}/ ({rules} rule files), {target / 'tagger.service'}")
    print(
        "next:\n"
        f"  tagger validate -c {config}          # check the config and the rules\n"
        "  tagger simulate &                     # a local Mimecast simulator, port 8765\n"
        f"  tagger once --dry-run -c {config}    # what would be tagged\n"
        "then edit config.yaml for your account (region, credentials as\n"
        "{credential: mimecast-client-secret}, domains) and install tagger.service\n"
        "(its header says how)."
    )
    return exitcodes.OK
