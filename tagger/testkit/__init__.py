"""Helpers shared by the test suite and the benchmarks, importable from both.

They drive real components only: the simulator (a real HTTP server on
127.0.0.1), tagger as a real process (``python -m tagger``), real SQLite
files. Kept in the package, next to the simulator, so that ``bench/`` scripts
and the tests import them the same way, with no path manipulation: the
benchmarks never import the tests, and the tests never run a benchmark to
reuse its logic.

- :mod:`tagger.testkit.expected`: the (message, tag) pairs a correct run
  applies, computed by the rule evaluator alone from the simulator's mailbox;
- :mod:`tagger.testkit.setup`: configs pointed at a simulator;
- :mod:`tagger.testkit.processes`: tagger processes and hang-guarded waits;
- :mod:`tagger.testkit.faults`: the fault-soak and late-indexing scenarios.
"""

from pathlib import Path

# The checkout the package runs from (the shipped rules are in ROOT / "rules").
ROOT = Path(__file__).resolve().parent.parent.parent
RULES_DIR = ROOT / "rules"
