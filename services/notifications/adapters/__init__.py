"""PostgreSQL tables, SMTP, e-mail and calendar rendering, and contract translation."""
