//! Benchmarks of value encryption and decryption through a `KeyRing` (100-byte values).

// A bench's setup may fail loudly: it is not library code.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use secret_crypto::{Dek, KeyRing, new_key_id};

fn keyring() -> KeyRing {
    let key_id = new_key_id();
    KeyRing::new(key_id.clone(), [(key_id, Dek::generate().unwrap())]).unwrap()
}

fn value_encryption(c: &mut Criterion) {
    let ring = keyring();
    let plaintext = [0x5au8; 100];
    let (key_id, blob) = ring.encrypt("secret-id", 1, &plaintext).unwrap();

    let mut group = c.benchmark_group("keyring_100_bytes");
    group.throughput(Throughput::Bytes(plaintext.len() as u64));
    group.bench_function("encrypt", |b| {
        b.iter(|| {
            ring.encrypt(black_box("secret-id"), black_box(1), black_box(&plaintext))
                .unwrap()
        })
    });
    group.bench_function("decrypt", |b| {
        b.iter(|| {
            ring.decrypt(
                black_box(&key_id),
                black_box("secret-id"),
                black_box(1),
                black_box(&blob),
            )
            .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, value_encryption);
criterion_main!(benches);
