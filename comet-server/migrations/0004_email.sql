-- Daily e-mail summaries already sent, so that a restart does not send them again.
-- `username` is '' and `rule_index` -1 for the administrators' summary.

CREATE TABLE email_summaries (
    organization_id TEXT NOT NULL,
    username        TEXT NOT NULL,
    rule_index      INTEGER NOT NULL,
    day             INTEGER NOT NULL,   -- days since the epoch (UTC)
    PRIMARY KEY (organization_id, username, rule_index, day)
);
