"""Storage: the engine and sessions, the SQLAlchemy models, frozen views, prepared statements, migrations.

Imports only `router.errors`; every other room of `router` builds on it.
"""
