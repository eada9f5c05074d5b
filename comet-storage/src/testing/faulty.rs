//! [`FaultyVault`]: a vault wrapper that fails, slows down or corrupts on command.

use std::fmt;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};

use crate::error::{Error, ErrorKind, Result};
use crate::key::{ObjectKey, ObjectKind};
use crate::vault::{ObjectMeta, Vault};

/// A [`Vault`] method.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operation {
    /// [`Vault::put`].
    Put,
    /// [`Vault::get`].
    Get,
    /// [`Vault::get_range`].
    GetRange,
    /// [`Vault::head`].
    Head,
    /// [`Vault::list`].
    List,
    /// [`Vault::delete`].
    Delete,
}

impl Operation {
    /// Every operation.
    pub const ALL: [Self; 6] = [Self::Put, Self::Get, Self::GetRange, Self::Head, Self::List, Self::Delete];

    fn index(self) -> usize {
        self as usize
    }
}

/// Which bit a [`Fault::FlipBit`] flips.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BitFlip {
    /// Bit `n` of the data, counting from the most significant bit of byte 0; taken modulo the
    /// number of bits, so any value hits some bit.
    At(u64),
    /// A bit chosen from `seed` and the rule's match count: reproducible, and a different bit on
    /// each call the rule matches.
    Seeded(u64),
}

/// What happens to a call that a [`FaultRule`] matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Fail with an error of this kind without calling the inner vault.
    Error(ErrorKind),
    /// Call the inner vault, then fail with an error of this kind anyway: a lost reply. A put
    /// hit by it has stored its object although the caller saw an error.
    ErrorAfterApplying(ErrorKind),
    /// Wait this long before calling the inner vault.
    Delay(Duration),
    /// Flip one bit of the data: of the bytes stored by a put, or of the bytes returned by a
    /// get or ranged get. Empty data is left alone. No effect on other operations.
    FlipBit(BitFlip),
    /// Keep only the first `n` bytes of the data (stored by a put or returned by a read), as a
    /// torn write or a cut connection would. No effect on other operations.
    Truncate(u64),
}

/// Which calls of its operation a rule matches, counted among the calls it could match.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Calls {
    All,
    Range(Range<u64>),
}

/// A programmed fault: an operation, an optional object filter, which of the matching calls, and
/// what to do with them.
///
/// Call indexes count, from 0, the calls that passed the rule's operation, kind and key filters
/// since the rule was added; so `FaultRule::new(Operation::Put, ..).on_call(0)` is "the next
/// put".
///
/// ```
/// use comet_storage::ErrorKind;
/// use comet_storage::testing::{Fault, FaultRule, Operation};
///
/// // The third and fourth gets fail, as a flaky network would.
/// let rule = FaultRule::new(Operation::Get, Fault::Error(ErrorKind::Transient)).on_calls(2..4);
/// # let _ = rule;
/// ```
#[derive(Clone, Debug)]
pub struct FaultRule {
    operation: Operation,
    kind: Option<ObjectKind>,
    key: Option<ObjectKey>,
    calls: Calls,
    fault: Fault,
}

impl FaultRule {
    /// `fault` on every call of `operation`.
    pub fn new(operation: Operation, fault: Fault) -> Self {
        Self { operation, kind: None, key: None, calls: Calls::All, fault }
    }

    /// Only the `index`-th matching call (from 0).
    #[must_use]
    pub fn on_call(self, index: u64) -> Self {
        self.on_calls(index..index.saturating_add(1))
    }

    /// Only the matching calls whose index is in `range`.
    #[must_use]
    pub fn on_calls(mut self, range: Range<u64>) -> Self {
        self.calls = Calls::Range(range);
        self
    }

    /// The `index`-th matching call and every later one.
    #[must_use]
    pub fn from_call(self, index: u64) -> Self {
        self.on_calls(index..u64::MAX)
    }

