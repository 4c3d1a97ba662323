"""Several nodes on one PostgreSQL ledger: leases, fencing, claims, balancing, shared quota.

A node holds a lease per account (:mod:`~tagger.cluster.leases`), renews it
and balances the accounts with the other nodes without a leader
(:mod:`~tagger.cluster.balance`, :mod:`~tagger.cluster.node`); every ledger
write for an account checks the lease at its epoch
(:mod:`~tagger.cluster.tenure`), and every apply is claimed first
(:mod:`~tagger.cluster.claims`), so a takeover never sends a tag twice.
"""
