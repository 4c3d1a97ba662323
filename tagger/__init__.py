"""tagger: a rule-driven auto-tagging daemon for Mimecast Smart Tags."""

__version__ = "0.1.0"
