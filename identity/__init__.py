"""Who is calling: phone numbers and the names of people, with no storage and no I/O.

`identity` imports neither `router` nor `agi`; it works on plain values so that
the rules it encodes (what counts as the same number, as the same family) can
be tested and benchmarked on their own.
"""
