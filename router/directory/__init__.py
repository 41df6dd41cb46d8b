"""The directory: offices, lines, agents, households, their numbers, the audit trail, CSV import, suggestions.

Imports `router.storage` and `identity`; never `router.routing`, `router.splits` or `router.cli`.
"""
