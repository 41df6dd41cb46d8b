"""Splits: the pure share arithmetic (`shares`), stored bookings, the report that feeds it bookings and
ledger evidence, and a household's evidence timeline.

Imports `router.routing`, `router.directory` and `router.storage`; never `router.cli`.
"""
