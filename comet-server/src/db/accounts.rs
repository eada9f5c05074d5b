//! Sign-in extras of administrators and users: TOTP secrets (active and pending enrolment),
//! recovery codes, password changes; and the organization's server settings document.
//!
//! An account is `(kind, username)`, kind `admin` or `user`, as in `sessions`.

use sqlx::Row;

use super::{Db, DbResult};

/// The TOTP state of an account.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TotpState {
    /// Base32 of the active secret; empty when TOTP is off.
    pub secret: String,
    /// Base32 of an enrolment waiting for its first code.
    pub pending_secret: String,
    /// The last accepted step.
    pub last_step: i64,
    /// Unused recovery codes.
    pub recovery_codes_left: i64,
}

impl TotpState {
    /// Whether sign-in needs a code.
    pub fn enabled(&self) -> bool {
        !self.secret.is_empty()
    }
}

impl Db {
    /// The TOTP state of an account (all empty when it never enrolled).
    pub async fn totp(&self, kind: &str, username: &str) -> DbResult<TotpState> {
        let row = sqlx::query("SELECT secret, pending_secret, last_step FROM totp WHERE kind = ? AND username = ?")
            .bind(kind)
            .bind(username)
            .fetch_optional(&self.pool)
            .await?;
        let left: i64 = sqlx::query("SELECT COUNT(*) FROM recovery_codes WHERE kind = ? AND username = ?")
            .bind(kind)
            .bind(username)
            .fetch_one(&self.pool)
            .await?
            .get(0);
        Ok(row.map_or(TotpState { recovery_codes_left: left, ..TotpState::default() }, |r| TotpState {
            secret: r.get(0),
            pending_secret: r.get(1),
            last_step: r.get(2),
            recovery_codes_left: left,
        }))
    }

    /// Records a new enrolment, waiting for its first code (the active secret, if any, stays).
    pub async fn set_pending_totp(&self, kind: &str, username: &str, org: &str, secret: &str) -> DbResult<()> {
        sqlx::query(
            "INSERT INTO totp (kind, username, organization_id, pending_secret) VALUES (?, ?, ?, ?) \
             ON CONFLICT (kind, username) DO UPDATE SET pending_secret = excluded.pending_secret",
        )
        .bind(kind)
        .bind(username)
        .bind(org)
        .bind(secret)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Turns the pending enrolment `pending` on (if it is still the pending one), with the step of
    /// its first code and new recovery codes (hashes) replacing the old ones. False if another
    /// enrolment replaced it meanwhile.
    pub async fn activate_totp(
        &self,
        kind: &str,
        username: &str,
        pending: &str,
        step: i64,
        recovery_hashes: &[String],
    ) -> DbResult<bool> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE totp SET secret = pending_secret, pending_secret = '', last_step = ? \
             WHERE kind = ? AND username = ? AND pending_secret = ? AND pending_secret <> ''",
        )
        .bind(step)
        .bind(kind)
        .bind(username)
        .bind(pending)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query("DELETE FROM recovery_codes WHERE kind = ? AND username = ?")
            .bind(kind)
            .bind(username)
            .execute(&mut *tx)
            .await?;
        for hash in recovery_hashes {
            sqlx::query("INSERT INTO recovery_codes (kind, username, code_hash) VALUES (?, ?, ?)")
                .bind(kind)
                .bind(username)
                .bind(hash)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Records `step` as used if it is later than the last used one (one statement: two
    /// sign-ins with the same code cannot both pass).
    pub async fn use_totp_step(&self, kind: &str, username: &str, step: i64) -> DbResult<bool> {
        let done = sqlx::query("UPDATE totp SET last_step = ? WHERE kind = ? AND username = ? AND last_step < ?")
            .bind(step)
            .bind(kind)
            .bind(username)
            .bind(step)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Uses up a recovery code; false if it is not one of the account's unused codes.
    pub async fn use_recovery_code(&self, kind: &str, username: &str, code_hash: &str) -> DbResult<bool> {
        let done = sqlx::query("DELETE FROM recovery_codes WHERE kind = ? AND username = ? AND code_hash = ?")
            .bind(kind)
            .bind(username)
            .bind(code_hash)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Turns TOTP off and forgets the recovery codes; false if it was not on.
    pub async fn disable_totp(&self, kind: &str, username: &str) -> DbResult<bool> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("DELETE FROM totp WHERE kind = ? AND username = ? AND secret <> ''")
            .bind(kind)
            .bind(username)
            .execute(&mut *tx)
            .await?;
        for statement in [
            "DELETE FROM recovery_codes WHERE kind = ? AND username = ?",
            "DELETE FROM totp WHERE kind = ? AND username = ?",
        ] {
            sqlx::query(statement).bind(kind).bind(username).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// Replaces an administrator's password hash and ends their other sessions.
    pub async fn set_admin_password(&self, username: &str, hash: &str, keep_session: &str) -> DbResult<bool> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("UPDATE admins SET password_hash = ? WHERE username = ?")
            .bind(hash)
            .bind(username)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM sessions WHERE kind = 'admin' AND username = ? AND key_hash <> ?")
            .bind(username)
            .bind(keep_session)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// The organization's server settings document (JSON), if it was ever saved.
    pub async fn settings(&self, org: &str) -> DbResult<Option<String>> {
        let row = sqlx::query("SELECT document FROM settings WHERE organization_id = ?")
            .bind(org)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.get(0)))
    }

    /// Saves the organization's server settings document.
    pub async fn set_settings(&self, org: &str, document: &str) -> DbResult<()> {
        sqlx::query(
            "INSERT INTO settings (organization_id, document) VALUES (?, ?) \
             ON CONFLICT (organization_id) DO UPDATE SET document = excluded.document",
        )
        .bind(org)
        .bind(document)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
