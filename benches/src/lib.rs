//! Seeded, deterministic inputs for Comet's criterion benchmarks (`cargo bench -p comet-benches`).
//!
//! - [`random_bytes`]: incompressible data from [`SplitMix64`].
//! - [`text_bytes`]: text made like the perf-anchors dataset's (`gen-dataset.sh`): code lines
//!   drawn from a fixed pool, fresh log records and fresh CSV records. Per 1 MiB chunk, zstd-3
//!   compresses it 3.2× and zstd-1 2.6× (the dataset's text: 3.11× and 2.75×).
//! - [`write_mixed_tree`]: a file tree, half large random files and half small text files, for
//!   the end-to-end backup and restore benches.
//!
//! Every output is a pure function of its arguments, so runs on different days compare.

use std::fmt::Write as _;
use std::io;
use std::path::Path;

/// One mebibyte.
pub const MIB: usize = 1 << 20;

/// `SplitMix64`: a tiny, fast, seedable generator (Steele, Lea and Flood, 2014). Not for secrets.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator whose whole output is determined by `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`), by multiply-shift: no division, negligible bias.
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// A number in `low..=high`.
    pub fn range(&mut self, low: usize, high: usize) -> usize {
        low + self.below(high - low + 1)
    }

    /// One element of `items` (not empty).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// Fills `buf` with random bytes.
    pub fn fill(&mut self, buf: &mut [u8]) {
        let mut words = buf.chunks_exact_mut(8);
        for word in &mut words {
            word.copy_from_slice(&self.next_u64().to_le_bytes());
        }
        let tail = words.into_remainder();
        let last = self.next_u64().to_le_bytes();
        tail.copy_from_slice(&last[..tail.len()]);
    }
}

/// `len` incompressible bytes determined by `seed`.
pub fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut out = vec![0; len];
    SplitMix64::new(seed).fill(&mut out);
    out
}

const SYLLABLES: [&str; 27] = [
    "ba", "co", "de", "fi", "gu", "ha", "ji", "ka", "lo", "mu", "ne", "po", "qu", "ra", "si", "tu", "ve", "wa", "xi",
    "yo", "ze", "ch", "st", "tr", "pl", "er", "in",
];
const KEYWORDS: [&str; 20] = [
    "fn", "let", "mut", "if", "else", "for", "while", "return", "match", "impl", "pub", "struct", "enum", "use",
    "Some", "None", "Ok", "Err", "async", "await",
];
const LEVELS: [&str; 6] = ["INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR"];
const VOCABULARY: usize = 3_000;
const POOL_LINES: usize = 6_000;
const POOL_SEED: u64 = 0xC0_3E7;
/// Lines of one kind in a row.
const RUN_LINES: usize = 256;

/// A syllable vocabulary and a fixed pool of code lines built from it. Text is made of runs of
/// pooled code lines, log records and CSV records: compressible (small alphabet, repeated lines
/// and templates), yet no two seeds give the same byte sequence.
#[derive(Clone, Debug)]
pub struct TextPool {
    vocab: Vec<String>,
    lines: Vec<String>,
}

impl Default for TextPool {
    fn default() -> Self {
        Self::new()
    }
}

impl TextPool {
    /// The pool (always the same one).
    pub fn new() -> Self {
        let mut rng = SplitMix64::new(POOL_SEED);
        let vocab: Vec<String> = (0..VOCABULARY)
            .map(|_| {
                let mut word = String::new();
                for _ in 0..rng.range(2, 4) {
                    word.push_str(rng.pick::<&str>(&SYLLABLES));
                }
                if rng.below(10) < 4 {
                    word.push('_');
                    for _ in 0..rng.range(1, 3) {
                        word.push_str(rng.pick::<&str>(&SYLLABLES));
                    }
                }
                word
            })
            .collect();
        let lines = (0..POOL_LINES).map(|_| Self::code_line(&mut rng, &vocab)).collect();
        Self { vocab, lines }
    }

    /// A line of code for the pool.
    fn code_line(rng: &mut SplitMix64, vocab: &[String]) -> String {
        let indent = "    ".repeat(*rng.pick(&[0, 1, 1, 2, 2, 2, 3, 3, 4]));
        let (a, b, c) = (rng.pick(vocab), rng.pick(vocab), rng.pick(vocab));
        let mut s = String::new();
        // Writing to a String cannot fail.
        let _ = match rng.below(10) {
            0 => write!(s, "{indent}let {a} = {b}.{c}({}, \"{}\");", rng.below(4097), rng.pick(vocab)),
            1 => write!(s, "{indent}if {a}.len() > {} {{", rng.range(1, 99)),
            2 => write!(s, "{indent}}}"),
            3 => write!(s, "{indent}// {a} {b} {c} {} {} {}", rng.pick(vocab), rng.pick(&KEYWORDS), rng.pick(vocab)),
            4 => write!(s, "{indent}pub fn {a}_{b}(&self, {c}: u{}) -> Result<{}> {{", rng.pick(&[8, 16, 32, 64]), b),
            5 => write!(s, "{indent}return {}({a} + {b} * {});", rng.pick(&KEYWORDS), rng.below(1 << 16)),
            6 => write!(s, "{indent}for {a} in {b}.iter().filter(|x| x.{c}()) {{"),
            7 => Ok(()),
            8 => write!(s, "{indent}{a}.insert(\"{b}\", {c}::new({:#x}));", rng.next_u64() >> 32),
            _ => write!(s, "{indent}{} {a}: {b}::{c} = 0.{:06};", rng.pick(&KEYWORDS), rng.below(1_000_000)),
        };
        s
    }

