"""PostgreSQL event streams and read models, and the contract translation."""
