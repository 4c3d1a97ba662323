"""Benchmarks: each module prints its figures and exits 1 when it misses a target.

Run them as modules from the checkout (``make bench`` runs them all)::

    python -m bench.rules_eval
    python -m bench.ratelimit --messages 300

The checkout is then on the path, so the benchmarks import ``tagger``,
:mod:`testkit` and each other (``bench.benchlib``...) with no path
manipulation; child processes they start run the same way, from the checkout.
"""
