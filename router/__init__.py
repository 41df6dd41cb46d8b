"""Routing: the directory of offices, agents and households, the decision, the ledger.

`router` imports `identity` and never `agi`.
"""

__version__ = "0.1.0"
