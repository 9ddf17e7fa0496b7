//! `regionprops`: per component of a label image, its voxel count,
//! bounding box and centroid (what `skimage.measure.regionprops` calls
//! `area`, `bbox` and `centroid`), in one pass over the labels. Each block
//! folds its voxels into per-label sums in integers, merged into one table
//! in any order: the results do not depend on the thread count.

use std::collections::HashMap;
use std::sync::Mutex;

use ndchunk_chunking::Region;

use crate::array::Array;
use crate::error::{Error, Result};
use crate::ComputeOptions;

/// One component of a label image, as [`Array::regionprops`] measures it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RegionProps {
    /// Its label.
    pub label: u32,
    /// Its voxels (skimage's `area`).
    pub count: u64,
    /// The smallest box holding it: start inclusive, stop exclusive per
    /// axis (skimage's `bbox`, scipy's `find_objects` slice).
    pub bbox: Region,
    /// The mean of its voxels' coordinates (skimage's `centroid`).
    pub centroid: Vec<f64>,
}

/// One label's sums.
#[derive(Clone)]
struct Sums {
    count: u64,
    coords: Vec<u128>,
    min: Vec<u64>,
    max: Vec<u64>,
}

impl Sums {
    fn new(ndim: usize) -> Self {
        Self {
            count: 0,
            coords: vec![0; ndim],
            min: vec![u64::MAX; ndim],
            max: vec![0; ndim],
        }
    }

    fn add(&mut self, other: &Sums) {
        self.count += other.count;
        for a in 0..self.coords.len() {
            self.coords[a] += other.coords[a];
            self.min[a] = self.min[a].min(other.min[a]);
            self.max[a] = self.max[a].max(other.max[a]);
        }
    }
}

impl Array<u32> {
    /// The count, bounding box and centroid of every label 1..=`labels`
    /// of this label image (as [`label`](Array::label) makes), in label
    /// order; a label with no voxel is left out. One pass within
    /// `options`; memory grows with the number of labels, not the image.
    ///
    /// ```
    /// use ndchunk::{Array, ComputeOptions};
    /// let image = ndarray::arr2(&[[1u32, 1, 0], [0, 2, 2]]).into_dyn();
    /// let image = Array::from_ndarray(image, [1, 2]).unwrap();
    /// let props = image.regionprops(2, &ComputeOptions::new().progress(false)).unwrap();
    /// assert_eq!(props[0].count, 2);
    /// assert_eq!(props[1].centroid, vec![1.0, 1.5]);
    /// assert_eq!(props[1].bbox.stop(), &[2, 3]);
    /// ```
    pub fn regionprops(&self, labels: u64, options: &ComputeOptions) -> Result<Vec<RegionProps>> {
        let ndim = self.ndim();
        // A label's sums: a count, and three values per axis (with their
        // vectors' headers).
        let per_label = 8 + 3 * (24 + 16 * ndim as u64);
        let max_mem = options.plan_budget().max_mem;
        if labels.saturating_mul(per_label) > max_mem {
            return Err(Error::Invalid {
                operation: "regionprops".into(),
                message: format!(
                    "the sums of {labels} labels do not fit max_mem of {max_mem} bytes"
                ),
            });
        }
        let table = Mutex::new(vec![Sums::new(ndim); labels as usize]);
        self.for_each_block(options, |_, region, values| {
            let mut local: HashMap<u32, Sums> = HashMap::new();
            for (ix, &l) in values.indexed_iter() {
                if l == 0 {
                    continue;
                }
                let sums = local.entry(l).or_insert_with(|| Sums::new(ndim));
                sums.count += 1;
                for a in 0..ndim {
                    let p = region.start()[a] + ix[a] as u64;
                    sums.coords[a] += u128::from(p);
                    sums.min[a] = sums.min[a].min(p);
                    sums.max[a] = sums.max[a].max(p);
                }
            }
            let mut table = table.lock().unwrap_or_else(|p| p.into_inner());
            for (l, sums) in local {
                let slot = table
                    .get_mut(l as usize - 1)
                    .ok_or_else(|| Error::Invalid {
                        operation: "regionprops".into(),
                        message: format!("label {l} is above the {labels} labels given"),
                    })?;
                slot.add(&sums);
            }
            Ok(())
        })?;
        let table = table.into_inner().unwrap_or_else(|p| p.into_inner());
        table
            .into_iter()
            .enumerate()
            .filter(|(_, s)| s.count > 0)
            .map(|(i, s)| {
                let stop = s.max.iter().map(|&m| m + 1).collect();
                Ok(RegionProps {
                    label: i as u32 + 1,
                    count: s.count,
                    bbox: Region::new(s.min.clone(), stop)?,
                    centroid: s
                        .coords
                        .iter()
                        .map(|&c| c as f64 / s.count as f64)
                        .collect(),
                })
            })
            .collect()
    }
}
