"""The meeting aggregate: pure decide and evolve, no I/O."""
