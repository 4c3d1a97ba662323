"""Shared pytest set-up.

Property tests run with a fixed derandomized seed under CI, so a CI run is
repeatable; elsewhere hypothesis explores new inputs on every run (and keeps
any failure it finds in its example database).
"""

from __future__ import annotations

import os

from hypothesis import settings

# The suite is split into unit/ (no server, no process), integration/ (a real
# HTTP server on 127.0.0.1, in process) and e2e/ (tagger processes, signals,
# kills); the helpers they share are the tests.support package, and those the
# benchmarks share too are the top-level testkit package. pytest's pythonpath
# setting (pyproject.toml) puts the checkout on the path for both.

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
