"""Routing: the pure decision and its plan, the snapshot it reads, claims, ownership, the ledger it writes.

Imports `router.directory`, `router.storage` and `identity`; never `router.splits` or `router.cli`.
"""
