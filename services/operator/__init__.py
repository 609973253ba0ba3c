"""The operator command line: the local stack, the demo, topics, dead letters, projections."""
