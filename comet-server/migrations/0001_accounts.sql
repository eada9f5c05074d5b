-- Administrators, users with their profile document, and API sessions.
-- Every row carries the organization (tenant) it belongs to.

CREATE TABLE admins (
    username        TEXT PRIMARY KEY NOT NULL,
    organization_id TEXT NOT NULL,
    password_hash   TEXT NOT NULL,           -- Argon2id, PHC string
    created_at      INTEGER NOT NULL         -- seconds since the epoch
);

CREATE TABLE users (
    username        TEXT PRIMARY KEY NOT NULL,
    organization_id TEXT NOT NULL,
    login_hash      TEXT NOT NULL,           -- Argon2id (PHC) of the login secret the agent derives
    profile         TEXT NOT NULL,           -- UserProfile, canonical JSON
    profile_hash    TEXT NOT NULL,           -- BLAKE3 of `profile`: compare-and-swap edits
    created_at      INTEGER NOT NULL
);

CREATE TABLE sessions (
    key_hash        TEXT PRIMARY KEY NOT NULL, -- BLAKE3 of the session key (the key is never stored)
    kind            TEXT NOT NULL CHECK (kind IN ('admin', 'user')),
    username        TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    expires_at      INTEGER NOT NULL
);

CREATE INDEX sessions_by_user ON sessions (kind, username);
