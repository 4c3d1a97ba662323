"""Allow ``python -m tagger``."""

from tagger.cli import entry

raise SystemExit(entry())
