"""Safety rails for permanent tags: preflight, blast-radius limits, audit-first rollout.

A Smart Tag cannot be removed, so these checks stand between a plan and the
first apply: :mod:`preflight` refuses to start applying when something the
run depends on is broken, :mod:`budget` pauses a rule before it applies more
than its limits allow, and :mod:`rollout` keeps new or changed rules in audit
mode until an operator promotes them. The decisions are pure; the ledger
persists pauses and promotions.
"""
