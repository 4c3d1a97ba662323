"""The files tagger ships besides its code: the example config, the rules, the unit, the docs.

In a source checkout they are at the top of the tree (``config.example.yaml``,
``rules/``, ``systemd/tagger.service``, ``docs/rules.md``); an installed wheel carries copies of
them in the package (``tagger/skel/``, put there by ``setup.py`` at build
time). :func:`skel_dir` finds whichever is there, so ``tagger init`` and
``tagger demo`` work from both.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent.parent  # tagger/
PACKAGED = _PACKAGE / "skel"
CHECKOUT = _PACKAGE.parent
# What is shipped, relative to the skeleton directory.
CONFIG = "config.example.yaml"
RULES = "rules"
UNIT = "systemd/tagger.service"
# The rule reference (``tagger help rules``).
DOCS = "docs/rules.md"


def skel_dir() -> Path:
    """Return the directory holding the shipped files.

    Raises:
        FileNotFoundError: neither the package nor a checkout has them (a
            broken install); the message says what is missing where.
    """
    for base in (PACKAGED, CHECKOUT):
        if (base / CONFIG).is_file() and (base / RULES).is_dir() and (base / UNIT).is_file():
            return base
    raise FileNotFoundError(
        f"the shipped example config, rules and unit are missing (looked in {PACKAGED} "
        f"and {CHECKOUT}); reinstall tagger"
    )