    /// Only calls on objects of `kind` (for [`Operation::List`]: listings of `kind`).
    #[must_use]
    pub fn for_kind(mut self, kind: ObjectKind) -> Self {
        self.kind = Some(kind);
        self
    }

    /// Only calls on `key`.
    #[must_use]
    pub fn for_key(mut self, key: ObjectKey) -> Self {
        self.kind = Some(key.kind());
        self.key = Some(key);
        self
    }

    fn filters_match(&self, operation: Operation, kind: ObjectKind, key: Option<&ObjectKey>) -> bool {
        self.operation == operation
            && self.kind.is_none_or(|wanted| wanted == kind)
            && self.key.as_ref().is_none_or(|wanted| key == Some(wanted))
    }
}

/// A rule and the number of calls it matched so far.
#[derive(Debug)]
struct ActiveRule {
    rule: FaultRule,
    matched: u64,
}

/// What the rules decided for one call.
#[derive(Debug, Default)]
struct Plan {
    delay: Duration,
    error_before: Option<ErrorKind>,
    error_after: Option<ErrorKind>,
    /// Data corruptions, in rule order, with the rule's match index (for seeded flips).
    data_faults: Vec<(Fault, u64)>,
}

impl Plan {
    fn corrupt(&self, data: Bytes) -> Bytes {
        self.data_faults.iter().fold(data, |data, (fault, call)| match *fault {
            Fault::FlipBit(flip) => flip_bit(data, flip, *call),
            Fault::Truncate(keep) => data.slice(..data.len().min(usize::try_from(keep).unwrap_or(usize::MAX))),
            _ => data,
        })
    }
}

fn flip_bit(data: Bytes, flip: BitFlip, call: u64) -> Bytes {
    if data.is_empty() {
        return data;
    }
    let bits = data.len() as u64 * 8;
    let bit = match flip {
        BitFlip::At(bit) => bit % bits,
        BitFlip::Seeded(seed) => splitmix64(seed ^ splitmix64(call)) % bits,
    };
    let mut copy = BytesMut::from(&data[..]);
    // `bit < bits`, so the byte index is below `data.len()`.
    copy[(bit / 8) as usize] ^= 0x80 >> (bit % 8);
    copy.freeze()
}

