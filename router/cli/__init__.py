"""The `callkeeper` command line."""
