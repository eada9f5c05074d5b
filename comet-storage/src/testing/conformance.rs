//! The conformance suite: the [`Vault`] contract as executable checks. Every vault
//! implementation runs it in its tests; a violation panics with a message naming the vault, the
//! check and what was expected.
//!
//! The suite needs an **empty** vault (a fresh directory, bucket prefix or `InMemoryVault`) and
//! leaves it empty of objects again when it passes (foreign files it planted stay). It runs
//! racing writers with `tokio::spawn`, so await it inside a Tokio runtime (a multi-threaded one
//! makes the race real). It stores and reads back a 20 MiB object.

use std::future::Future;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use crate::error::{ErrorKind, Result};
use crate::key::{ObjectId, ObjectKey, ObjectKind};
use crate::vault::{ObjectMeta, Vault};

/// Size of the large-object round trip: above every single-request threshold that matters
/// (`object_store`'s 10 MiB multipart default, a 16 MiB pack plus slack).
const LARGE_OBJECT_SIZE: usize = 20 << 20;

/// Number of writers racing for one key.
const RACING_WRITERS: u64 = 8;

/// Runs every check of the contract on `vault`, which must be empty. Panics on the first
/// violation.
pub async fn run(vault: Arc<dyn Vault>) {
    Suite::new(vault).run().await;
}

/// Like [`run`], and also checks that listings skip foreign files: `write_foreign(path, bytes)`
/// must store a raw file at `path` relative to the vault's root (`data/ab/x.tmp`, `keys/README`,
/// ...) bypassing the vault, as a crashed writer or a curious admin would leave it.
pub async fn run_with_foreign_files<F, Fut>(vault: Arc<dyn Vault>, write_foreign: F)
where
    F: Fn(String, Bytes) -> Fut,
    Fut: Future<Output = ()>,
{
    let suite = Suite::new(vault);
    suite.run().await;
    suite.foreign_files_are_skipped(write_foreign).await;
}

struct Suite {
    vault: Arc<dyn Vault>,
    location: String,
    /// Makes this run's ids differ from any other run's, so a rerun on a reused prefix or a
    /// concurrent run can never collide.
    nonce: u64,
}

