-- Runs once, when the postgres container starts with an empty data volume
-- (docker-entrypoint-initdb.d, as the superuser, through psql).
--
-- One database user and one database per service; each user owns its database, so the service
-- can create its tables (event store, outbox, projections) and nothing else. The passwords come
-- from the postgres container's environment (psql's \getenv, PostgreSQL 15+), which compose.yaml
-- fills from MEMBERSHIP_DB_PASSWORD, EVENTS_DB_PASSWORD and NOTIFICATIONS_DB_PASSWORD.

\set ON_ERROR_STOP on

\getenv membership_password MEMBERSHIP_DB_PASSWORD
\getenv events_password EVENTS_DB_PASSWORD
\getenv notifications_password NOTIFICATIONS_DB_PASSWORD
\getenv privacy_password PRIVACY_DB_PASSWORD

CREATE ROLE membership LOGIN PASSWORD :'membership_password';
CREATE DATABASE membership OWNER membership;
REVOKE ALL ON DATABASE membership FROM PUBLIC;

CREATE ROLE events LOGIN PASSWORD :'events_password';
CREATE DATABASE events OWNER events;
REVOKE ALL ON DATABASE events FROM PUBLIC;

CREATE ROLE notifications LOGIN PASSWORD :'notifications_password';
CREATE DATABASE notifications OWNER notifications;
REVOKE ALL ON DATABASE notifications FROM PUBLIC;

-- The key vault (docs/privacy.md): one database shared by the three services.
CREATE ROLE privacy LOGIN PASSWORD :'privacy_password';
CREATE DATABASE kl_privacy OWNER privacy;
REVOKE ALL ON DATABASE kl_privacy FROM PUBLIC;
