//! Property tests of `Region` against brute force: every question is
//! answered from the region's explicit point set.

use std::collections::BTreeSet;

use ndchunk_chunking::{ChunkingError, Region};
use proptest::prelude::*;

#[path = "common/grid_gen.rs"]
mod grid_gen;

use grid_gen::{points, product, small_region};

fn region_points(r: &Region) -> BTreeSet<Vec<u64>> {
    points(r).into_iter().collect()
}

fn small_region_pair() -> impl Strategy<Value = (Region, Region)> {
    (0usize..=3).prop_flat_map(|ndim| (small_region(ndim), small_region(ndim)))
}

fn coord() -> impl Strategy<Value = u64> {
    prop_oneof![3 => 0u64..40, 1 => (u64::MAX - 40)..=u64::MAX, 1 => any::<u64>()]
}

fn offset() -> impl Strategy<Value = i64> {
    prop_oneof![3 => -50i64..50, 1 => Just(i64::MIN), 1 => Just(i64::MAX), 1 => any::<i64>()]
}

fn big_region_and_offset() -> impl Strategy<Value = (Region, Vec<i64>)> {
    (0usize..=3).prop_flat_map(|ndim| {
        (
            prop::collection::vec((coord(), coord()), ndim).prop_map(|pairs| {
                Region::new(
                    pairs.iter().map(|p| p.0.min(p.1)).collect(),
                    pairs.iter().map(|p| p.0.max(p.1)).collect(),
                )
                .unwrap()
            }),
            prop::collection::vec(offset(), ndim),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// intersect is the point-set intersection (None when it is empty).
    #[test]
    fn region_intersect_is_point_set_intersection((a, b) in small_region_pair()) {
        let (pa, pb) = (region_points(&a), region_points(&b));
        let common: BTreeSet<Vec<u64>> = pa.intersection(&pb).cloned().collect();
        match a.intersect(&b) {
            None => prop_assert!(common.is_empty()),
            Some(r) => {
                prop_assert!(!r.is_empty());
                prop_assert_eq!(region_points(&r), common);
            }
        }
        prop_assert_eq!(a.intersect(&b), b.intersect(&a));
    }

    /// contains: point-set inclusion for a non-empty `other`; for an empty
    /// `other`, its position must lie within `self`'s bounds.
    #[test]
    fn region_contains_is_point_set_inclusion((a, b) in small_region_pair()) {
        let (pa, pb) = (region_points(&a), region_points(&b));
        let want = if pb.is_empty() {
            (0..a.ndim()).all(|i| a.start()[i] <= b.start()[i] && b.stop()[i] <= a.stop()[i])
        } else {
            pb.is_subset(&pa)
        };
        prop_assert_eq!(a.contains(&b), want);
        prop_assert!(a.contains(&a));
    }

    /// contains_point, num_elements, is_empty, shape against the point set.
    #[test]
    fn region_points_membership((a, _) in small_region_pair()) {
        let pa = region_points(&a);
        let box_all = Region::from_shape(&vec![9; a.ndim()]);
        for p in points(&box_all) {
            prop_assert_eq!(a.contains_point(&p), pa.contains(&p));
        }
        prop_assert!(!a.contains_point(&vec![0; a.ndim() + 1]));
        prop_assert_eq!(a.num_elements(), pa.len() as u64);
        prop_assert_eq!(a.is_empty(), pa.is_empty());
        prop_assert_eq!(product(&a.shape()), pa.len() as u64);
        for i in 0..a.ndim() {
            prop_assert_eq!(a.range(i), a.start()[i]..a.stop()[i]);
        }
        let ranges: Vec<_> = (0..a.ndim()).map(|i| a.range(i)).collect();
        prop_assert_eq!(Region::from_ranges(&ranges).unwrap(), a.clone());
    }

    /// relative_to: Some exactly when `origin` contains the region; shifting
    /// the result back by origin's start gives the region's points.
    #[test]
    fn region_relative_to((a, origin) in small_region_pair()) {
        match a.relative_to(&origin) {
            None => prop_assert!(!origin.contains(&a)),
            Some(r) => {
                prop_assert!(origin.contains(&a));
                prop_assert_eq!(r.shape(), a.shape());
                for i in 0..a.ndim() {
                    prop_assert_eq!(r.start()[i] + origin.start()[i], a.start()[i]);
                    prop_assert_eq!(r.stop()[i] + origin.start()[i], a.stop()[i]);
                }
                let shifted: BTreeSet<Vec<u64>> = region_points(&r)
                    .into_iter()
                    .map(|p| p.iter().zip(origin.start()).map(|(x, o)| x + o).collect())
                    .collect();
                prop_assert_eq!(shifted, region_points(&a));
            }
        }
    }

    /// translate in exact (i128) arithmetic; any coordinate leaving
    /// `0..=u64::MAX` is a TranslateOverflow naming the region and offset.
    #[test]
    fn region_translate((r, off) in big_region_and_offset()) {
        let moved: Option<(Vec<u64>, Vec<u64>)> = (|| {
            let mut start = vec![];
            let mut stop = vec![];
            for (i, &d) in off.iter().enumerate() {
                let s = r.start()[i] as i128 + d as i128;
                let e = r.stop()[i] as i128 + d as i128;
                start.push(u64::try_from(s).ok()?);
                stop.push(u64::try_from(e).ok()?);
            }
            Some((start, stop))
        })();
        match (r.translate(&off), moved) {
            (Ok(got), Some((start, stop))) => {
                prop_assert_eq!(got.start(), &start[..]);
                prop_assert_eq!(got.stop(), &stop[..]);
                prop_assert_eq!(got.shape(), r.shape());
            }
            (Err(ChunkingError::TranslateOverflow { region, offset }), None) => {
                prop_assert_eq!(region, r.to_string());
                prop_assert_eq!(offset, off.clone());
            }
            (got, want) => prop_assert!(false, "translate {} by {:?}: got {:?}, want {:?}", r, off, got, want),
        }
        let mut longer = off.clone();
        longer.push(0);
        let is_mismatch = matches!(r.translate(&longer), Err(ChunkingError::NdimMismatch { .. }));
        prop_assert!(is_mismatch);
    }

    /// num_elements saturates instead of overflowing.
    #[test]
    fn region_num_elements_saturates((r, _) in big_region_and_offset()) {
        let exact = r.shape().iter().fold(1u128, |n, &s| n.saturating_mul(s as u128));
        prop_assert_eq!(r.num_elements() as u128, exact.min(u64::MAX as u128));
    }

    /// Display is `[a..b, c..d]`.
    #[test]
    fn region_display((r, _) in big_region_and_offset()) {
        let parts: Vec<String> = (0..r.ndim()).map(|i| format!("{}..{}", r.start()[i], r.stop()[i])).collect();
        prop_assert_eq!(r.to_string(), format!("[{}]", parts.join(", ")));
    }
}

#[test]
fn region_constructors_and_display_examples() {
    assert_eq!(Region::new(vec![], vec![]).unwrap().to_string(), "[]");
    assert_eq!(
        Region::new(vec![1, 0], vec![3, 0]).unwrap().to_string(),
        "[1..3, 0..0]"
    );
    assert!(matches!(
        Region::new(vec![3], vec![2]),
        Err(ChunkingError::InvertedRegion {
            axis: 0,
            start: 3,
            stop: 2
        })
    ));
    assert!(matches!(
        Region::new(vec![0, 0], vec![1]),
        Err(ChunkingError::NdimMismatch {
            expected: 2,
            got: 1,
            ..
        })
    ));
    // A 0-d region is one point: non-empty, one element.
    let point = Region::from_shape(&[]);
    assert!(!point.is_empty());
    assert_eq!(point.num_elements(), 1);
    assert!(point.contains_point(&[]));
    assert_eq!(point.intersect(&point), Some(point.clone()));
    // Translate overflow at both ends.
    let r = Region::new(vec![5], vec![10]).unwrap();
    assert!(matches!(
        r.translate(&[-6]),
        Err(ChunkingError::TranslateOverflow { .. })
    ));
    assert_eq!(
        r.translate(&[-5]).unwrap(),
        Region::new(vec![0], vec![5]).unwrap()
    );
    let top = Region::new(vec![u64::MAX - 1], vec![u64::MAX]).unwrap();
    assert!(matches!(
        top.translate(&[1]),
        Err(ChunkingError::TranslateOverflow { .. })
    ));
    let msg = top.translate(&[1]).unwrap_err().to_string();
    assert!(msg.contains(&top.to_string()), "{msg}");
}
