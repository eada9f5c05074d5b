//! The server's state in SQLite: one file in the data dir, WAL journal, versioned migrations
//! (`migrations/`, applied at start). Queries are plain SQL without SQLite-only syntax, so a
//! PostgreSQL pool can be added behind the same functions.
//!
//! Accounts, sessions, profiles and buckets are here; devices and install tokens are in
//! `db/devices.rs`, jobs and their logs in `db/jobs.rs`. Transactions that read and then write
//! start with their write (a conditional `UPDATE`), so that SQLite takes the write lock first and
//! concurrent writers wait (busy timeout) instead of failing on a stale read snapshot.

use std::path::Path;
use std::str::FromStr;

use comet_protocol::profile::{UserProfile, profile_hash};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};

mod accounts;
mod devices;
mod jobs;

pub use accounts::TotpState;

pub use devices::{DeviceRecord, InstallTokenRecord, NewDevice, TokenUse};
pub use jobs::{JobCancel, JobEnd, JobList, JobLogRow, JobOutcome, JobOwner, JobRecord, LogAppend, MissedRun, NewJob};

/// How often [`Db::edit_profile`] retries a compare-and-swap that lost a race before giving up.
const PROFILE_EDIT_ATTEMPTS: usize = 32;

/// Errors of the database layer.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// SQLite failed.
    #[error("database: {0}")]
    Sql(#[from] sqlx::Error),
    /// A migration failed.
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored profile does not parse (written by another build, or edited by hand).
    #[error("stored profile of {user} is unreadable: {reason}")]
    BadProfile {
        /// Whose.
        user: String,
        /// Why.
        reason: String,
    },
    /// A profile edit by the server kept losing compare-and-swap races.
    #[error("the profile of {user} changes too often to be edited now: try again")]
    Contended {
        /// Whose.
        user: String,
    },
}

/// Result of the database layer.
pub type DbResult<T> = Result<T, DbError>;

/// What a compare-and-swap profile update found.
#[derive(Debug, PartialEq, Eq)]
pub enum ProfileUpdate {
    /// Stored; the new hash.
    Updated(String),
    /// The stored profile's hash is not the one the edit was based on.
    Conflict,
    /// No such user.
    NoSuchUser,
}

/// What a compare-and-swap profile update with a new bucket found.
#[derive(Debug, PartialEq, Eq)]
pub enum VaultInit {
    /// Both stored; the new hash.
    Updated(String),
    /// The stored profile's hash is not the one the edit was based on; nothing stored.
    Conflict,
    /// A bucket with that id exists; nothing stored.
    BucketExists,
    /// No such user.
    NoSuchUser,
}

/// The database.
#[derive(Clone, Debug)]
pub struct Db {
    pool: SqlitePool,
}

impl Db {
    /// Opens (creating if needed) the database at `path` and applies pending migrations.
    pub async fn open(path: &Path) -> DbResult<Self> {
        let options = SqliteConnectOptions::from_str("sqlite:")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(std::time::Duration::from_secs(10));
        let pool = SqlitePoolOptions::new().max_connections(4).connect_with(options).await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(Self { pool })
    }

    /// Closes the pool (waits for running queries).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Number of administrators.
    pub async fn admin_count(&self) -> DbResult<i64> {
        Ok(sqlx::query("SELECT COUNT(*) FROM admins").fetch_one(&self.pool).await?.get(0))
    }

