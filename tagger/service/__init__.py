"""tagger.service."""
