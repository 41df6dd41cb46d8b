"""The call front: FastAGI (and classic AGI) sessions with Asterisk, on pyst2.

`agi` imports `router`; nothing imports `agi` except the entry points.
"""
