"""Splits: the pure share arithmetic (`shares`) and the report that feeds it bookings and ledger evidence.

Imports `router.routing`, `router.directory` and `router.storage`; never `router.cli`.
"""