/// `SplitMix64`: a tiny, well-mixed generator, enough to pick reproducible positions.
fn splitmix64(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A [`Vault`] wrapper that injects faults and counts what goes through it.
///
/// Faults are [`FaultRule`]s, checked in the order they were added; all matching rules apply to
/// a call: delays add up, the first error wins, data faults apply in order. Counters record
/// every call and the bytes that were stored and read, which tests use as "bytes uploaded".
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// use bytes::Bytes;
/// use comet_storage::testing::{FaultyVault, Operation};
/// use comet_storage::{ErrorKind, InMemoryVault, ObjectId, ObjectKey, Vault};
///
/// let vault = FaultyVault::new(InMemoryVault::new());
/// vault.fail_puts_after(1, ErrorKind::NoSpace);
/// vault.put(&ObjectKey::pack(ObjectId::of(b"a")), Bytes::from_static(b"a")).await?;
/// let full = vault.put(&ObjectKey::pack(ObjectId::of(b"b")), Bytes::from_static(b"b")).await;
/// assert_eq!(full.unwrap_err().kind(), ErrorKind::NoSpace);
/// assert_eq!((vault.calls(Operation::Put), vault.bytes_put()), (2, 1));
/// # Ok::<(), comet_storage::Error>(())
/// # }).unwrap();
/// ```
pub struct FaultyVault<V> {
    inner: V,
    rules: Mutex<Vec<ActiveRule>>,
    calls: [AtomicU64; Operation::ALL.len()],
    bytes_put: AtomicU64,
    bytes_read: AtomicU64,
}

impl<V: Vault> FaultyVault<V> {
    /// Wraps `inner`, with no fault programmed.
    pub fn new(inner: V) -> Self {
        Self {
            inner,
            rules: Mutex::new(Vec::new()),
            calls: Default::default(),
            bytes_put: AtomicU64::new(0),
            bytes_read: AtomicU64::new(0),
        }
    }

    /// The wrapped vault.
    pub fn inner(&self) -> &V {
        &self.inner
    }

    /// Adds a rule; it applies from the next call on.
    pub fn inject(&self, rule: FaultRule) {
        self.lock_rules().push(ActiveRule { rule, matched: 0 });
    }

    /// Every put after the next `successes` puts fails with `kind` (`NoSpace` simulates a disk
    /// that fills up). Counts puts from now on, whatever their outcome.
    pub fn fail_puts_after(&self, successes: u64, kind: ErrorKind) {
        self.inject(FaultRule::new(Operation::Put, Fault::Error(kind)).from_call(successes));
    }

    /// Removes every rule; counters are kept.
    pub fn clear_faults(&self) {
        self.lock_rules().clear();
    }

    /// Number of calls of `operation` so far, failed ones included.
    pub fn calls(&self, operation: Operation) -> u64 {
        self.calls[operation.index()].load(Ordering::Relaxed)
    }

    /// Bytes handed to the inner vault by successful puts (after any injected corruption).
    pub fn bytes_put(&self) -> u64 {
        self.bytes_put.load(Ordering::Relaxed)
    }

    /// Bytes returned to callers by successful gets and ranged gets.
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read.load(Ordering::Relaxed)
    }

    /// Sets every counter back to zero.
    pub fn reset_counters(&self) {
        for counter in &self.calls {
            counter.store(0, Ordering::Relaxed);
        }
        self.bytes_put.store(0, Ordering::Relaxed);
        self.bytes_read.store(0, Ordering::Relaxed);
    }

    fn lock_rules(&self) -> std::sync::MutexGuard<'_, Vec<ActiveRule>> {
        // Rules are plain data updated in single steps; a panic elsewhere cannot corrupt them.
        self.rules.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts the call and works out which faults apply to it.
    fn plan(&self, operation: Operation, kind: ObjectKind, key: Option<&ObjectKey>) -> Plan {
        self.calls[operation.index()].fetch_add(1, Ordering::Relaxed);
        let mut plan = Plan::default();
        for active in self.lock_rules().iter_mut() {
            if !active.rule.filters_match(operation, kind, key) {
                continue;
            }
            let index = active.matched;
            active.matched += 1;
            if let Calls::Range(range) = &active.rule.calls
                && !range.contains(&index)
            {
                continue;
            }
            match active.rule.fault {
                Fault::Error(kind) => {
                    plan.error_before.get_or_insert(kind);
                }
                Fault::ErrorAfterApplying(kind) => {
                    plan.error_after.get_or_insert(kind);
                }
                Fault::Delay(delay) => plan.delay += delay,
                fault @ (Fault::FlipBit(_) | Fault::Truncate(_)) => {
                    plan.data_faults.push((fault, index));
                }
            }
        }
        plan
    }

    /// Runs the part of `plan` that comes before the inner call.
    async fn before(plan: &Plan, operation: Operation, target: &str) -> Result<()> {
        if !plan.delay.is_zero() {
            tokio::time::sleep(plan.delay).await;
        }
        match plan.error_before {
            Some(kind) => Err(injected(kind, operation, target)),
            None => Ok(()),
        }
    }

    /// Runs the part of `plan` that comes after the inner call succeeded.
    fn after(plan: &Plan, operation: Operation, target: &str) -> Result<()> {
        match plan.error_after {
            Some(kind) => Err(injected(kind, operation, target)),
            None => Ok(()),
        }
    }

    async fn read(&self, operation: Operation, key: &ObjectKey, range: Option<Range<u64>>) -> Result<Bytes> {
        let plan = self.plan(operation, key.kind(), Some(key));
        let target = key.path();
        Self::before(&plan, operation, &target).await?;
        let data = match range {
            Some(range) => self.inner.get_range(key, range).await?,
            None => self.inner.get(key).await?,
        };
        Self::after(&plan, operation, &target)?;
        let data = plan.corrupt(data);
        self.bytes_read.fetch_add(data.len() as u64, Ordering::Relaxed);
        Ok(data)
    }
}

