//! Devices and install tokens.
//!
//! A device is registered to one user under the id its agent chose; it authenticates with a
//! device token of which only the BLAKE3 hash is stored. Revoking a device keeps that hash, so
//! that the device can be told it was revoked (instead of "unknown token"), and sets
//! `revoked_at`, which makes the token useless; logging in again replaces the hash and clears
//! `revoked_at`. An install token lets one device register without the password, once, before
//! it expires: using it is one conditional `UPDATE`, so two devices cannot both use it.

use sqlx::Row;

use super::{Db, DbResult};

/// A device as registration stores it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewDevice {
    /// The organization of its user.
    pub organization_id: String,
    /// Its user.
    pub username: String,
    /// Its id, chosen by the agent.
    pub device_id: String,
    /// Name shown to people.
    pub friendly_name: String,
    /// Operating system and architecture.
    pub platform: String,
    /// Agent version.
    pub client_version: String,
    /// Now, seconds since the epoch.
    pub now: i64,
    /// BLAKE3 of its new device token.
    pub token_hash: String,
}

/// A registered device, as the authentication of its requests finds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceRecord {
    /// The organization of its user.
    pub organization_id: String,
    /// Its user.
    pub username: String,
    /// Its id.
    pub device_id: String,
    /// When an administrator revoked it, if they did.
    pub revoked_at: Option<i64>,
}

/// An install token's record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstallTokenRecord {
    /// The organization of the user it is for.
    pub organization_id: String,
    /// The user it is for.
    pub username: String,
    /// Until when it can be used, seconds since the epoch.
    pub expires_at: i64,
    /// When a device used it.
    pub used_at: Option<i64>,
}

/// How a registration with an install token went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenUse {
    /// The token was unused and unexpired: it is used now, and the device is registered.
    Registered,
    /// Another registration used it first, or it expired meanwhile: nothing was stored.
    Taken,
}

impl Db {
    /// Registers a device, or registers it again (a new token, new details, no longer revoked),
    /// using the install token whose hash is `install_token` in the same transaction. The
    /// registration time is kept when a device that was not revoked registers again.
    pub async fn register_device(&self, device: &NewDevice, install_token: Option<&str>) -> DbResult<TokenUse> {
        let mut tx = self.pool.begin().await?;
        if let Some(token_hash) = install_token {
            let used = sqlx::query(
                "UPDATE install_tokens SET used_at = ?, used_by_device = ? \
                 WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?",
            )
            .bind(device.now)
            .bind(&device.device_id)
            .bind(token_hash)
            .bind(device.now)
            .execute(&mut *tx)
            .await?;
            if used.rows_affected() != 1 {
                tx.rollback().await?;
                return Ok(TokenUse::Taken);
            }
        }
        sqlx::query(
            "INSERT INTO devices (organization_id, username, device_id, friendly_name, platform, client_version, \
             registered_at, last_seen, revoked_at, token_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, ?) \
             ON CONFLICT (username, device_id) DO UPDATE SET organization_id = excluded.organization_id, \
             friendly_name = excluded.friendly_name, platform = excluded.platform, \
             client_version = excluded.client_version, last_seen = excluded.last_seen, \
             registered_at = CASE WHEN devices.revoked_at IS NULL THEN devices.registered_at \
             ELSE excluded.registered_at END, revoked_at = NULL, token_hash = excluded.token_hash",
        )
        .bind(&device.organization_id)
        .bind(&device.username)
        .bind(&device.device_id)
        .bind(&device.friendly_name)
        .bind(&device.platform)
        .bind(&device.client_version)
        .bind(device.now)
        .bind(device.now)
        .bind(&device.token_hash)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(TokenUse::Registered)
    }