impl Suite {
    fn new(vault: Arc<dyn Vault>) -> Self {
        static RUNS: AtomicU64 = AtomicU64::new(0);
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|elapsed| elapsed.as_nanos()).unwrap_or_default();
        let nonce = (now as u64) ^ u64::from(std::process::id()).rotate_left(40) ^ RUNS.fetch_add(1, Ordering::Relaxed);
        let location = vault.location();
        assert!(!location.is_empty(), "conformance: Vault::location() must describe the vault, got an empty string");
        Self { vault, location, nonce }
    }

    async fn run(&self) {
        self.starts_empty().await;
        self.missing_objects_are_not_found().await;
        self.put_is_create_only().await;
        self.every_kind_round_trips().await;
        self.ranges_are_exact().await;
        self.empty_objects_work().await;
        self.listing_follows_the_fan_out().await;
        self.delete_removes_and_frees_the_key().await;
        self.concurrent_puts_have_one_winner().await;
        self.large_objects_round_trip().await;
        self.ends_empty().await;
    }

    fn fail(&self, check: &str, message: impl std::fmt::Display) -> ! {
        panic!("conformance of vault {}: {check}: {message}", self.location)
    }

    fn key(&self, kind: ObjectKind, name: &str) -> ObjectKey {
        ObjectKey::new(kind, ObjectId::of(format!("{}/{name}", self.nonce).as_bytes()))
    }

    /// A pack key whose id starts with `first_byte`, so tests can place packs in chosen fan-out
    /// folders.
    fn pack_in_folder(&self, first_byte: u8, name: &str) -> ObjectKey {
        let mut id = *self.key(ObjectKind::Pack, name).id().as_bytes();
        id[0] = first_byte;
        ObjectKey::pack(ObjectId::from_bytes(id))
    }

    fn ok<T>(&self, check: &str, what: &str, result: Result<T>) -> T {
        result.unwrap_or_else(|error| self.fail(check, format!("{what} failed: {error}")))
    }

    fn expect_error<T>(&self, check: &str, what: &str, expected: ErrorKind, result: Result<T>) {
        match result {
            Ok(_) => self.fail(check, format!("{what} succeeded, expected a {expected:?} error")),
            Err(error) if error.kind() == expected => {}
            Err(error) => self.fail(check, format!("{what}: expected a {expected:?} error, got {error}")),
        }
    }

    async fn put(&self, check: &str, key: &ObjectKey, data: &Bytes) {
        self.ok(check, &format!("put {key}"), self.vault.put(key, data.clone()).await);
    }

    async fn expect_content(&self, check: &str, key: &ObjectKey, expected: &Bytes) {
        let data = self.ok(check, &format!("get {key}"), self.vault.get(key).await);
        if data != *expected {
            self.fail(
                check,
                format!("get {key} returned {} bytes that differ from the {} bytes stored", data.len(), expected.len()),
            );
        }
        let meta = self.ok(check, &format!("head {key}"), self.vault.head(key).await);
        if meta.key != *key || meta.size != expected.len() as u64 {
            self.fail(check, format!("head {key} gave {meta:?}, expected size {}", expected.len()));
        }
    }

    async fn listing(&self, check: &str, kind: ObjectKind) -> Vec<ObjectMeta> {
        let mut listing = self.ok(check, &format!("list {kind}"), self.vault.list(kind).await);
        listing.sort_by_key(|meta| meta.key);
        listing
    }

    async fn expect_listing(&self, check: &str, kind: ObjectKind, expected: &[(ObjectKey, usize)]) {
        let listing = self.listing(check, kind).await;
        let got: Vec<(ObjectKey, u64)> = listing.iter().map(|meta| (meta.key, meta.size)).collect();
        let mut want: Vec<(ObjectKey, u64)> = expected.iter().map(|(key, size)| (*key, *size as u64)).collect();
        want.sort();
        if got != want {
            self.fail(check, format!("list {kind} returned {got:?}, expected {want:?}"));
        }
    }

    async fn starts_empty(&self) {
        for kind in ObjectKind::ALL {
            let listing = self.listing("the vault must start empty", kind).await;
            if !listing.is_empty() {
                self.fail("the vault must start empty", format!("{} {kind} object(s) already present", listing.len()));
            }
        }
    }

    async fn ends_empty(&self) {
        for kind in ObjectKind::ALL {
            self.expect_listing("deleting every object leaves the vault empty", kind, &[]).await;
        }
    }

    async fn missing_objects_are_not_found(&self) {
        const CHECK: &str = "missing objects are NotFound";
        let key = self.key(ObjectKind::Snapshot, "missing");
        self.expect_error(CHECK, "get", ErrorKind::NotFound, self.vault.get(&key).await);
        self.expect_error(CHECK, "get_range", ErrorKind::NotFound, self.vault.get_range(&key, 0..1).await);
        self.expect_error(CHECK, "head", ErrorKind::NotFound, self.vault.head(&key).await);
        self.expect_error(CHECK, "delete", ErrorKind::NotFound, self.vault.delete(&key).await);
        self.expect_error(
            CHECK,
            "get of a missing config",
            ErrorKind::NotFound,
            self.vault.get(&ObjectKey::CONFIG).await,
        );
    }

    async fn put_is_create_only(&self) {
        const CHECK: &str = "put is create-only";
        let key = self.key(ObjectKind::Snapshot, "create-only");
        let original = Bytes::from_static(b"the first version");
        self.put(CHECK, &key, &original).await;
        let other = Bytes::from_static(b"a second version, longer than the first");
        self.expect_error(
            CHECK,
            "second put with other bytes",
            ErrorKind::AlreadyExists,
            self.vault.put(&key, other).await,
        );
        self.expect_error(
            CHECK,
            "second put with the same bytes",
            ErrorKind::AlreadyExists,
            self.vault.put(&key, original.clone()).await,
        );
        self.expect_content("a refused put leaves the original intact", &key, &original).await;
        self.ok(CHECK, "delete", self.vault.delete(&key).await);
    }

    async fn every_kind_round_trips(&self) {
        const CHECK: &str = "every kind round-trips";
        for kind in ObjectKind::ALL {
            let key = self.key(kind, "round-trip");
            let data = Bytes::from(format!("{kind} object of run {}", self.nonce));
            self.put(CHECK, &key, &data).await;
            self.expect_content(CHECK, &key, &data).await;
            let meta = self.ok(CHECK, "head", self.vault.head(&key).await);
            self.expect_listing(CHECK, kind, &[(key, data.len())]).await;
            if meta.last_modified.is_some_and(|time| time > SystemTime::now() + std::time::Duration::from_secs(3600)) {
                self.fail(CHECK, format!("head {key} reports a modification time in the future: {meta:?}"));
            }
            self.ok(CHECK, "delete", self.vault.delete(&key).await);
            self.expect_listing(CHECK, kind, &[]).await;
        }
    }

    async fn ranges_are_exact(&self) {
        const CHECK: &str = "ranged reads are exact";
        let key = self.key(ObjectKind::Pack, "ranges");
        let data = pattern(1000, self.nonce);
        self.put(CHECK, &key, &data).await;
        let inside: [Range<u64>; 7] = [0..1, 0..1000, 999..1000, 10..20, 500..501, 0..0, 1000..1000];
        for range in inside {
            let what = format!("get_range {}..{} of 1000 bytes", range.start, range.end);
            let got = self.ok(CHECK, &what, self.vault.get_range(&key, range.clone()).await);
            if got[..] != data[range.start as usize..range.end as usize] {
                self.fail(CHECK, format!("{what} returned {} wrong bytes", got.len()));
            }
        }
        let (twenty, ten) = (20, 10);
        let outside: [Range<u64>; 6] = [0..1001, 999..1001, 1000..1001, 1001..1001, 2000..3000, twenty..ten];
        for range in outside {
            let what = format!("get_range {}..{} of 1000 bytes", range.start, range.end);
            self.expect_error(CHECK, &what, ErrorKind::Invalid, self.vault.get_range(&key, range).await);
        }
        self.ok(CHECK, "delete", self.vault.delete(&key).await);
    }

    async fn empty_objects_work(&self) {
        const CHECK: &str = "empty objects";
        let key = self.key(ObjectKind::Index, "empty");
        let empty = Bytes::new();
        self.put(CHECK, &key, &empty).await;
        self.expect_content(CHECK, &key, &empty).await;
        let got = self.ok(CHECK, "get_range 0..0", self.vault.get_range(&key, 0..0).await);
        if !got.is_empty() {
            self.fail(CHECK, "get_range 0..0 of an empty object returned bytes");
        }
        self.expect_error(
            CHECK,
            "get_range 0..1 of an empty object",
            ErrorKind::Invalid,
            self.vault.get_range(&key, 0..1).await,
        );
        self.expect_listing(CHECK, ObjectKind::Index, &[(key, 0)]).await;
        self.expect_error(CHECK, "second put", ErrorKind::AlreadyExists, self.vault.put(&key, empty.clone()).await);
        self.ok(CHECK, "delete", self.vault.delete(&key).await);
    }

    async fn listing_follows_the_fan_out(&self) {
        const CHECK: &str = "listing by kind";
        let packs = [
            (self.pack_in_folder(0x00, "first"), 1),
            (self.pack_in_folder(0x00, "second"), 2),
            (self.pack_in_folder(0xab, "third"), 3),
            (self.pack_in_folder(0xff, "fourth"), 4),
        ];
        let index = self.key(ObjectKind::Index, "listed");
        let snapshot = self.key(ObjectKind::Snapshot, "listed");
        for (key, size) in &packs {
            self.put(CHECK, key, &pattern(*size, self.nonce)).await;
        }
        self.put(CHECK, &index, &pattern(5, 1)).await;
        self.put(CHECK, &snapshot, &pattern(6, 2)).await;
        self.put(CHECK, &ObjectKey::CONFIG, &pattern(7, 3)).await;

        self.expect_listing(CHECK, ObjectKind::Pack, &packs).await;
        self.expect_listing(CHECK, ObjectKind::Index, &[(index, 5)]).await;
        self.expect_listing(CHECK, ObjectKind::Snapshot, &[(snapshot, 6)]).await;
        self.expect_listing(CHECK, ObjectKind::Config, &[(ObjectKey::CONFIG, 7)]).await;
        self.expect_listing(CHECK, ObjectKind::Key, &[]).await;
        self.expect_listing(CHECK, ObjectKind::Session, &[]).await;

        for key in packs.iter().map(|(key, _)| key).chain([&index, &snapshot, &ObjectKey::CONFIG]) {
            self.ok(CHECK, &format!("delete {key}"), self.vault.delete(key).await);
        }
    }

    async fn delete_removes_and_frees_the_key(&self) {
        const CHECK: &str = "delete";
        let key = self.key(ObjectKind::Session, "deleted");
        self.put(CHECK, &key, &Bytes::from_static(b"first life")).await;
        self.ok(CHECK, "delete", self.vault.delete(&key).await);
        self.expect_error(CHECK, "get after delete", ErrorKind::NotFound, self.vault.get(&key).await);
        self.expect_error(CHECK, "head after delete", ErrorKind::NotFound, self.vault.head(&key).await);
        self.expect_error(CHECK, "second delete", ErrorKind::NotFound, self.vault.delete(&key).await);
        self.expect_listing(CHECK, ObjectKind::Session, &[]).await;
        let second = Bytes::from_static(b"second life");
        self.put("a deleted key can be written again", &key, &second).await;
        self.expect_content("a deleted key can be written again", &key, &second).await;
        self.ok(CHECK, "delete", self.vault.delete(&key).await);
    }

    async fn concurrent_puts_have_one_winner(&self) {
        const CHECK: &str = "concurrent puts of one key";
        let key = self.key(ObjectKind::Pack, "raced");
        let writers: Vec<_> = (0..RACING_WRITERS)
            .map(|writer| {
                let vault = Arc::clone(&self.vault);
                let data = pattern(64 << 10, writer);
                tokio::spawn(async move { (vault.put(&key, data.clone()).await, data) })
            })
            .collect();
        let mut winners = Vec::new();
        for writer in writers {
            let (result, data) =
                writer.await.unwrap_or_else(|error| self.fail(CHECK, format!("a writer panicked: {error}")));
            match result {
                Ok(()) => winners.push(data),
                Err(error) if error.is_already_exists() => {}
                Err(error) => self.fail(CHECK, format!("a losing writer got {error}, expected AlreadyExists")),
            }
        }
        if winners.len() != 1 {
            self.fail(CHECK, format!("{} of {RACING_WRITERS} writers succeeded, expected exactly one", winners.len()));
        }
        self.expect_content("the winner's bytes are stored", &key, &winners[0]).await;
        self.ok(CHECK, "delete", self.vault.delete(&key).await);
    }

    async fn large_objects_round_trip(&self) {
        const CHECK: &str = "large objects";
        let key = self.key(ObjectKind::Pack, "large");
        let data = pattern(LARGE_OBJECT_SIZE, self.nonce);
        self.put(CHECK, &key, &data).await;
        let got = self.ok(CHECK, "get", self.vault.get(&key).await);
        if got.len() != data.len() || ObjectId::of(&got) != ObjectId::of(&data) {
            self.fail(CHECK, format!("get returned {} bytes that differ from the {} stored", got.len(), data.len()));
        }
        let middle = (8 << 20) - 10..(12 << 20) + 10;
        let part = self.ok(CHECK, "get_range across 8 MiB", self.vault.get_range(&key, middle.clone()).await);
        if part[..] != data[middle.start as usize..middle.end as usize] {
            self.fail(CHECK, "get_range across 8 MiB returned wrong bytes");
        }
        let size = data.len() as u64;
        let tail = self.ok(CHECK, "get_range of the last byte", self.vault.get_range(&key, size - 1..size).await);
        if tail[..] != data[data.len() - 1..] {
            self.fail(CHECK, "get_range of the last byte returned a wrong byte");
        }
        self.expect_error(
            CHECK,
            "get_range one byte past the end",
            ErrorKind::Invalid,
            self.vault.get_range(&key, 0..size + 1).await,
        );
        self.ok(CHECK, "delete", self.vault.delete(&key).await);
    }

    async fn foreign_files_are_skipped<F, Fut>(&self, write_foreign: F)
    where
        F: Fn(String, Bytes) -> Fut,
        Fut: Future<Output = ()>,
    {
        const CHECK: &str = "listings skip foreign files";
        let pack = self.pack_in_folder(0xab, "beside foreign files");
        let snapshot = self.key(ObjectKind::Snapshot, "beside foreign files");
        self.put(CHECK, &pack, &pattern(10, 1)).await;
        self.put(CHECK, &snapshot, &pattern(11, 2)).await;

        let id = self.key(ObjectKind::Pack, "foreign").id().to_hex();
        let foreign = [
            format!("data/ab/{id}.tmp"),
            format!("data/{id}"),
            format!("data/zz/{id}"),
            format!("data/{}/{id}", if id.starts_with("00") { "01" } else { "00" }),
            format!("data/ab/{}", id.to_uppercase()),
            "data/README".to_owned(),
            "keys/README".to_owned(),
            format!("index/{id}0"),
            format!("snapshots/.{id}.partial"),
            format!("snapshots/{id}/nested"),
            format!("sessions/{}", &id[..63]),
            "config.bak".to_owned(),
            format!("other/{id}"),
        ];
        for path in foreign {
            write_foreign(path, Bytes::from_static(b"not an object")).await;
        }

        self.expect_listing(CHECK, ObjectKind::Pack, &[(pack, 10)]).await;
        self.expect_listing(CHECK, ObjectKind::Snapshot, &[(snapshot, 11)]).await;
        for kind in [ObjectKind::Config, ObjectKind::Key, ObjectKind::Index, ObjectKind::Session] {
            self.expect_listing(CHECK, kind, &[]).await;
        }
        self.expect_content(CHECK, &pack, &pattern(10, 1)).await;
        self.ok(CHECK, "delete", self.vault.delete(&pack).await);
        self.ok(CHECK, "delete", self.vault.delete(&snapshot).await);
    }
}

