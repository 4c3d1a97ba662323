"""tagger: a rule-driven auto-tagging daemon for Mimecast Smart Tags."""

from tagger._version import __version__

__all__ = ["__version__"]
