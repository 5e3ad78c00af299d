-- Nodes load the sessions revoked in the last access-token lifetime whenever their LISTEN
-- connection (re)starts, to refuse those sessions' still-valid access tokens on REST without a
-- query per request: an index over the few revoked rows, not a scan of every session.
CREATE INDEX auth_sessions_revoked_idx ON auth_sessions (revoked_at) WHERE revoked_at IS NOT NULL;