    /// A fresh log record; `clock` (milliseconds) moves forward.
    fn log_line(&self, rng: &mut SplitMix64, clock: &mut u64, out: &mut String) {
        *clock += rng.range(1, 2500) as u64;
        let t = *clock;
        let _ = writeln!(
            out,
            "2026-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z {} [{}] req={:012x} user={} {} {} took {}ms",
            1 + (t / 2_678_400_000) % 12,
            1 + (t / 86_400_000) % 28,
            (t / 3_600_000) % 24,
            (t / 60_000) % 60,
            (t / 1000) % 60,
            t % 1000,
            rng.pick(&LEVELS),
            rng.pick(&self.vocab),
            rng.next_u64() >> 16,
            rng.range(1, 5000),
            rng.pick(&self.vocab),
            rng.pick(&self.vocab),
            rng.below(900)
        );
    }

    /// A fresh CSV record number `row`.
    fn csv_line(&self, rng: &mut SplitMix64, row: u64, out: &mut String) {
        let _ = writeln!(
            out,
            "{row},{},{},{},0.{:05},{},\"{} {}\"",
            rng.pick(&self.vocab),
            rng.pick(&self.vocab[..40]),
            rng.below(10_000_001),
            rng.below(100_000),
            rng.pick(&["true", "false"]),
            rng.pick(&self.vocab),
            rng.pick(&self.vocab)
        );
    }

    /// `len` bytes of text determined by `seed`, appended to `out`: runs of 256 lines, each run
    /// code from the pool (½), log records (¼) or CSV records (¼).
    pub fn fill(&self, out: &mut Vec<u8>, len: usize, seed: u64) {
        let mut rng = SplitMix64::new(seed);
        let mut clock = 1_790_000_000_000 + (seed % (1 << 30));
        let mut row = 0;
        let mut run = String::new();
        let end = out.len() + len;
        while out.len() < end {
            run.clear();
            let kind = rng.below(4);
            for _ in 0..RUN_LINES {
                match kind {
                    0 | 1 => {
                        run.push_str(rng.pick::<String>(&self.lines));
                        run.push('\n');
                    }
                    2 => self.log_line(&mut rng, &mut clock, &mut run),
                    _ => {
                        row += 1;
                        self.csv_line(&mut rng, row, &mut run);
                    }
                }
            }
            out.extend_from_slice(run.as_bytes());
        }
        out.truncate(end);
    }
}

/// `len` bytes of compressible text determined by `seed` (see [`TextPool`]).
pub fn text_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    TextPool::new().fill(&mut out, len, seed);
    out
}

/// What [`write_mixed_tree`] wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TreeStats {
    /// Regular files.
    pub files: u64,
    /// Bytes of file contents.
    pub bytes: u64,
}

/// Size of each random file of [`write_mixed_tree`].
pub const RANDOM_FILE_LEN: usize = 4 * MIB;
/// Text files per directory in [`write_mixed_tree`].
const TEXT_FILES_PER_DIR: usize = 100;

/// Writes a tree of about `total` bytes under `root` (which must exist), determined by `seed`:
/// - `random/NNN.bin`: half of `total` as 4 MiB incompressible files, each different;
/// - `text/DDD/NNNNN.txt`: the other half as text files of 4–64 KiB (uniform), 100 a folder.
pub fn write_mixed_tree(root: &Path, total: usize, seed: u64) -> io::Result<TreeStats> {
    let mut stats = TreeStats::default();
    let random_dir = root.join("random");
    std::fs::create_dir_all(&random_dir)?;
    let mut rng = SplitMix64::new(seed);
    let mut buf = vec![0u8; RANDOM_FILE_LEN];
    for n in 0..(total / 2).div_ceil(RANDOM_FILE_LEN) {
        rng.fill(&mut buf);
        std::fs::write(random_dir.join(format!("{n:03}.bin")), &buf)?;
        stats.files += 1;
        stats.bytes += buf.len() as u64;
    }
    let pool = TextPool::new();
    let mut text_written = 0;
    let mut n = 0;
    while text_written < total / 2 {
        let dir = root.join("text").join(format!("{:03}", n / TEXT_FILES_PER_DIR));
        if n % TEXT_FILES_PER_DIR == 0 {
            std::fs::create_dir_all(&dir)?;
        }
        let len = rng.range(4 << 10, 64 << 10);
        buf.clear();
        pool.fill(&mut buf, len, rng.next_u64());
        std::fs::write(dir.join(format!("{n:05}.txt")), &buf)?;
        stats.files += 1;
        stats.bytes += len as u64;
        text_written += len;
        n += 1;
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_are_deterministic() {
        assert_eq!(random_bytes(1001, 5), random_bytes(1001, 5));
        assert_ne!(random_bytes(64, 5), random_bytes(64, 6));
        let text = text_bytes(100_000, 9);
        assert_eq!(text.len(), 100_000);
        assert_eq!(text, text_bytes(100_000, 9));
        assert!(text.is_ascii());
    }

    #[test]
    fn below_stays_in_range() {
        let mut rng = SplitMix64::new(1);
        assert!((0..10_000).all(|_| rng.below(7) < 7));
        assert!((0..10_000).map(|_| rng.range(3, 5)).all(|v| (3..=5).contains(&v)));
    }

    #[test]
    fn tree_has_the_requested_size() {
        let dir = tempfile::tempdir().unwrap();
        let stats = write_mixed_tree(dir.path(), 16 * MIB, 3).unwrap();
        assert!(stats.bytes >= 16 * MIB as u64 && stats.bytes < 16 * MIB as u64 + (64 << 10));
        assert!(stats.files > 4);
    }
}
