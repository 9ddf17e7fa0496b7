//! Which axes a reduction runs over, as numpy takes them: axis numbers,
//! negative ones counting from the end, or every axis (`axis=None`).

/// The axes of a reduction: a list of axis numbers (negative ones count
/// from the end, as in numpy: `-1` is the last axis) or every axis
/// ([`Axes::All`], numpy's `axis=None`). Built from what a caller has at
/// hand: `&[0, 2]`, `[-1]`, `&vec`, a single axis `1` or `-1`.
///
/// ```
/// use ndchunk::{Array, Axes};
/// let a = Array::<f64>::arange(24, [12]).unwrap().reshape(&[2, 3, 4]);
/// let last = a.sum(&[-1], false).compute().unwrap();
/// assert_eq!(last.shape(), &[2, 3]);
/// assert_eq!(last[[0, 0]], 0.0 + 1.0 + 2.0 + 3.0);
/// let total = a.sum(Axes::All, false).compute().unwrap();
/// assert_eq!(total[[]], 276.0);
/// assert_eq!(a.max(-2, true).shape(), vec![2, 1, 4]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Axes {
    /// Every axis: the result is a scalar (or all-ones with `keepdims`).
    All,
    /// These axes, each at most once; negative ones count from the end.
    List(Vec<i64>),
}

impl Axes {
    /// The axis numbers of an `ndim`-d array, in the order given, or what
    /// is wrong (an axis out of range, in numpy's words).
    pub(crate) fn resolve(&self, ndim: usize) -> std::result::Result<Vec<usize>, String> {
        match self {
            Axes::All => Ok((0..ndim).collect()),
            Axes::List(list) => list
                .iter()
                .map(|&axis| {
                    let resolved = if axis < 0 { axis + ndim as i64 } else { axis };
                    if (0..ndim as i64).contains(&resolved) {
                        Ok(resolved as usize)
                    } else {
                        Err(format!(
                            "axis {axis} is out of bounds for an array of dimension {ndim}"
                        ))
                    }
                })
                .collect(),
        }
    }
}

impl Axes {
    /// The one axis of an operation along a single axis (`argmax`,
    /// `cumsum`), or what is wrong.
    pub(crate) fn resolve_one(&self, ndim: usize) -> std::result::Result<usize, String> {
        match self {
            Axes::List(list) if list.len() == 1 => Ok(self.resolve(ndim)?[0]),
            other => Err(format!("one axis expected, got {other:?}")),
        }
    }
}

macro_rules! axes_from {
    ($($t:ty),*) => {$(
        impl From<$t> for Axes {
            fn from(axis: $t) -> Axes {
                Axes::List(vec![axis as i64])
            }
        }
        impl From<&[$t]> for Axes {
            fn from(axes: &[$t]) -> Axes {
                Axes::List(axes.iter().map(|&a| a as i64).collect())
            }
        }
        impl<const N: usize> From<[$t; N]> for Axes {
            fn from(axes: [$t; N]) -> Axes {
                Axes::from(&axes[..])
            }
        }
        impl<const N: usize> From<&[$t; N]> for Axes {
            fn from(axes: &[$t; N]) -> Axes {
                Axes::from(&axes[..])
            }
        }
        impl From<Vec<$t>> for Axes {
            fn from(axes: Vec<$t>) -> Axes {
                Axes::from(&axes[..])
            }
        }
        impl From<&Vec<$t>> for Axes {
            fn from(axes: &Vec<$t>) -> Axes {
                Axes::from(&axes[..])
            }
        }
    )*};
}

axes_from!(usize, isize, i32, i64);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_axes_count_from_the_end() {
        assert_eq!(Axes::from(&[-1, 0]).resolve(3), Ok(vec![2, 0]));
        assert_eq!(Axes::All.resolve(2), Ok(vec![0, 1]));
        assert!(Axes::from(3usize)
            .resolve(3)
            .unwrap_err()
            .contains("axis 3"));
        assert!(Axes::from(-4).resolve(3).unwrap_err().contains("axis -4"));
    }
}
