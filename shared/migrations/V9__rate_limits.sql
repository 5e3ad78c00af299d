-- Limits on costly requests (rules::limits): one GCRA timestamp per key, such as a login's per
-- account and address, per account and per address, or a user's group creations. Rows whose
-- time has passed mean nothing and are pruned by the requests themselves (by tat).
CREATE TABLE rate_limits (
    key TEXT PRIMARY KEY,
    tat TIMESTAMPTZ NOT NULL
);
CREATE INDEX rate_limits_tat_idx ON rate_limits (tat);
