"""The version of tagger: the one place it is written (pyproject.toml reads it from here).

A release sets it to the release's number (and the CHANGELOG's heading to
match); between releases it is the next release's number with ``.devN``, so
no two releases, and no development build and a release, share a version.
The state records nothing by version: its schema version
(:mod:`tagger.state.schema`) is what an upgrade migrates.
"""

__version__ = "0.2.0.dev0"
