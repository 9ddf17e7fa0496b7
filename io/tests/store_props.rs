//! Any region read from any store equals the same region cut out of the
//! whole array; whole-chunk region writes land where they should. Checked on
//! the in-memory store and on Zarr v2/v3 (sharded too) on disk, over random
//! shapes, irregular chunkings (memory) and regions.

use ndchunk_io::zarr::{ZarrArraySpec, ZarrCodec, ZarrFormat};
use ndchunk_io::{ArrayMeta, ChunkGrid, ChunkStore, DType, MemoryStore, Region, Scalar, ZarrStore};
use proptest::prelude::*;

/// The oracle: element `i` of the whole array is `i` as u16 bytes.
fn value(shape: &[u64], point: &[u64]) -> u16 {
    let mut linear = 0u64;
    for (p, s) in point.iter().zip(shape) {
        linear = linear * s + p;
    }
    (linear % 65521) as u16
}

fn region_bytes(shape: &[u64], region: &Region) -> Vec<u8> {
    let mut out = Vec::new();
    let mut point = region.start().to_vec();
    if region.is_empty() {
        return out;
    }
    loop {
        out.extend(value(shape, &point).to_ne_bytes());
        let mut axis = point.len();
        loop {
            if axis == 0 {
                return out;
            }
            axis -= 1;
            point[axis] += 1;
            if point[axis] < region.stop()[axis] {
                break;
            }
            point[axis] = region.start()[axis];
        }
    }
}

fn fill(store: &dyn ChunkStore) {
    let shape = store.meta().shape();
    for chunk in store.meta().grid.all_blocks().iter() {
        let region = store.meta().grid.block_region(&chunk).unwrap();
        store
            .write_chunk_bytes(&chunk, &region_bytes(&shape, &region))
            .unwrap();
    }
}

fn check_regions(
    store: &dyn ChunkStore,
    regions: &[(Vec<u64>, Vec<u64>)],
) -> Result<(), TestCaseError> {
    let shape = store.meta().shape();
    // Every chunk, decoded in place, as the oracle has it (edge chunks
    // clipped); a wrong length is an error, not a panic.
    for chunk in store.meta().grid.all_blocks().iter() {
        let region = store.meta().grid.block_region(&chunk).unwrap();
        let mut out = vec![0u8; region.num_elements() as usize * 2];
        store.read_chunk_into(&chunk, &mut out).unwrap();
        prop_assert_eq!(&out, &region_bytes(&shape, &region), "chunk {:?}", chunk);
        let mut short = vec![0u8; out.len() + 2];
        prop_assert!(store.read_chunk_into(&chunk, &mut short).is_err());
    }
    for (a, b) in regions {
        let start: Vec<u64> = a.iter().zip(&shape).map(|(x, s)| x % (s + 1)).collect();
        let stop: Vec<u64> = b
            .iter()
            .zip(&start)
            .zip(&shape)
            .map(|((y, st), s)| st + y % (s - st + 1))
            .collect();
        let region = Region::new(start, stop).unwrap();
        prop_assert_eq!(
            store.read_region_bytes(&region).unwrap(),
            region_bytes(&shape, &region),
            "region {}",
            region
        );
    }
    Ok(())
}

fn shape_and_chunks() -> impl Strategy<Value = (Vec<u64>, Vec<u64>)> {
    proptest::collection::vec((1u64..12, 1u64..6), 1..=3).prop_map(|axes| axes.into_iter().unzip())
}

