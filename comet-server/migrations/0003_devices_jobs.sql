-- Devices registered to users, single-use install tokens, and the job history with its logs.
-- Every row carries the organization (tenant) it belongs to. Only hashes of device tokens and
-- install tokens are kept (BLAKE3, like session keys).

CREATE TABLE devices (
    organization_id TEXT NOT NULL,
    username        TEXT NOT NULL,
    device_id       TEXT NOT NULL,               -- chosen by the agent: 1 to 64 of [A-Za-z0-9_-]
    friendly_name   TEXT NOT NULL,
    platform        TEXT NOT NULL,
    client_version  TEXT NOT NULL,
    registered_at   INTEGER NOT NULL,            -- seconds since the epoch
    last_seen       INTEGER NOT NULL,
    revoked_at      INTEGER,                     -- set by an administrator; NULL while allowed
    token_hash      TEXT UNIQUE,                 -- BLAKE3 of the device token; NULL after disconnect
    PRIMARY KEY (username, device_id)
);

CREATE TABLE install_tokens (
    token_hash      TEXT PRIMARY KEY NOT NULL,   -- BLAKE3 of the token's server part
    organization_id TEXT NOT NULL,
    username        TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    used_at         INTEGER,                     -- NULL until a device registers with it
    used_by_device  TEXT
);

CREATE INDEX install_tokens_by_user ON install_tokens (username);

CREATE TABLE jobs (
    id                TEXT PRIMARY KEY NOT NULL, -- 32 lower-case hex characters
    start_order       INTEGER NOT NULL UNIQUE,   -- 1, 2, 3...: orders jobs started in the same second
    organization_id   TEXT NOT NULL,
    username          TEXT NOT NULL,
    device_id         TEXT NOT NULL,
    classification    INTEGER NOT NULL,          -- 4001 backup, 4002 restore, 4003 retention, ...
    status            INTEGER NOT NULL,          -- JobStatus code: 6001 while running
    start_time        INTEGER NOT NULL,
    end_time          INTEGER NOT NULL,          -- 0 while running
    source_id         TEXT NOT NULL,
    destination_id    TEXT NOT NULL,
    backup_rule_id    TEXT NOT NULL,
    snapshot_id       TEXT NOT NULL,
    client_version    TEXT NOT NULL,
    total_directories INTEGER NOT NULL,
    total_files       INTEGER NOT NULL,
    total_size        INTEGER NOT NULL,
    upload_size       INTEGER NOT NULL,
    download_size     INTEGER NOT NULL,
    cancel_requested  INTEGER NOT NULL,          -- 1: an administrator or the user asked to cancel
    last_update       INTEGER NOT NULL
);

CREATE INDEX jobs_by_user ON jobs (organization_id, username, start_time);
CREATE INDEX jobs_by_time ON jobs (organization_id, start_time);

CREATE TABLE job_log (
    job_id          TEXT NOT NULL,
    seq             INTEGER NOT NULL,            -- 1, 2, ... in the order the agent sent them
    organization_id TEXT NOT NULL,
    time            INTEGER NOT NULL,            -- as the agent reported it
    severity        TEXT NOT NULL CHECK (severity IN ('D', 'I', 'W', 'E')),
    message         TEXT NOT NULL,
    PRIMARY KEY (job_id, seq)
);
