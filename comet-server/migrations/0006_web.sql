-- Two-factor sign-in (TOTP, RFC 6238) for administrators and users, their recovery codes, and
-- the server settings edited from the web interface.

CREATE TABLE totp (
    kind            TEXT NOT NULL CHECK (kind IN ('admin', 'user')),
    username        TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    secret          TEXT NOT NULL DEFAULT '',  -- base32 of the active secret; '' = TOTP off
    pending_secret  TEXT NOT NULL DEFAULT '',  -- base32 of an enrolment not yet confirmed
    last_step       INTEGER NOT NULL DEFAULT 0, -- last accepted 30-second step: a code works once
    PRIMARY KEY (kind, username)
);

CREATE TABLE recovery_codes (
    kind            TEXT NOT NULL CHECK (kind IN ('admin', 'user')),
    username        TEXT NOT NULL,
    code_hash       TEXT NOT NULL,              -- BLAKE3 of the code (80 random bits)
    PRIMARY KEY (kind, username, code_hash)
);

CREATE TABLE settings (
    organization_id TEXT PRIMARY KEY NOT NULL,
    document        TEXT NOT NULL               -- JSON: ServerSettings
);
