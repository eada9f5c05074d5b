//! Stage 2: chunk ids, `MasterKey::blob_id` (keyed BLAKE3), over a 64 MiB buffer in 1 MiB pieces.

use std::hint::black_box;

use comet_benches::{MIB, random_bytes};
use comet_core::crypto::MasterKey;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const INPUT_LEN: usize = 64 * MIB;

fn hash(c: &mut Criterion) {
    let key = MasterKey::from_bytes(&[7; 96]);
    let data = random_bytes(INPUT_LEN, 3);
    let mut group = c.benchmark_group("hash");
    group.throughput(Throughput::Bytes(INPUT_LEN as u64));
    group.bench_function("blob_id/1MiB", |b| {
        b.iter(|| {
            for piece in data.chunks(MIB) {
                black_box(key.blob_id(black_box(piece)));
            }
        });
    });
    group.finish();
}

criterion_group!(benches, hash);
criterion_main!(benches);
