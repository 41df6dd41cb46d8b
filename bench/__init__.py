"""Benchmarks: `make bench` runs them all and prints figures; never run by the tests."""
