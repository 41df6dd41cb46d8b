"""Routing: the pure decision and its plan, the snapshot it reads, claims, ownership, the ledger it writes,
and the agents board read from them.

Imports `router.directory`, `router.storage` and `identity`; never `router.splits` or `router.cli`.
"""