    /// Adds an administrator; false if the name is taken.
    pub async fn add_admin(&self, username: &str, org: &str, password_hash: &str, now: i64) -> DbResult<bool> {
        let done = sqlx::query(
            "INSERT INTO admins (username, organization_id, password_hash, created_at) VALUES (?, ?, ?, ?) \
             ON CONFLICT (username) DO NOTHING",
        )
        .bind(username)
        .bind(org)
        .bind(password_hash)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// An administrator's organization and password hash.
    pub async fn admin(&self, username: &str) -> DbResult<Option<(String, String)>> {
        let row = sqlx::query("SELECT organization_id, password_hash FROM admins WHERE username = ?")
            .bind(username)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| (r.get(0), r.get(1))))
    }

    /// Adds a user with a new profile; false if the name is taken.
    pub async fn add_user(&self, profile: &UserProfile, login_hash: &str, now: i64) -> DbResult<bool> {
        let done = sqlx::query(
            "INSERT INTO users (username, organization_id, login_hash, profile, profile_hash, created_at) \
             VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (username) DO NOTHING",
        )
        .bind(&profile.username)
        .bind(&profile.organization_id)
        .bind(login_hash)
        .bind(profile.to_json())
        .bind(profile_hash(profile))
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Deletes a user with their sessions, devices and install tokens; false if there was no such
    /// user. Their jobs and job logs stay, as history.
    pub async fn delete_user(&self, username: &str, org: &str) -> DbResult<bool> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("DELETE FROM users WHERE username = ? AND organization_id = ?")
            .bind(username)
            .bind(org)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 1 {
            for statement in [
                "DELETE FROM sessions WHERE kind = 'user' AND username = ?",
                "DELETE FROM devices WHERE username = ?",
                "DELETE FROM install_tokens WHERE username = ?",
                "DELETE FROM totp WHERE kind = 'user' AND username = ?",
                "DELETE FROM recovery_codes WHERE kind = 'user' AND username = ?",
            ] {
                sqlx::query(statement).bind(username).execute(&mut *tx).await?;
            }
        }
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// User names of an organization, sorted.
    pub async fn list_users(&self, org: &str) -> DbResult<Vec<String>> {
        let rows = sqlx::query("SELECT username FROM users WHERE organization_id = ? ORDER BY username")
            .bind(org)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(|r| r.get(0)).collect())
    }

    /// Every profile of an organization, by user name.
    pub async fn list_profiles(&self, org: &str) -> DbResult<Vec<UserProfile>> {
        let rows = sqlx::query("SELECT username, profile FROM users WHERE organization_id = ? ORDER BY username")
            .bind(org)
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(|r| parse_profile(r.get(0), r.get::<&str, _>(1))).collect()
    }

    /// A user's profile and its hash, within an organization.
    pub async fn profile(&self, username: &str, org: &str) -> DbResult<Option<(UserProfile, String)>> {
        let row = sqlx::query("SELECT profile, profile_hash FROM users WHERE username = ? AND organization_id = ?")
            .bind(username)
            .bind(org)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok((parse_profile(username.to_owned(), r.get::<&str, _>(0))?, r.get(1)))).transpose()
    }

    /// A user's organization and login hash.
    pub async fn user_login(&self, username: &str) -> DbResult<Option<(String, String)>> {
        let row = sqlx::query("SELECT organization_id, login_hash FROM users WHERE username = ?")
            .bind(username)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| (r.get(0), r.get(1))))
    }

    /// Replaces a profile if its stored hash is still `required_hash` (one atomic statement).
    pub async fn set_profile(&self, profile: &UserProfile, org: &str, required_hash: &str) -> DbResult<ProfileUpdate> {
        Ok(match self.set_profile_with_bucket(profile, org, required_hash, None).await? {
            VaultInit::Updated(hash) => ProfileUpdate::Updated(hash),
            VaultInit::Conflict | VaultInit::BucketExists => ProfileUpdate::Conflict,
            VaultInit::NoSuchUser => ProfileUpdate::NoSuchUser,
        })
    }

    /// Replaces a profile if its stored hash is still `required_hash` and, in the same
    /// transaction, adds `bucket`: either both are stored or neither. A bucket id that exists
    /// already leaves the profile unchanged too ([`VaultInit::BucketExists`]).
    pub async fn set_profile_with_bucket(
        &self,
        profile: &UserProfile,
        org: &str,
        required_hash: &str,
        bucket: Option<&BucketRecord>,
    ) -> DbResult<VaultInit> {
        let new_hash = profile_hash(profile);
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE users SET profile = ?, profile_hash = ? WHERE username = ? AND organization_id = ? \
             AND profile_hash = ?",
        )
        .bind(profile.to_json())
        .bind(&new_hash)
        .bind(&profile.username)
        .bind(org)
        .bind(required_hash)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            tx.rollback().await?;
            return self.cas_missed(&profile.username, org).await;
        }
        if let Some(b) = bucket {
            let added = sqlx::query(
                "INSERT INTO buckets (id, organization_id, key_hash, owner, append_only, created_at) \
                 VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
            )
            .bind(&b.id)
            .bind(&b.organization_id)
            .bind(&b.key_hash)
            .bind(&b.owner)
            .bind(b.append_only)
            .bind(b.create_time)
            .execute(&mut *tx)
            .await?;
            if added.rows_affected() != 1 {
                tx.rollback().await?;
                return Ok(VaultInit::BucketExists);
            }
        }
        tx.commit().await?;
        Ok(VaultInit::Updated(new_hash))
    }

    /// Why a compare-and-swap update touched no row: a newer profile, or no such user.
    async fn cas_missed(&self, username: &str, org: &str) -> DbResult<VaultInit> {
        Ok(if self.profile(username, org).await?.is_some() { VaultInit::Conflict } else { VaultInit::NoSuchUser })
    }

    /// A password change from a device: the profile (its vault secrets re-wrapped with the new
    /// wrapping key) by compare-and-swap and the new login hash, in one transaction; the user's
    /// web sessions end. Never half: a conflict changes neither.
    pub async fn set_profile_and_login_hash(
        &self,
        profile: &UserProfile,
        org: &str,
        required_hash: &str,
        login_hash: &str,
    ) -> DbResult<VaultInit> {
        let new_hash = profile_hash(profile);
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE users SET profile = ?, profile_hash = ?, login_hash = ? WHERE username = ? \
             AND organization_id = ? AND profile_hash = ?",
        )
        .bind(profile.to_json())
        .bind(&new_hash)
        .bind(login_hash)
        .bind(&profile.username)
        .bind(org)
        .bind(required_hash)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            tx.rollback().await?;
            return self.cas_missed(&profile.username, org).await;
        }
        sqlx::query("DELETE FROM sessions WHERE kind = 'user' AND username = ? AND organization_id = ?")
            .bind(&profile.username)
            .bind(org)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(VaultInit::Updated(new_hash))
    }

    /// Edits a profile on the server's own account (a device registers or is revoked): reads it,
    /// lets `edit` change it, and stores it with a compare-and-swap, again from a fresh read
    /// whenever another edit came first. `edit` returns false to leave the profile as it is.
    /// `None` if there is no such user.
    pub async fn edit_profile(
        &self,
        username: &str,
        org: &str,
        mut edit: impl FnMut(&mut UserProfile) -> bool,
    ) -> DbResult<Option<UserProfile>> {
        for attempt in 0..PROFILE_EDIT_ATTEMPTS {
            let Some((mut profile, hash)) = self.profile(username, org).await? else { return Ok(None) };
            if !edit(&mut profile) {
                return Ok(Some(profile));
            }
            match self.set_profile(&profile, org, &hash).await? {
                ProfileUpdate::Updated(_) => return Ok(Some(profile)),
                ProfileUpdate::NoSuchUser => return Ok(None),
                ProfileUpdate::Conflict => {
                    // Someone else's edit won: back off a little (more each time), then redo ours.
                    tokio::time::sleep(std::time::Duration::from_millis(1 << attempt.min(6))).await;
                }
            }
        }
        Err(DbError::Contended { user: username.to_owned() })
    }

    /// Replaces a user's login hash (and ends their sessions); false if there is no such user.
    pub async fn set_login_hash(&self, username: &str, org: &str, login_hash: &str) -> DbResult<bool> {
        self.set_login_hash_keeping(username, org, login_hash, "").await
    }

    /// [`Db::set_login_hash`], keeping the session whose key hash is `keep_session` (the user's
    /// own, when they change their password from the web interface).
    pub async fn set_login_hash_keeping(
        &self,
        username: &str,
        org: &str,
        login_hash: &str,
        keep_session: &str,
    ) -> DbResult<bool> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("UPDATE users SET login_hash = ? WHERE username = ? AND organization_id = ?")
            .bind(login_hash)
            .bind(username)
            .bind(org)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM sessions WHERE kind = 'user' AND username = ? AND key_hash <> ?")
            .bind(username)
            .bind(keep_session)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// Stores a session (by the hash of its key).
    pub async fn add_session(
        &self,
        key_hash: &str,
        kind: &str,
        username: &str,
        org: &str,
        expires: i64,
    ) -> DbResult<()> {
        sqlx::query(
            "INSERT INTO sessions (key_hash, kind, username, organization_id, expires_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(key_hash)
        .bind(kind)
        .bind(username)
        .bind(org)
        .bind(expires)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The organization of a live session of `kind` for `username`, if the key is valid.
    pub async fn session(&self, key_hash: &str, kind: &str, username: &str, now: i64) -> DbResult<Option<String>> {
        let row = sqlx::query(
            "SELECT organization_id FROM sessions WHERE key_hash = ? AND kind = ? AND username = ? AND expires_at > ?",
        )
        .bind(key_hash)
        .bind(kind)
        .bind(username)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| r.get(0)))
    }

    /// Ends a session.
    pub async fn revoke_session(&self, key_hash: &str) -> DbResult<()> {
        sqlx::query("DELETE FROM sessions WHERE key_hash = ?").bind(key_hash).execute(&self.pool).await?;
        Ok(())
    }

    /// Removes expired sessions.
    pub async fn expire_sessions(&self, now: i64) -> DbResult<u64> {
        Ok(sqlx::query("DELETE FROM sessions WHERE expires_at <= ?")
            .bind(now)
            .execute(&self.pool)
            .await?
            .rows_affected())
    }
}

