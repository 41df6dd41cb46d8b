"""`callkeeper demo`: a demo agency, a day of calls through the real server and the fake PBX.

Imports `agi.fake`, `agi` and `router`; nothing imports it but the command line.
"""