/// `len` reproducible pseudo-random bytes (`SplitMix64` stream).
fn pattern(len: usize, seed: u64) -> Bytes {
    let mut state = seed;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out.truncate(len);
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::InMemoryVault;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn in_memory_vault_conforms() {
        run(Arc::new(InMemoryVault::new())).await;
    }

    #[derive(Debug)]
    struct Overwriting(InMemoryVault);

    #[async_trait::async_trait]
    impl Vault for Overwriting {
        async fn put(&self, key: &ObjectKey, data: Bytes) -> Result<()> {
            self.0.raw_replace(key, data);
            Ok(())
        }
        async fn get(&self, key: &ObjectKey) -> Result<Bytes> {
            self.0.get(key).await
        }
        async fn get_range(&self, key: &ObjectKey, range: Range<u64>) -> Result<Bytes> {
            self.0.get_range(key, range).await
        }
        async fn head(&self, key: &ObjectKey) -> Result<ObjectMeta> {
            self.0.head(key).await
        }
        async fn list(&self, kind: ObjectKind) -> Result<Vec<ObjectMeta>> {
            self.0.list(kind).await
        }
        async fn delete(&self, key: &ObjectKey) -> Result<()> {
            self.0.delete(key).await
        }
        fn location(&self) -> String {
            "overwriting://".to_owned()
        }
    }

    #[tokio::test]
    #[should_panic(expected = "put is create-only: second put with other bytes succeeded")]
    async fn an_overwriting_vault_fails() {
        run(Arc::new(Overwriting(InMemoryVault::new()))).await;
    }
}