/// A storage bucket's record.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BucketRecord {
    /// Its id.
    #[serde(skip)]
    pub id: String,
    /// Its organization.
    #[serde(rename = "OrganizationID")]
    pub organization_id: String,
    /// BLAKE3 of its access key.
    #[serde(skip)]
    pub key_hash: String,
    /// The user it belongs to, if any.
    pub owner: Option<String>,
    /// Whether deletes are refused.
    pub append_only: bool,
    /// Creation time, seconds since the epoch.
    pub create_time: i64,
}

impl Db {
    /// Adds a bucket.
    pub async fn add_bucket(&self, b: &BucketRecord) -> DbResult<()> {
        sqlx::query(
            "INSERT INTO buckets (id, organization_id, key_hash, owner, append_only, created_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&b.id)
        .bind(&b.organization_id)
        .bind(&b.key_hash)
        .bind(&b.owner)
        .bind(b.append_only)
        .bind(b.create_time)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A bucket by id.
    pub async fn bucket(&self, id: &str) -> DbResult<Option<BucketRecord>> {
        let row = sqlx::query(
            "SELECT id, organization_id, key_hash, owner, append_only, created_at FROM buckets WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| bucket_of(&r)))
    }

    /// The buckets of an organization.
    pub async fn list_buckets(&self, org: &str) -> DbResult<Vec<BucketRecord>> {
        let rows = sqlx::query(
            "SELECT id, organization_id, key_hash, owner, append_only, created_at FROM buckets \
             WHERE organization_id = ? ORDER BY id",
        )
        .bind(org)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(bucket_of).collect())
    }

    /// Removes a bucket's record; false if there was none in this organization.
    pub async fn delete_bucket(&self, id: &str, org: &str) -> DbResult<bool> {
        let done = sqlx::query("DELETE FROM buckets WHERE id = ? AND organization_id = ?")
            .bind(id)
            .bind(org)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}

fn bucket_of(r: &sqlx::sqlite::SqliteRow) -> BucketRecord {
    BucketRecord {
        id: r.get(0),
        organization_id: r.get(1),
        key_hash: r.get(2),
        owner: r.get(3),
        append_only: r.get(4),
        create_time: r.get(5),
    }
}

fn parse_profile(user: String, json: &str) -> DbResult<UserProfile> {
    UserProfile::from_json(json).map_err(|e| DbError::BadProfile { user, reason: e.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn users_profiles_and_compare_and_swap() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.sqlite3")).await.unwrap();
        let alice = UserProfile::new("alice", "org1", 1);
        assert!(db.add_user(&alice, "h", 1).await.unwrap());
        assert!(!db.add_user(&alice, "h", 1).await.unwrap(), "a taken name");
        let (stored, hash) = db.profile("alice", "org1").await.unwrap().unwrap();
        assert_eq!(stored, alice);
        assert!(db.profile("alice", "org2").await.unwrap().is_none(), "other organizations do not see it");

        let mut edit = stored.clone();
        edit.account_name = "Alice".into();
        let ProfileUpdate::Updated(new_hash) = db.set_profile(&edit, "org1", &hash).await.unwrap() else {
            panic!("the first edit must win")
        };
        assert_eq!(db.set_profile(&edit, "org1", &hash).await.unwrap(), ProfileUpdate::Conflict, "stale hash");
        assert_eq!(db.profile("alice", "org1").await.unwrap().unwrap().1, new_hash);
        let ghost = UserProfile::new("ghost", "org1", 1);
        assert_eq!(db.set_profile(&ghost, "org1", "x").await.unwrap(), ProfileUpdate::NoSuchUser);

        db.add_session("k", "user", "alice", "org1", 100).await.unwrap();
        assert_eq!(db.session("k", "user", "alice", 50).await.unwrap().as_deref(), Some("org1"));
        assert_eq!(db.session("k", "admin", "alice", 50).await.unwrap(), None, "kinds do not mix");
        assert_eq!(db.session("k", "user", "alice", 100).await.unwrap(), None, "expired");
        assert!(db.delete_user("alice", "org1").await.unwrap());
        assert_eq!(db.session("k", "user", "alice", 50).await.unwrap(), None, "sessions end with the user");
        assert_eq!(db.list_users("org1").await.unwrap(), Vec::<String>::new());
    }

    #[tokio::test]
    async fn migrations_are_applied_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.sqlite3");
        let db = Db::open(&path).await.unwrap();
        assert!(db.add_admin("admin", "default", "h", 1).await.unwrap());
        db.close().await;
        let db = Db::open(&path).await.unwrap();
        assert_eq!(db.admin_count().await.unwrap(), 1, "reopening keeps the data");
    }
}
