"""Command-line interface: the one composition root of tagger."""
