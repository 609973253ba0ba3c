"""Where the local stack listens (``deploy/local/stack.sh env``), with the same defaults."""

from __future__ import annotations

import os

KAFKA_BOOTSTRAP = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092")
ADMIN_DSN = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:55432/postgres")
SMTP_HOST = os.environ.get("SMTP_HOST", "127.0.0.1")
SMTP_PORT = int(os.environ.get("SMTP_PORT", "2525"))
