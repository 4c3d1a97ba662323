"""Shared pytest set-up.

Property tests run with a fixed derandomized seed under CI, so a CI run is
repeatable; elsewhere hypothesis explores new inputs on every run (and keeps
any failure it finds in its example database).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from hypothesis import settings

# The suite is split into unit/ (no server, no process), integration/ (a real
# HTTP server on 127.0.0.1, in process) and e2e/ (tagger processes, signals,
# kills); the helpers they share (*_support.py) stay here, beside this file.
sys.path.insert(0, str(Path(__file__).resolve().parent))

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
