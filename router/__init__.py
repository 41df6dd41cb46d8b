"""The core both fronts share: directory, routing, splits, storage; config, errors, logs, metrics, CLI.

Inside, imports run cli -> splits -> routing -> directory -> storage, never back up.
`router` imports `identity` and never `agi` (or any other front).
"""

__version__ = "0.1.0"
