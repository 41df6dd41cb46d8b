"""Console users, their roles and sessions: who may use the web console, and for what."""
