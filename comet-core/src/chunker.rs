//! Content-defined chunking: `FastCDC` (2020 variant) with a gear table seeded from the vault's
//! chunker key, so chunk boundaries differ from vault to vault.
//!
//! [`Chunker`] works over a reader with one reusable buffer and hands out chunks as slices of
//! it: no allocation per chunk. It only cuts when at least `max` bytes are buffered (or at end
//! of file), so the boundaries are exactly those `FastCDC` finds over the whole file at once.

use std::io::{self, Read};

use fastcdc::v2020::{FastCDC, Normalization};
use serde::{Deserialize, Serialize};

/// Chunk size bounds, stored in the vault config.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkerParams {
    /// Smallest chunk (except the last of a file).
    pub min: u32,
    /// Target average.
    pub avg: u32,
    /// Largest chunk.
    pub max: u32,
}

impl ChunkerParams {
    /// 256 KiB / 1 MiB / 4 MiB: the average of restic and rustic (good dedup on shifted data),
    /// a minimum low enough that small edits re-use neighbouring chunks, and a maximum that
    /// bounds per-chunk memory.
    pub const DEFAULT: Self = Self { min: 256 << 10, avg: 1 << 20, max: 4 << 20 };

    /// Whether `FastCDC` accepts these bounds (its own limits, and min ≤ avg ≤ max).
    pub fn check(&self) -> Result<(), String> {
        let ok = (64..=1 << 20).contains(&self.min)
            && (256..=4 << 20).contains(&self.avg)
            && (1024..=16 << 20).contains(&self.max)
            && self.min <= self.avg
            && self.avg <= self.max;
        if ok { Ok(()) } else { Err(format!("unsupported chunker parameters {self:?}")) }
    }
}

impl Default for ChunkerParams {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Splits streams into content-defined chunks.
#[derive(Debug)]
pub struct Chunker {
    params: ChunkerParams,
    seed: u64,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
}

impl Chunker {
    /// A chunker with checked `params` and the vault's gear `seed`.
    pub fn new(params: ChunkerParams, seed: u64) -> Self {
        params.check().expect("chunker parameters are checked when the config is read");
        Self { params, seed, buf: vec![0; 2 * params.max as usize], start: 0, end: 0, eof: true }
    }

    /// Starts a new stream; the buffer is kept.
    pub fn reset(&mut self) {
        self.start = 0;
        self.end = 0;
        self.eof = false;
    }

    /// The next chunk of `reader`, or `None` at the end. Call [`Chunker::reset`] before each
    /// new stream.
    pub fn next_chunk<R: Read + ?Sized>(&mut self, reader: &mut R) -> io::Result<Option<&[u8]>> {
        let max = self.params.max as usize;
        if !self.eof && self.end - self.start < max {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            while self.end < self.buf.len() {
                match reader.read(&mut self.buf[self.end..]) {
                    Ok(0) => {
                        self.eof = true;
                        break;
                    }
                    Ok(n) => self.end += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
        }
        let available = self.end - self.start;
        if available == 0 {
            return Ok(None);
        }
        let len = self.cut(&self.buf[self.start..self.end]);
        let chunk = &self.buf[self.start..self.start + len];
        self.start += len;
        Ok(Some(chunk))
    }

    fn cut(&self, data: &[u8]) -> usize {
        let p = self.params;
        let cdc = FastCDC::with_level_and_seed(data, p.min, p.avg, p.max, Normalization::Level1, self.seed);
        let (_, end) = cdc.cut(0, data.len());
        end.max(1).min(data.len())
    }

    /// Chunk boundaries of an in-memory buffer (lengths, in order). For tests and tools.
    pub fn chunk_lengths(params: ChunkerParams, seed: u64, data: &[u8]) -> Vec<usize> {
        let mut chunker = Self::new(params, seed);
        chunker.reset();
        let mut reader = data;
        let mut out = Vec::new();
        while let Some(chunk) = chunker.next_chunk(&mut reader).expect("reading from memory") {
            out.push(chunk.len());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pseudo_random(len: usize, mut state: u64) -> Vec<u8> {
        let mut out = Vec::with_capacity(len);
        while out.len() < len {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            out.extend_from_slice(&(state >> 16).to_le_bytes()[..4]);
        }
        out.truncate(len);
        out
    }

    #[test]
    fn streaming_matches_whole_buffer_cdc() {
        // A reader that returns odd small pieces.
        struct Dribble<'a>(&'a [u8]);
        impl Read for Dribble<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = buf.len().min(self.0.len()).min(77_777);
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let data = pseudo_random(20 << 20, 1);
        let p = ChunkerParams::DEFAULT;
        let whole: Vec<usize> = FastCDC::with_level_and_seed(&data, p.min, p.avg, p.max, Normalization::Level1, 42)
            .map(|c| c.length)
            .collect();
        let mut chunker = Chunker::new(p, 42);
        chunker.reset();
        let mut r = Dribble(&data);
        let mut streamed = Vec::new();
        while let Some(c) = chunker.next_chunk(&mut r).unwrap() {
            streamed.push(c.len());
        }
        assert_eq!(streamed, whole);
        assert_eq!(streamed.iter().sum::<usize>(), data.len());
        assert!(streamed.iter().all(|&l| l <= p.max as usize));
    }

    #[test]
    fn seed_changes_boundaries_and_empty_input_has_no_chunks() {
        let data = pseudo_random(8 << 20, 2);
        let a = Chunker::chunk_lengths(ChunkerParams::DEFAULT, 1, &data);
        let b = Chunker::chunk_lengths(ChunkerParams::DEFAULT, 2, &data);
        assert_ne!(a, b);
        assert!(Chunker::chunk_lengths(ChunkerParams::DEFAULT, 1, &[]).is_empty());
        assert_eq!(Chunker::chunk_lengths(ChunkerParams::DEFAULT, 1, &[5]), vec![1]);
    }
}