fn regions(ndim: usize) -> impl Strategy<Value = Vec<(Vec<u64>, Vec<u64>)>> {
    proptest::collection::vec(
        (
            proptest::collection::vec(0u64..20, ndim),
            proptest::collection::vec(0u64..20, ndim),
        ),
        1..6,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn memory_store_regions_match_the_oracle(
        sizes in proptest::collection::vec(proptest::collection::vec(0u64..5, 1..5), 1..=3),
        seed in proptest::collection::vec((0u64..20, 0u64..20), 3..4),
    ) {
        // Irregular grids, zero-size chunks included.
        let grid = ChunkGrid::from_sizes(&sizes).unwrap();
        let store = MemoryStore::new("props", ArrayMeta::new(grid.clone(), DType::UInt16, Scalar::UInt(0)));
        fill(&store);
        let ndim = grid.ndim();
        let regions: Vec<_> = seed.iter().map(|&(a, b)| (vec![a; ndim], vec![b; ndim])).collect();
        check_regions(&store, &regions)?;
        // Whole-chunk region writes: rewrite everything through one region.
        let whole = Region::from_shape(&grid.shape());
        let copy = MemoryStore::new("copy", store.meta().clone());
        copy.write_region_bytes(&whole, &store.read_region_bytes(&whole).unwrap()).unwrap();
        prop_assert_eq!(copy.read_region_bytes(&whole).unwrap(), region_bytes(&grid.shape(), &whole));
    }

    #[test]
    fn zarr_store_regions_match_the_oracle(
        (shape, chunks) in shape_and_chunks(),
        format in prop_oneof![Just(ZarrFormat::V2), Just(ZarrFormat::V3)],
        codec in prop_oneof![Just("none"), Just("zstd:1"), Just("blosc:lz4:1:shuffle")],
        shard in any::<bool>(),
        seed in regions(3),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let sharded = shard && format == ZarrFormat::V3;
        let outer: Vec<u64> = if sharded { chunks.iter().map(|c| c * 2).collect() } else { chunks.clone() };
        let grid = ChunkGrid::regular(&shape, &outer).unwrap();
        let mut spec = ZarrArraySpec::new(
            // A fill value the data never holds: zarrs skips writing chunks that
            // equal the fill (as zarr-python does), which would hide them here.
            ArrayMeta::new(grid, DType::UInt16, Scalar::UInt(65535)),
            format,
            codec.parse::<ZarrCodec>().unwrap(),
        );
        if sharded {
            spec.inner_chunks = Some(chunks.clone());
        }
        let store = ZarrStore::create(dir.path(), "a", &spec).unwrap();
        fill(&store);
        let ndim = shape.len();
        let regions: Vec<_> = seed.into_iter().map(|(a, b)| (a[..ndim].to_vec(), b[..ndim].to_vec())).collect();
        check_regions(&store, &regions)?;
        // Reopened from disk, the same.
        let reopened = ZarrStore::open(dir.path(), "a").unwrap();
        prop_assert_eq!(reopened.meta(), store.meta());
        check_regions(&reopened, &regions)?;
        prop_assert_eq!(reopened.written_chunks().unwrap().len() as u64, reopened.meta().grid.num_blocks());
    }
}

/// A chunk never written decodes in place as the fill value, like
/// `read_chunk_bytes`; a corrupt one is the same clear error.
#[test]
fn zarr_chunks_decode_in_place_as_they_read() {
    let dir = tempfile::tempdir().unwrap();
    let grid = ChunkGrid::regular(&[5, 3], &[2, 2]).unwrap();
    let spec = ZarrArraySpec::new(
        ArrayMeta::new(grid, DType::UInt16, Scalar::UInt(7)),
        ZarrFormat::V3,
        "zstd:1".parse::<ZarrCodec>().unwrap(),
    );
    let store = ZarrStore::create(dir.path(), "a", &spec).unwrap();
    let mut out = vec![0u8; 2 * 2];
    store.read_chunk_into(&[2, 0], &mut out).unwrap();
    assert_eq!(out, store.read_chunk_bytes(&[2, 0]).unwrap());
    assert_eq!(
        out,
        [7u16, 7]
            .iter()
            .flat_map(|v| v.to_ne_bytes())
            .collect::<Vec<_>>()
    );
    store.write_chunk_bytes(&[0, 0], &[1u8; 8]).unwrap();
    std::fs::write(dir.path().join("a/c/0/0"), b"not zstd").unwrap();
    let mut out = vec![0u8; 8];
    let err = store
        .read_chunk_into(&[0, 0], &mut out)
        .unwrap_err()
        .to_string();
    assert!(err.contains("[0, 0]"), "{err}");
}
