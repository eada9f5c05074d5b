//! Stage 4: packing. `PackWriter` gathers 16 sealed 1 MiB blobs (a default 16 MiB pack), then
//! `finish` seals the header and hashes the whole pack (its id); `read_header` parses it back.

use std::hint::black_box;

use comet_benches::{MIB, random_bytes};
use comet_core::BlobKind;
use comet_core::blob::BlobSealer;
use comet_core::crypto::MasterKey;
use comet_core::pack::{self, PackWriter};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const BLOBS: usize = 16;

fn pack(c: &mut Criterion) {
    let key = MasterKey::from_bytes(&[7; 96]);
    let cipher = key.cipher();
    let data = random_bytes(BLOBS * MIB, 6);
    let mut sealer = BlobSealer::new(key.cipher(), 0);
    let blobs: Vec<_> = data
        .chunks(MIB)
        .map(|chunk| {
            let id = key.blob_id(chunk);
            (id, sealer.seal(BlobKind::Data, &id, chunk), chunk.len() as u32)
        })
        .collect();
    let stored_len: usize = blobs.iter().map(|(_, stored, _)| stored.len()).sum();
    // The pipeline's capacity for a data pack: the pack size plus one blob.
    let capacity = BLOBS * MIB + MIB;

    let mut group = c.benchmark_group("pack");
    group.throughput(Throughput::Bytes(stored_len as u64));
    // Each pack reuses the previous one's buffer, as the pipeline's buffer pool does. (A fresh
    // `PackWriter::new` per pack measures the same here: on one thread, glibc hands the freed
    // 17 MiB straight back, so no page faults show.)
    let mut spare = Vec::with_capacity(capacity);
    group.bench_function("write/16x1MiB", |b| {
        b.iter(|| {
            let mut writer = PackWriter::with_buffer(BlobKind::Data, std::mem::take(&mut spare));
            for (id, stored, raw_len) in &blobs {
                writer.add(*id, black_box(stored), *raw_len);
            }
            let finished = writer.finish(&cipher);
            spare = finished.bytes;
            finished.id
        });
    });

    let mut writer = PackWriter::new(BlobKind::Data, capacity);
    for (id, stored, raw_len) in &blobs {
        writer.add(*id, stored, *raw_len);
    }
    let finished = writer.finish(&cipher);
    // `read_header` reads only the trailer and the sealed header: count those bytes.
    let header_len = finished.bytes.len() - stored_len;
    eprintln!("pack: {} bytes, sealed header + trailer {header_len} bytes", finished.bytes.len());
    group.throughput(Throughput::Bytes(header_len as u64));
    group.bench_function("read_header/16", |b| {
        b.iter(|| pack::read_header(&cipher, black_box(&finished.bytes)).expect("the pack written above"));
    });
    group.finish();
}

criterion_group!(benches, pack);
criterion_main!(benches);
