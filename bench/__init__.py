"""Benchmarks against the real local stack; results go to docs/benchmarks.md."""
