-- Storage buckets hosted by this server (the Storage Role). Objects live in the configured
-- object store under the bucket id; only a hash of each bucket's access key is kept.

CREATE TABLE buckets (
    id              TEXT PRIMARY KEY NOT NULL,   -- 32 lower-case hex characters
    organization_id TEXT NOT NULL,
    key_hash        TEXT NOT NULL,               -- BLAKE3 of the access key
    owner           TEXT,                        -- user name, when the bucket belongs to a user
    append_only     INTEGER NOT NULL DEFAULT 0,  -- 1: deletes are refused
    created_at      INTEGER NOT NULL
);
