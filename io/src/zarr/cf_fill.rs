//! The netCDF/CF `_FillValue` attribute in Zarr, as xarray encodes it, so
//! that a dataset converted from netCDF masks the same values when
//! `xarray.open_zarr` reads it:
//!
//! - Zarr v3: the attribute stays, a float one as the base64 of its
//!   little-endian `f64` bytes (xarray's `FillValueCoder`; JSON has no NaN),
//!   an integer one as a number;
//! - Zarr v2: xarray reads the array's `fill_value` as `_FillValue`, so the
//!   attribute is dropped (the fill value carries it); a converted array
//!   without one should get a `null` fill value, which masks nothing
//!   ([`ZarrArraySpec::v2_null_fill`](super::ZarrArraySpec)).
//!
//! [`ArrayMeta::attributes`](crate::ArrayMeta) always holds the plain
//! number: reading decodes what writing encoded.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{Map, Value};

use super::ZarrFormat;
use crate::dtype::DType;

/// The attribute's name.
pub const FILL_VALUE: &str = "_FillValue";

/// `attributes` as xarray would store them for an array of `dtype` in
/// `format` (see the module docs).
pub(crate) fn encode(
    attributes: &Map<String, Value>,
    dtype: DType,
    format: ZarrFormat,
) -> Map<String, Value> {
    let mut out = attributes.clone();
    match format {
        ZarrFormat::V2 => {
            out.remove(FILL_VALUE);
        }
        ZarrFormat::V3 if dtype.is_float() => {
            if let Some(value) = out.get(FILL_VALUE).and_then(crate::meta::attribute_number) {
                out.insert(
                    FILL_VALUE.into(),
                    Value::String(STANDARD.encode(value.to_le_bytes())),
                );
            }
        }
        ZarrFormat::V3 => {}
    }
    out
}

/// The plain `_FillValue` back from a v3 array's attributes (a base64
/// string for floats); anything else is left as it is.
pub(crate) fn decode(attributes: &mut Map<String, Value>, dtype: DType) {
    let Some(Value::String(text)) = attributes.get(FILL_VALUE) else {
        return;
    };
    if !dtype.is_float() {
        return;
    }
    let Some(bytes) = STANDARD
        .decode(text)
        .ok()
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
    else {
        return;
    };
    let value = f64::from_le_bytes(bytes);
    let plain = serde_json::Number::from_f64(value).map_or_else(
        || Value::String(non_finite_name(value).into()),
        Value::Number,
    );
    attributes.insert(FILL_VALUE.into(), plain);
}

fn non_finite_name(value: f64) -> &'static str {
    if value.is_nan() {
        "NaN"
    } else if value > 0.0 {
        "Infinity"
    } else {
        "-Infinity"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn attrs(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn float_fill_values_round_trip_through_xarrays_base64() {
        for value in [
            json!(-9.999999790214768e33),
            json!("NaN"),
            json!(1.5),
            json!("-Infinity"),
        ] {
            let plain = attrs(json!({"_FillValue": value, "units": "K"}));
            let stored = encode(&plain, DType::Float32, ZarrFormat::V3);
            assert!(stored[FILL_VALUE].is_string(), "{stored:?}");
            let mut back = stored.clone();
            decode(&mut back, DType::Float32);
            assert_eq!(back, plain);
        }
        // xarray's encoding of 1.5: struct.pack("<d", 1.5) in base64.
        let stored = encode(
            &attrs(json!({"_FillValue": 1.5})),
            DType::Float64,
            ZarrFormat::V3,
        );
        assert_eq!(stored[FILL_VALUE], "AAAAAAAA+D8=");
    }

    #[test]
    fn integer_fill_values_stay_numbers_and_v2_drops_the_attribute() {
        let plain = attrs(json!({"_FillValue": -32767}));
        assert_eq!(encode(&plain, DType::Int16, ZarrFormat::V3), plain);
        assert!(encode(&plain, DType::Int16, ZarrFormat::V2).is_empty());
    }
}