fn injected(kind: ErrorKind, operation: Operation, target: &str) -> Error {
    Error::new(kind, target).with_message(format!("fault injected into {operation:?}"))
}

impl<V: Vault> fmt::Debug for FaultyVault<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultyVault")
            .field("inner", &self.inner)
            .field("rules", &self.lock_rules().len())
            .field("bytes_put", &self.bytes_put())
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl<V: Vault> Vault for FaultyVault<V> {
    async fn put(&self, key: &ObjectKey, data: Bytes) -> Result<()> {
        let plan = self.plan(Operation::Put, key.kind(), Some(key));
        let target = key.path();
        Self::before(&plan, Operation::Put, &target).await?;
        let data = plan.corrupt(data);
        let size = data.len() as u64;
        self.inner.put(key, data).await?;
        self.bytes_put.fetch_add(size, Ordering::Relaxed);
        Self::after(&plan, Operation::Put, &target)
    }

    async fn get(&self, key: &ObjectKey) -> Result<Bytes> {
        self.read(Operation::Get, key, None).await
    }

    async fn get_range(&self, key: &ObjectKey, range: Range<u64>) -> Result<Bytes> {
        self.read(Operation::GetRange, key, Some(range)).await
    }

    async fn head(&self, key: &ObjectKey) -> Result<ObjectMeta> {
        let plan = self.plan(Operation::Head, key.kind(), Some(key));
        let target = key.path();
        Self::before(&plan, Operation::Head, &target).await?;
        let meta = self.inner.head(key).await?;
        Self::after(&plan, Operation::Head, &target)?;
        Ok(meta)
    }

    async fn list(&self, kind: ObjectKind) -> Result<Vec<ObjectMeta>> {
        let plan = self.plan(Operation::List, kind, None);
        Self::before(&plan, Operation::List, kind.prefix()).await?;
        let listing = self.inner.list(kind).await?;
        Self::after(&plan, Operation::List, kind.prefix())?;
        Ok(listing)
    }

    async fn delete(&self, key: &ObjectKey) -> Result<()> {
        let plan = self.plan(Operation::Delete, key.kind(), Some(key));
        let target = key.path();
        Self::before(&plan, Operation::Delete, &target).await?;
        self.inner.delete(key).await?;
        Self::after(&plan, Operation::Delete, &target)
    }

    fn location(&self) -> String {
        self.inner.location()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_flips_change_exactly_one_bit() {
        let data = Bytes::from(vec![0u8; 64]);
        for flip in [BitFlip::At(0), BitFlip::At(511), BitFlip::At(512 + 9), BitFlip::Seeded(7)] {
            let flipped = flip_bit(data.clone(), flip, 3);
            let ones: u32 = flipped.iter().map(|byte| byte.count_ones()).sum();
            assert_eq!(ones, 1, "{flip:?}");
        }
        assert_eq!(flip_bit(data.clone(), BitFlip::At(0), 0)[0], 0x80);
        assert_eq!(flip_bit(data.clone(), BitFlip::At(512 + 9), 0)[1], 0x40);
        assert_eq!(flip_bit(Bytes::new(), BitFlip::At(3), 0), Bytes::new());
    }

    #[test]
    fn seeded_flips_are_reproducible_and_vary_by_call() {
        let data = Bytes::from(vec![0u8; 4096]);
        let first = flip_bit(data.clone(), BitFlip::Seeded(42), 0);
        assert_eq!(first, flip_bit(data.clone(), BitFlip::Seeded(42), 0));
        assert_ne!(first, flip_bit(data, BitFlip::Seeded(42), 1));
    }
}
