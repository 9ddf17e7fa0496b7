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
