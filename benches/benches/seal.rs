//! Stage 3: compress + encrypt and the reverse (decrypt, decompress, verify the id) on 1 MiB
//! chunks, random and text, at zstd level 0 (encryption only) and 3 (the default):
//! - `seal`: `BlobSealer::seal_into` a reused buffer, as the backup pipeline does;
//! - `open`: `BlobOpener::open` in place on a copy of the stored blob, as restore does (restore
//!   copies the fetched range too when the vault still shares it);
//! - `open_blob`: the allocating `open_blob`.
//!
//! Each iteration handles one 1 MiB chunk; successive iterations walk through 64 distinct
//! chunks (64 MiB, larger than the caches) so no input stays cache-hot.

use std::cell::Cell;
use std::hint::black_box;

use comet_benches::{MIB, random_bytes, text_bytes};
use comet_core::BlobKind;
use comet_core::blob::{BlobOpener, BlobSealer, open_blob};
use comet_core::crypto::MasterKey;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const CHUNKS: usize = 64;

/// Cycles through `0..CHUNKS`.
fn next(cursor: &Cell<usize>) -> usize {
    let n = cursor.get();
    cursor.set((n + 1) % CHUNKS);
    n
}

fn seal_and_open(c: &mut Criterion) {
    let key = MasterKey::from_bytes(&[7; 96]);
    let inputs = [("random", random_bytes(CHUNKS * MIB, 4)), ("text", text_bytes(CHUNKS * MIB, 5))];
    for (data_name, data) in &inputs {
        let chunks: Vec<&[u8]> = data.chunks(MIB).collect();
        let ids: Vec<_> = chunks.iter().map(|chunk| key.blob_id(chunk)).collect();
        for level in [0, 3] {
            let name = format!("level{level}/{data_name}");
            let mut sealer = BlobSealer::new(key.cipher(), level);
            let stored: Vec<Vec<u8>> =
                chunks.iter().zip(&ids).map(|(chunk, id)| sealer.seal(BlobKind::Data, id, chunk)).collect();
            let stored_len: usize = stored.iter().map(Vec::len).sum();
            eprintln!(
                "{name}: stored/raw = {:.3} (ratio {:.2}×)",
                stored_len as f64 / data.len() as f64,
                data.len() as f64 / stored_len as f64
            );

            let mut group = c.benchmark_group("seal");
            group.throughput(Throughput::Bytes(MIB as u64));
            let cursor = Cell::new(0);
            let mut out = Vec::new();
            group.bench_function(&name, |b| {
                b.iter(|| {
                    let n = next(&cursor);
                    sealer.seal_into(BlobKind::Data, &ids[n], black_box(chunks[n]), &mut out);
                    out.len()
                });
            });
            group.finish();

            // Throughput of opening counts the plaintext produced, as for decompression.
            let cipher = key.cipher();
            let mut group = c.benchmark_group("open");
            group.throughput(Throughput::Bytes(MIB as u64));
            let cursor = Cell::new(0);
            let mut opener = BlobOpener::new();
            let mut scratch = Vec::new();
            group.bench_function(&name, |b| {
                b.iter(|| {
                    let n = next(&cursor);
                    scratch.clear();
                    scratch.extend_from_slice(black_box(&stored[n]));
                    let plain = opener
                        .open(&key, &cipher, BlobKind::Data, &ids[n], MIB as u32, &mut scratch)
                        .expect("a blob sealed above opens");
                    plain.len()
                });
            });
            group.finish();

            let mut group = c.benchmark_group("open_blob");
            group.throughput(Throughput::Bytes(MIB as u64));
            let cursor = Cell::new(0);
            group.bench_function(&name, |b| {
                b.iter(|| {
                    let n = next(&cursor);
                    open_blob(&key, &cipher, BlobKind::Data, &ids[n], MIB as u32, black_box(&stored[n]))
                        .expect("a blob sealed above opens")
                });
            });
            group.finish();
        }
    }
}

criterion_group!(benches, seal_and_open);
criterion_main!(benches);
