"""Helpers shared by the tests: waiting on conditions, reading topics, the stack's address."""
