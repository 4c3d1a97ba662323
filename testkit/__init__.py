"""Helpers shared by the test suite and the benchmarks, importable from both.

They drive real components only: the simulator (a real HTTP server on
127.0.0.1), tagger as a real process (``python -m tagger``), real SQLite
files. A top-level package of the checkout, beside ``tests/`` and ``bench/``,
so that both import it the same way with no path manipulation (pytest's
``pythonpath`` setting holds the checkout; benchmarks run as modules from it,
``python -m bench.NAME``): the benchmarks never import the tests, and the
tests never run a benchmark to reuse its logic. It is not part of the
installed package (it needs the checkout: the shipped rules are read from
``rules/``).

- :mod:`testkit.expected`: the (message, tag) pairs a correct run
  applies, computed by the rule evaluator alone from the simulator's mailbox;
- :mod:`testkit.setup`: configs pointed at a simulator;
- :mod:`testkit.processes`: tagger processes and hang-guarded waits;
- :mod:`testkit.faults`: the fault-soak and late-indexing scenarios;
- :mod:`testkit.killswitch`: ``tagger pause --all`` against a daemon mid-apply;
- :mod:`testkit.writeahead`: the audit file's apply lines against what reached
  the simulator, after SIGKILL and with the audit file out of room.
"""

from pathlib import Path

# The checkout (the shipped rules are in ROOT / "rules").
ROOT = Path(__file__).resolve().parent.parent
RULES_DIR = ROOT / "rules"
