"""Leads: orders that arrive without a call (website, CRM), given to a manager by the rules calls follow.

Imports `router.routing`, `router.directory` and `router.storage`; never
`router.splits` or `router.cli`. The HTTP API over it lives in `web/`.
"""
