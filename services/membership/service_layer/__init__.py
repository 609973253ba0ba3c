"""Use cases: load a stream, decide, append with the expected version."""
