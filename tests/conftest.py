"""Shared pytest set-up.

Property tests run with a fixed derandomized seed under CI, so a CI run is
repeatable; elsewhere hypothesis explores new inputs on every run (and keeps
any failure it finds in its example database).
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
