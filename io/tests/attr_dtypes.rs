//! The two facts xarray's CF decoding needs beyond the attribute values:
//! the element type of each numeric attribute (`ArrayMeta::attribute_dtypes`)
//! in files netCDF4-python writes and in the netCDF-3 fixtures, and Zarr
//! v2's `"fill_value": null` (`ArrayMeta::fill_value_null`) in stores
//! zarr-python writes.

#[path = "../../tests/support/mod.rs"]
mod support;

use std::collections::BTreeMap;

use ndchunk_io::hdf5::{list_datasets, list_datasets_with, Backend, Hdf5Store};
use ndchunk_io::netcdf3::{list_variables, Netcdf3Store};
use ndchunk_io::{ArrayMeta, ChunkStore, DType, Scalar, ZarrStore};

/// A netCDF-4 file as CF packs data: an int16 variable with a float32
/// `scale_factor`, a float64 `add_offset`, an int16 `_FillValue` and a
/// string `units`, over a coordinate variable (whose only attributes are
/// netCDF-4 bookkeeping, int32 `_Netcdf4Dimid` and `_Netcdf4Coordinates`
/// among them).
const WRITE_PACKED: &str = r#"
import sys
import numpy as np, netCDF4
nc = netCDF4.Dataset(sys.argv[1], "w")
nc.createDimension("x", 4)
x = nc.createVariable("x", "f8", ("x",))
x[:] = np.arange(4.0)
v = nc.createVariable("packed", "i2", ("x",), fill_value=np.int16(-999))
v.scale_factor = np.float32(0.01)
v.add_offset = np.float64(273.15)
v.units = "K"
v.set_auto_maskandscale(False)
v[:] = np.arange(4, dtype="i2")
nc.close()
"#;

fn packed_dtypes() -> BTreeMap<String, DType> {
    BTreeMap::from([
        ("scale_factor".to_string(), DType::Float32),
        ("add_offset".to_string(), DType::Float64),
        ("_FillValue".to_string(), DType::Int16),
    ])
}

fn check_packed(meta: &ArrayMeta, coordinate: &ArrayMeta) {
    assert_eq!(meta.attribute_dtypes, packed_dtypes());
    assert_eq!(meta.attributes["units"], "K");
    assert_eq!(meta.fill_value, Scalar::Int(-999));
    assert!(!meta.fill_value_null);
    // Bookkeeping (`_Netcdf4Coordinates`, `_Netcdf4Dimid`, `CLASS`, …) is
    // hidden from the types as from the attributes.
    assert!(
        coordinate.attribute_dtypes.is_empty(),
        "{:?}",
        coordinate.attribute_dtypes
    );
}

#[test]
fn netcdf4_attribute_types_are_as_netcdf4_python_wrote_them() {
    let Some(python) = support::python_peer() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("packed.nc");
    support::run_python(&python, WRITE_PACKED, &[&path]);

    let mut backends = vec![Backend::Pure];
    if Backend::LibHdf5.is_available() {
        backends.push(Backend::LibHdf5);
    }
    for backend in backends {
        let packed = Hdf5Store::open_with(&path, "packed", backend).unwrap();
        let x = Hdf5Store::open_with(&path, "x", backend).unwrap();
        check_packed(packed.meta(), x.meta());
        let listed: BTreeMap<String, ArrayMeta> = list_datasets_with(&path, backend)
            .unwrap()
            .into_iter()
            .collect();
        check_packed(&listed["packed"], &listed["x"]);
    }
    let listed = list_datasets(&path).unwrap();
    assert_eq!(listed.len(), 2);
}

#[test]
fn netcdf3_attribute_types_are_as_the_header_says() {
    let Some(file) = support::fixture("netcdf/coads_climatology.cdf") else {
        return;
    };
    let sst = Netcdf3Store::open(&file, "SST", None).unwrap();
    let meta = sst.meta();
    // `long_name`, `history` and `units` are text: not listed.
    assert_eq!(
        meta.attribute_dtypes,
        BTreeMap::from([
            ("missing_value".to_string(), DType::Float32),
            ("_FillValue".to_string(), DType::Float32),
        ])
    );
    assert!(meta.attributes.contains_key("units"));
    assert!(!meta.fill_value_null);
    let listed: BTreeMap<String, ArrayMeta> = list_variables(&file).unwrap().into_iter().collect();
    assert_eq!(listed["SST"].attribute_dtypes, meta.attribute_dtypes);
}

/// Zarr v2 arrays zarr-python writes with no fill value and with 0.
const WRITE_ZARR: &str = r#"
import sys
import zarr
for name, fill in [("null", None), ("zero", 0)]:
    a = zarr.create_array(f"{sys.argv[1]}/{name}.zarr", shape=(4,), chunks=(2,), dtype="i4",
                          zarr_format=2, fill_value=fill, attributes={"scale_factor": 0.5})
    a[:2] = 1
"#;

#[test]
fn zarr_v2_null_fill_value_is_told_apart_from_zero() {
    let Some(python) = support::python_peer() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    support::run_python(&python, WRITE_ZARR, &[dir.path()]);
    let null = ZarrStore::open(dir.path(), "null.zarr").unwrap();
    let zero = ZarrStore::open(dir.path(), "zero.zarr").unwrap();
    assert!(null.meta().fill_value_null);
    assert!(!zero.meta().fill_value_null);
    // Unwritten chunks read as the fill value either way.
    assert_eq!(null.meta().fill_value, Scalar::Int(0));
    assert_eq!(zero.meta().fill_value, Scalar::Int(0));
    // JSON attributes carry no type.
    for store in [&null, &zero] {
        assert_eq!(store.meta().attributes["scale_factor"], 0.5);
        assert!(store.meta().attribute_dtypes.is_empty());
    }
}

/// A store ndchunk creates says the types it writes (whatever the source
/// meta said), as reopening the file finds them.
#[test]
fn created_hdf5_stores_report_the_types_they_write() {
    let dir = tempfile::tempdir().unwrap();
    let mut backends = vec![Backend::Pure];
    if Backend::LibHdf5.is_available() {
        backends.push(Backend::LibHdf5);
    }
    for backend in backends {
        let path = dir.path().join(format!("{backend}.nc"));
        let mut meta = ArrayMeta::new(
            ndchunk_io::ChunkGrid::regular(&[4], &[2]).unwrap(),
            DType::Int16,
            Scalar::Int(-999),
        );
        meta.attributes = serde_json::json!({
            "scale_factor": 0.01, "count": 3, "units": "K", "_FillValue": -999
        })
        .as_object()
        .unwrap()
        .clone();
        // What a netCDF-3 source would have said: not what is written.
        meta.attribute_dtypes = BTreeMap::from([("scale_factor".to_string(), DType::Float32)]);
        meta.fill_value_null = true;
        let store = ndchunk_io::hdf5::Hdf5Store::create_with(
            &path,
            "packed",
            &meta,
            ndchunk_io::hdf5::Compression::NONE,
            backend,
        )
        .unwrap();
        store.flush().unwrap();
        let written = store.meta().clone();
        drop(store);
        let expected = BTreeMap::from([
            ("scale_factor".to_string(), DType::Float64),
            ("count".to_string(), DType::Int64),
            ("_FillValue".to_string(), DType::Int16),
        ]);
        assert_eq!(written.attribute_dtypes, expected, "{backend}");
        assert!(!written.fill_value_null);
        let reopened = Hdf5Store::open_with(&path, "packed", backend).unwrap();
        assert_eq!(reopened.meta().attribute_dtypes, expected, "{backend}");
    }
}
