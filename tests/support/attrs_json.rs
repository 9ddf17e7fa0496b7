//! Our results' attributes as JSON, in the shape the attribute tests'
//! xarray scripts print theirs (`labelled_attrs.rs`,
//! `labelled_keep_attrs.rs`): a DataArray's name, attributes and its
//! coordinates' attributes; a Dataset's attributes, its variables' and its
//! coordinates'. Included with `#[path]`.

use ndchunk::{DataArray, Dataset};
use serde_json::{json, Value};

pub fn coords_json<'a>(
    coords: impl IntoIterator<Item = (&'a String, &'a ndchunk::Coord)>,
) -> Value {
    coords
        .into_iter()
        .map(|(k, c)| (k.clone(), Value::Object(c.attrs().clone())))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

pub fn array_json(r: &DataArray) -> Value {
    json!({"name": r.name(), "attrs": r.attrs(), "coords": coords_json(r.coords())})
}

pub fn dataset_json(r: &Dataset) -> Value {
    let vars: serde_json::Map<_, _> = r
        .data_vars()
        .map(|k| {
            (
                k.to_string(),
                Value::Object(r.get(k).unwrap().attrs().clone()),
            )
        })
        .collect();
    json!({"attrs": r.attrs(), "vars": vars, "coords": coords_json(r.coords())})
}

/// The same JSON of xarray's results, in Python: `array(r)` and
/// `dataset(r)`, prepended to the attribute tests' scripts
/// ([`with_json`]).
const PYTHON_JSON: &str = r#"
def array(r):
    return {"name": r.name, "attrs": dict(r.attrs),
            "coords": {k: dict(c.attrs) for k, c in r.coords.items()}}
def dataset(r):
    return {"attrs": dict(r.attrs), "vars": {k: dict(v.attrs) for k, v in r.data_vars.items()},
            "coords": {k: dict(c.attrs) for k, c in r.coords.items()}}
"#;

/// `script` with `array(r)` and `dataset(r)` defined first.
pub fn with_json(script: &str) -> String {
    format!("{PYTHON_JSON}{script}")
}
