-- Until when the server looked for scheduled runs that did not happen (Missed jobs), per
-- organization: a restart goes on from there instead of forgetting or repeating.

CREATE TABLE missed_checks (
    organization_id TEXT PRIMARY KEY NOT NULL,
    checked_until   INTEGER NOT NULL   -- seconds since the epoch
);

-- Deletes allowed in an append-only bucket for one retention job (4003), until `until` or
-- until the job ends, whichever comes first.
CREATE TABLE delete_grants (
    bucket_id       TEXT NOT NULL,
    job_id          TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    until           INTEGER NOT NULL,   -- seconds since the epoch
    PRIMARY KEY (bucket_id, job_id)
);
