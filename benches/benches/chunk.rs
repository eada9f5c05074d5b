//! Stage 1: content-defined chunking (`Chunker::next_chunk`, `FastCDC` 256 KiB / 1 MiB / 4 MiB)
//! over 64 MiB in memory, streamed through the chunker's reader interface as a backup does.

use std::hint::black_box;

use comet_benches::{MIB, random_bytes, text_bytes};
use comet_core::ChunkerParams;
use comet_core::chunker::Chunker;
use comet_core::crypto::MasterKey;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const INPUT_LEN: usize = 64 * MIB;

fn chunk(c: &mut Criterion) {
    let seed = MasterKey::from_bytes(&[7; 96]).chunker_seed();
    let mut group = c.benchmark_group("chunk");
    group.throughput(Throughput::Bytes(INPUT_LEN as u64));
    for (name, data) in [("random", random_bytes(INPUT_LEN, 1)), ("text", text_bytes(INPUT_LEN, 2))] {
        let lengths = Chunker::chunk_lengths(ChunkerParams::DEFAULT, seed, &data);
        eprintln!("chunk/{name}: {} chunks, mean {} KiB", lengths.len(), (INPUT_LEN / lengths.len()) >> 10);
        let mut chunker = Chunker::new(ChunkerParams::DEFAULT, seed);
        group.bench_function(name, |b| {
            b.iter(|| {
                chunker.reset();
                let mut reader = black_box(data.as_slice());
                let mut chunks = 0usize;
                while let Some(chunk) = chunker.next_chunk(&mut reader).expect("reading from memory") {
                    black_box(chunk);
                    chunks += 1;
                }
                chunks
            });
        });
    }
    group.finish();
}

criterion_group!(benches, chunk);
criterion_main!(benches);
