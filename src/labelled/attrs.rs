//! Attributes through operations, as xarray's current `keep_attrs`
//! default (checked against xarray 2026.9): an operation on one array or
//! dataset keeps its attributes (and drops its encoding, which describes
//! how stored values were packed, not the computed ones); an operation on
//! two combines theirs by `"drop_conflicts"` ([`drop_conflicts`]).

use serde_json::Value;

use super::Attrs;

/// xarray's `combine_attrs="drop_conflicts"`: the union of `a` and `b`
/// (`a`'s order first), a key whose values differ dropped.
///
/// `{units: K, a: 1}` and `{units: m, b: 2}` give `{a: 1, b: 2}`;
/// `{units: K, a: 1}` and `{units: K}` give `{units: K, a: 1}`.
pub(crate) fn drop_conflicts(a: &Attrs, b: &Attrs) -> Attrs {
    let mut out = Attrs::new();
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
