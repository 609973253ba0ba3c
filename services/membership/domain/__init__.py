"""The pure membership domain: no I/O, no wire formats."""
