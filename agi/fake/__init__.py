"""Test doubles of Asterisk: a fake PBX speaking the real FastAGI wire protocol, its dialplan,
and a simulated day of calls on a clock shared with the server (the demo's).

Used by the tests, the demo and the benchmarks; never by the production call front.
"""