    /// The device whose token hashes to `token_hash`, revoked or not.
    pub async fn device_by_token(&self, token_hash: &str) -> DbResult<Option<DeviceRecord>> {
        let row =
            sqlx::query("SELECT organization_id, username, device_id, revoked_at FROM devices WHERE token_hash = ?")
                .bind(token_hash)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|r| DeviceRecord {
            organization_id: r.get(0),
            username: r.get(1),
            device_id: r.get(2),
            revoked_at: r.get(3),
        }))
    }

    /// Records that a device was just heard from.
    pub async fn touch_device(&self, username: &str, device_id: &str, now: i64) -> DbResult<()> {
        sqlx::query("UPDATE devices SET last_seen = ? WHERE username = ? AND device_id = ?")
            .bind(now)
            .bind(username)
            .bind(device_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Forgets a device's token (it logged out); the device stays registered.
    pub async fn disconnect_device(&self, username: &str, device_id: &str) -> DbResult<()> {
        sqlx::query("UPDATE devices SET token_hash = NULL WHERE username = ? AND device_id = ?")
            .bind(username)
            .bind(device_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Revokes a device of a user of `org`: its token stops working at once. False if there is no
    /// such device row (it may still be listed in the profile).
    pub async fn revoke_device(&self, username: &str, org: &str, device_id: &str, now: i64) -> DbResult<bool> {
        let done = sqlx::query(
            "UPDATE devices SET revoked_at = COALESCE(revoked_at, ?) \
             WHERE username = ? AND organization_id = ? AND device_id = ?",
        )
        .bind(now)
        .bind(username)
        .bind(org)
        .bind(device_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Stores a new install token (by the hash of its server part).
    pub async fn add_install_token(
        &self,
        token_hash: &str,
        org: &str,
        username: &str,
        now: i64,
        expires_at: i64,
    ) -> DbResult<()> {
        sqlx::query(
            "INSERT INTO install_tokens (token_hash, organization_id, username, created_at, expires_at) \
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(token_hash)
        .bind(org)
        .bind(username)
        .bind(now)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The install token whose server part hashes to `token_hash`.
    pub async fn install_token(&self, token_hash: &str) -> DbResult<Option<InstallTokenRecord>> {
        let row = sqlx::query(
            "SELECT organization_id, username, expires_at, used_at FROM install_tokens WHERE token_hash = ?",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| InstallTokenRecord {
            organization_id: r.get(0),
            username: r.get(1),
            expires_at: r.get(2),
            used_at: r.get(3),
        }))
    }

    /// Removes the install tokens that expired unused. Used ones stay: they say which device
    /// joined with which token.
    pub async fn expire_install_tokens(&self, now: i64) -> DbResult<u64> {
        Ok(sqlx::query("DELETE FROM install_tokens WHERE used_at IS NULL AND expires_at <= ?")
            .bind(now)
            .execute(&self.pool)
            .await?
            .rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use comet_protocol::profile::UserProfile;

    use super::*;

    fn device(id: &str, token_hash: &str, now: i64) -> NewDevice {
        NewDevice {
            organization_id: "org1".into(),
            username: "alice".into(),
            device_id: id.into(),
            friendly_name: "laptop".into(),
            platform: "linux".into(),
            client_version: "0.1.0".into(),
            now,
            token_hash: token_hash.into(),
        }
    }

    #[tokio::test]
    async fn devices_register_revoke_and_register_again() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.sqlite3")).await.unwrap();
        assert!(db.add_user(&UserProfile::new("alice", "org1", 1), "h", 1).await.unwrap());
        assert_eq!(db.register_device(&device("d1", "t1", 10), None).await.unwrap(), TokenUse::Registered);
        let found = db.device_by_token("t1").await.unwrap().unwrap();
        assert_eq!((found.username.as_str(), found.device_id.as_str(), found.revoked_at), ("alice", "d1", None));
        assert!(!db.revoke_device("alice", "org2", "d1", 20).await.unwrap(), "another organization's");
        assert!(db.revoke_device("alice", "org1", "d1", 20).await.unwrap());
        assert_eq!(db.device_by_token("t1").await.unwrap().unwrap().revoked_at, Some(20), "kept to say so");
        db.register_device(&device("d1", "t2", 30), None).await.unwrap();
        assert_eq!(db.device_by_token("t1").await.unwrap(), None, "the old token is gone");
        assert_eq!(db.device_by_token("t2").await.unwrap().unwrap().revoked_at, None);
        db.disconnect_device("alice", "d1").await.unwrap();
        assert_eq!(db.device_by_token("t2").await.unwrap(), None);
        assert!(db.delete_user("alice", "org1").await.unwrap());
        assert!(!db.revoke_device("alice", "org1", "d1", 40).await.unwrap(), "devices go with their user");
    }

    #[tokio::test]
    async fn install_tokens_are_used_once_and_expire() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.sqlite3")).await.unwrap();
        db.add_install_token("k1", "org1", "alice", 10, 100).await.unwrap();
        db.add_install_token("k2", "org1", "alice", 10, 50).await.unwrap();
        db.add_install_token("k3", "org1", "alice", 10, 50).await.unwrap();
        assert_eq!(db.install_token("k1").await.unwrap().unwrap().username, "alice");
        assert_eq!(db.register_device(&device("d1", "t1", 20), Some("k1")).await.unwrap(), TokenUse::Registered);
        assert_eq!(db.register_device(&device("d2", "t2", 21), Some("k1")).await.unwrap(), TokenUse::Taken);
        assert_eq!(db.device_by_token("t2").await.unwrap(), None, "nothing stored for the loser");
        assert_eq!(db.register_device(&device("d2", "t2", 60), Some("k2")).await.unwrap(), TokenUse::Taken, "expired");
        assert_eq!(db.install_token("k1").await.unwrap().unwrap().used_at, Some(20));
        assert_eq!(db.expire_install_tokens(60).await.unwrap(), 2, "k2 and k3 expired unused; k1 stays");
        assert!(db.install_token("k1").await.unwrap().is_some());
    }
}
