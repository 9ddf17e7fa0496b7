//! The engine's fixed costs: building and planning a graph over 10^6
//! chunks (goal < 10 ms; Dask takes seconds), and the per-task overhead of
//! the executor on 10^4 tiny chunks (goal < 5 µs per task).

use criterion::{criterion_group, criterion_main, Criterion};
use ndchunk::{Array, ComputeOptions};

fn graph_of_a_million_chunks(c: &mut Criterion) {
    c.bench_function(
        "build+plan (ones((10000,10000,100), chunks=(10,10,100)) + 1).sum(axis=0)",
        |b| {
            b.iter(|| {
                let a = Array::<f64>::ones(&[10_000, 10_000, 100], [10, 10, 100]).unwrap();
                let plan = (a + 1.0).sum(&[0], false).plan().unwrap();
                plan.check(1 << 30).unwrap();
                std::hint::black_box(plan.stages().len())
            })
        },
    );
}

fn per_task_overhead(c: &mut Criterion) {
    let options = ComputeOptions {
        max_mem: Some(1 << 30),
        threads: None,
        progress: false,
    };
    let a = Array::<f64>::ones(&[10_000], [1]).unwrap() + 1.0;
    let mut group = c.benchmark_group("per-task overhead");
    group.sample_size(20);
    group.bench_function("10^4 one-element chunks, (ones + 1).compute", |b| {
        b.iter(|| std::hint::black_box(a.compute_with(&options).unwrap()))
    });
    let s = Array::<f64>::ones(&[10_000], [1]).unwrap().sum(&[0], false);
    group.bench_function("10^4 one-element chunks, ones.sum()", |b| {
        b.iter(|| std::hint::black_box(s.compute_with(&options).unwrap()))
    });
    group.finish();
}

criterion_group!(benches, graph_of_a_million_chunks, per_task_overhead);
criterion_main!(benches);
