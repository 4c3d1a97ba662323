"""tagger.engine."""
