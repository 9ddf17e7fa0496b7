//! The scratch store under concurrent writers: chunk names share prefixes
//! (`0.0.1`, `0.0.2`), and whole-chunk writes by rename must never collide.

use ndchunk_io::scratch::ScratchStore;
use ndchunk_io::{ArrayMeta, ChunkGrid, ChunkStore, DType, IoError, Scalar};

#[test]
fn concurrent_writers_never_collide_and_reads_are_exact() {
    let dir = tempfile::tempdir().unwrap();
    let grid = ChunkGrid::from_sizes(&[vec![2, 3, 1], vec![4, 4], vec![1; 40]]).unwrap();
    let store = ScratchStore::open(
        &dir.path().join("s"),
        ArrayMeta::new(grid.clone(), DType::UInt16, Scalar::UInt(7)),
    )
    .unwrap();
    let chunks: Vec<Vec<u64>> = grid.all_blocks().iter().collect();
    std::thread::scope(|s| {
        for part in chunks.chunks(chunks.len() / 8 + 1) {
            let store = &store;
            let grid = &grid;
            s.spawn(move || {
                for chunk in part {
                    let n = grid.block_region(chunk).unwrap().num_elements() as usize;
                    let tag = grid.linear_index(chunk).unwrap() as u16;
                    let bytes: Vec<u8> = (0..n).flat_map(|_| tag.to_ne_bytes()).collect();
                    store.write_chunk_bytes(chunk, &bytes).unwrap();
                }
            });
        }
    });
    for chunk in &chunks {
        let tag = grid.linear_index(chunk).unwrap() as u16;
        let bytes = store.read_chunk_bytes(chunk).unwrap();
        assert!(
            bytes
                .chunks_exact(2)
                .all(|b| u16::from_ne_bytes([b[0], b[1]]) == tag),
            "{chunk:?}"
        );
    }
    assert_eq!(store.written_chunks().unwrap().len(), chunks.len());
    // No temporary file is left behind.
    assert!(std::fs::read_dir(dir.path().join("s")).unwrap().all(|e| !e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .ends_with(".tmp")));
}

#[test]
fn a_torn_chunk_file_is_reported_not_misread() {
    let dir = tempfile::tempdir().unwrap();
    let grid = ChunkGrid::regular(&[4], &[2]).unwrap();
    let store = ScratchStore::open(
        dir.path(),
        ArrayMeta::new(grid, DType::Float32, Scalar::Float(0.0)),
    )
    .unwrap();
    store.write_chunk_bytes(&[1], &[0u8; 8]).unwrap();
    std::fs::write(dir.path().join("1"), [0u8; 5]).unwrap();
    assert!(matches!(
        store.read_chunk_bytes(&[1]),
        Err(IoError::CorruptChunk { .. })
    ));
    // Never written: an intermediate chunk is always written before it is
    // read, so a missing one is lost data, not the fill value.
    match store.read_chunk_bytes(&[0]) {
        Err(IoError::CorruptChunk { reason, .. }) => {
            assert!(reason.contains("missing"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
}

/// Regions read from a scratch store (thin faces read by their rows, large
/// parts through whole chunks) equal the same regions of the array written.
#[test]
fn regions_of_any_shape_read_back_exactly() {
    use ndchunk_io::{ChunkStoreExt, Region};
    let dir = tempfile::tempdir().unwrap();
    let grid = ChunkGrid::from_sizes(&[vec![5, 7, 4], vec![9, 3], vec![16, 16, 2]]).unwrap();
    let shape = grid.shape();
    let store = ScratchStore::open(
        &dir.path().join("s"),
        ArrayMeta::new(grid.clone(), DType::UInt32, Scalar::UInt(0)),
    )
    .unwrap();
    let value = |p: &[u64]| (p[0] * 10_000 + p[1] * 100 + p[2]) as u32;
    for chunk in grid.all_blocks().iter() {
        let r = grid.block_region(&chunk).unwrap();
        let mut bytes = Vec::new();
        for z in r.start()[0]..r.stop()[0] {
            for y in r.start()[1]..r.stop()[1] {
                for x in r.start()[2]..r.stop()[2] {
                    bytes.extend_from_slice(&value(&[z, y, x]).to_ne_bytes());
                }
            }
        }
        store.write_chunk_bytes(&chunk, &bytes).unwrap();
    }
    let mut seed = 17u64;
    let mut next = |n: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    for case in 0..300 {
        // Faces and thin slabs most of the time, any box otherwise.
        let (start, stop): (Vec<u64>, Vec<u64>) = (0..3)
            .map(|a| {
                let n = shape[a];
                let s = next(n);
                let len = if case % 3 == a as u64 {
                    1 + next(2)
                } else {
                    1 + next(n)
                };
                (s, (s + len).min(n))
            })
            .unzip();
        let region = Region::new(start, stop).unwrap();
        let got = store.read_region::<u32>(&region).unwrap();
        for (ix, v) in got.indexed_iter() {
            let p: Vec<u64> = (0..3).map(|a| region.start()[a] + ix[a] as u64).collect();
            assert_eq!(*v, value(&p), "{region:?} at {p:?}");
        }
    }
}
