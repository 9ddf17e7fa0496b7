//! Attributes through operations, as xarray's current `keep_attrs`
//! default (checked against xarray 2026.9): an operation on one array or
//! dataset keeps its attributes (and drops its encoding, which describes
//! how stored values were packed, not the computed ones); an operation on
//! two combines theirs by `"drop_conflicts"` ([`drop_conflicts`]).
//! [`KeepAttrs`] turns that off in a scope, as
//! `xr.set_options(keep_attrs=False)`: computed results then have none.

use std::cell::Cell;
use std::marker::PhantomData;

use serde_json::Value;

use super::Attrs;

thread_local! {
    /// Whether computed results keep attributes on this thread.
    static KEEP: Cell<bool> = const { Cell::new(true) };
}

/// xarray's `keep_attrs` option for the scope of the value it returns, as
/// `with xr.set_options(keep_attrs=False):`. While a `KeepAttrs::set(false)`
/// is alive, results computed on this thread (reductions, arithmetic and
/// comparisons, groupby, resample, rolling, coarsen, weighted and quantile
/// results, of arrays and datasets) have no attributes, as xarray's;
/// selections, `transpose`, `rename`, `where_` and coordinates keep theirs
/// (xarray keeps those whatever the option says). Dropping it puts back
/// the setting it replaced.
///
/// Attributes are decided when a lazy result is built (not when it is
/// computed), so the scope is exactly the calls made inside it. It is
/// one setting per thread, and the guard cannot move to another thread.
/// Bind it to a name: `let _ = KeepAttrs::set(false)` drops it at once.
///
/// ```
/// use ndchunk::{Array, DataArray, KeepAttrs};
/// let attrs = serde_json::json!({"units": "K"}).as_object().unwrap().clone();
/// let t = DataArray::new(Array::<f64>::ones(&[4], [2]).unwrap(), &["time"]).unwrap().with_attrs(attrs);
/// {
///     let _keep = KeepAttrs::set(false);
///     assert!(t.mean("time").unwrap().attrs().is_empty());
///     assert!(t.add(&t).unwrap().attrs().is_empty());
///     assert_eq!(t.isel("time", 0).unwrap().attrs()["units"], "K");
/// }
/// assert_eq!(t.mean("time").unwrap().attrs()["units"], "K");
/// ```
#[must_use = "the setting lasts while this value lives"]
#[derive(Debug)]
pub struct KeepAttrs {
    previous: bool,
    /// Thread-local: not `Send`.
    _thread: PhantomData<*const ()>,
}

impl KeepAttrs {
    /// Computed results keep their attributes (`true`, xarray's default)
    /// or have none (`false`) until the returned value is dropped.
    pub fn set(keep: bool) -> KeepAttrs {
        KeepAttrs {
            previous: KEEP.with(|k| k.replace(keep)),
            _thread: PhantomData,
        }
    }

    /// Whether computed results on this thread keep their attributes now.
    ///
    /// ```
    /// use ndchunk::KeepAttrs;
    /// assert!(KeepAttrs::current());
    /// let off = KeepAttrs::set(false);
    /// assert!(!KeepAttrs::current());
    /// drop(off);
    /// assert!(KeepAttrs::current());
    /// ```
    pub fn current() -> bool {
        KEEP.with(Cell::get)
    }
}

impl Drop for KeepAttrs {
    fn drop(&mut self) {
        KEEP.with(|k| k.set(self.previous));
    }
}

/// The attributes a result computed from something with `attrs` has:
/// those, or none under `KeepAttrs::set(false)`.
pub(crate) fn kept(attrs: &Attrs) -> Attrs {
    if KeepAttrs::current() {
        attrs.clone()
    } else {
        Attrs::new()
    }
}

/// xarray's `combine_attrs="drop_conflicts"`: the union of `a` and `b`
/// (`a`'s order first), a key whose values differ dropped.
///
/// `{units: K, a: 1}` and `{units: m, b: 2}` give `{a: 1, b: 2}`;
/// `{units: K, a: 1}` and `{units: K}` give `{units: K, a: 1}`.
/// None under `KeepAttrs::set(false)`.
pub(crate) fn drop_conflicts(a: &Attrs, b: &Attrs) -> Attrs {
    let mut out = Attrs::new();
    if !KeepAttrs::current() {
        return out;
    }
    for (key, value) in a {
        match b.get(key) {
            Some(other) if !equivalent(value, other) => {}
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    for (key, value) in b {
        if !a.contains_key(key) {
            out.insert(key.clone(), value.clone());
        }
    }
    out
}

/// Whether two attribute values are the same as Python compares them:
/// numbers by value (`1` and `1.0` are equal), lists element by element.
fn equivalent(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
            x.as_f64() == y.as_f64()
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| equivalent(x, y))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(v: Value) -> Attrs {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn labelled_drop_conflicts_as_xarray() {
        let a = attrs(serde_json::json!({"units": "K", "a": 1}));
        let b = attrs(serde_json::json!({"units": "m", "b": 2}));
        assert_eq!(
            drop_conflicts(&a, &b),
            attrs(serde_json::json!({"a": 1, "b": 2}))
        );
        let k = attrs(serde_json::json!({"units": "K"}));
        assert_eq!(drop_conflicts(&a, &k), a);
        assert_eq!(drop_conflicts(&a, &Attrs::new()), a);
        // Python's 1 == 1.0, and lists compare element by element.
        let one = attrs(serde_json::json!({"n": 1, "r": [0, 400]}));
        let one_f = attrs(serde_json::json!({"n": 1.0, "r": [0.0, 400.0]}));
        assert_eq!(drop_conflicts(&one, &one_f), one);
        let two = attrs(serde_json::json!({"n": 1.5}));
        assert!(drop_conflicts(&one, &two).get("n").is_none());
    }
}
