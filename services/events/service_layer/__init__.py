"""Use cases of the events service: load, decide, append, in one unit of work."""
