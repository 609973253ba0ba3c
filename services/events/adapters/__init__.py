"""Postgres read models, contract translation and the membership service client."""
