//! The progress callback of `ComputeOptions`: what it sees only grows, and
//! a run ends with everything counted.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ndchunk::{Array, ComputeOptions, ProgressCallback};

#[derive(Debug, Clone, PartialEq)]
struct Seen {
    stage: usize,
    stages: usize,
    tasks_done: u64,
    tasks_total: u64,
    bytes_done: u64,
    bytes_total: u64,
    elapsed: Duration,
}

fn run_with_callback(interval: Duration, threads: usize, a: &Array<f64>) -> Vec<Seen> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let options = ComputeOptions::default()
        .max_mem(1 << 30)
        .threads(threads)
        .progress(false)
        .on_progress(
            ProgressCallback::new(move |p| {
                log.lock().unwrap().push(Seen {
                    stage: p.stage,
                    stages: p.stages,
                    tasks_done: p.tasks_done,
                    tasks_total: p.tasks_total,
                    bytes_done: p.bytes_done,
                    bytes_total: p.bytes_total,
                    elapsed: p.elapsed,
                })
            })
            .with_interval(interval),
        );
    let (_, report) = a.compute_with(&options).unwrap();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.last().unwrap().tasks_done, report.tasks_run);
    seen
}

fn check_monotonic(seen: &[Seen]) {
    for w in seen.windows(2) {
        assert!(w[0].tasks_done <= w[1].tasks_done, "{w:?}");
        assert!(w[0].bytes_done <= w[1].bytes_done, "{w:?}");
        assert!(w[0].stage <= w[1].stage, "{w:?}");
        assert!(w[0].elapsed <= w[1].elapsed, "{w:?}");
    }
    let last = seen.last().unwrap();
    assert_eq!(last.tasks_done, last.tasks_total);
    assert_eq!(last.bytes_done, last.bytes_total);
    assert_eq!(last.stage + 1, last.stages);
    assert!(seen
        .iter()
        .all(|s| s.tasks_done <= s.tasks_total && s.bytes_done <= s.bytes_total));
}

#[test]
fn every_task_reported_in_order_ending_at_the_total() {
    // 200 blocks of 50 x 40 float64, one blockwise stage.
    let a = Array::<f64>::ones(&[1000, 400], [50, 40]).unwrap() * 2.0 + 1.0;
    for threads in [1, 4] {
        let seen = run_with_callback(Duration::ZERO, threads, &a);
        check_monotonic(&seen);
        let last = seen.last().unwrap();
        assert_eq!((last.tasks_total, last.bytes_total), (200, 1000 * 400 * 8));
        // Each of the 200 tasks was reported unless another report was
        // running at that moment; with one thread, none is skipped.
        if threads == 1 {
            let counts: Vec<u64> = seen.iter().map(|s| s.tasks_done).collect();
            let want: Vec<u64> = (1..=200).chain([200]).collect();
            assert_eq!(counts, want);
        } else {
            assert!(seen.len() > 10, "{} reports", seen.len());
        }
    }
}

#[test]
fn a_reduction_counts_its_input_bytes_and_every_stage() {
    // A mean over axis 0 whose result feeds a second reduction: two stages.
    let a = Array::<f64>::ones(&[900, 300], [100, 70]).unwrap();
    let total = a.mean([0], false).sum([0], false);
    let stages = total.plan().unwrap().stages().len();
    assert_eq!(stages, 2);
    let seen = run_with_callback(Duration::ZERO, 3, &total);
    check_monotonic(&seen);
    let last = seen.last().unwrap();
    // Stage 1 reads the 900 x 300 input, stage 2 the 300 means.
    assert_eq!(last.bytes_total, (900 * 300 + 300) * 8);
    assert!(seen
        .iter()
        .any(|s| s.stage == 0 && s.tasks_done < last.tasks_total));
}

#[test]
fn a_throttled_callback_still_ends_at_the_total() {
    let a = Array::<f64>::ones(&[1000, 400], [10, 400]).unwrap().sqrt();
    let seen = run_with_callback(Duration::from_secs(3600), 2, &a);
    check_monotonic(&seen);
    // The interval has not passed: only the end of the stage is reported.
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].tasks_done, 100);
}

#[test]
fn no_callback_no_bar_same_result() {
    let a = Array::<f64>::arange(1000, [7]).unwrap().sum([0], false);
    let quiet = ComputeOptions::default().progress(false);
    assert_eq!(a.compute_with(&quiet).unwrap().0, a.compute().unwrap());
}
