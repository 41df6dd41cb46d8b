"""Test doubles of Asterisk: a fake PBX speaking the real FastAGI wire protocol, and its dialplan.

Used by the tests, the demo and the benchmarks; never by the production call front.
"""
