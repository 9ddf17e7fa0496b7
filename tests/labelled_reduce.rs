//! Reductions by dimension name against xarray as the oracle (the table
//! of `support/xarray_table.rs`): means, sums, standard deviations,
//! variances, minima and maxima over one, several or all dimensions, NaNs
//! skipped or not, on COADS's masked sea-surface temperature and the
//! stores xarray writes; result dtypes included.

mod support;
#[path = "support/xarray_table.rs"]
mod xarray_table;

use ndchunk::{Dims, Reduction, Sel};
use xarray_table::{check_table, Case};

/// Reductions by dimension name. Floats from sums, means, variances and
/// standard deviations are compared within [`REDUCE_TOLERANCE`]; minima
/// and maxima exactly.
fn reduction_cases() -> Vec<Case> {
    let mut cases = cases! {
        Coads "SST" "da.mean('TIME')" => |a| a.mean("TIME");
        Coads "SST" "da.mean(['COADSY', 'COADSX'])" => |a| a.mean(["COADSY", "COADSX"]);
        Coads "SST" "da.mean()" => |a| a.mean(Dims::All);
        Coads "SST" "da.sum('TIME')" => |a| a.sum("TIME");
        Coads "SST" "da.sum(['COADSY', 'COADSX'])" => |a| a.sum(["COADSY", "COADSX"]);
        Coads "SST" "da.sum()" => |a| a.sum(Dims::All);
        Coads "SST" "da.std('TIME')" => |a| a.std("TIME", 0);
        Coads "SST" "da.std('TIME', ddof=1)" => |a| a.std("TIME", 1);
        Coads "SST" "da.std(['COADSY', 'COADSX'])" => |a| a.std(["COADSY", "COADSX"], 0);
        Coads "SST" "da.std(['COADSY', 'COADSX'], ddof=1)" => |a| a.std(["COADSY", "COADSX"], 1);
        Coads "SST" "da.std()" => |a| a.std(Dims::All, 0);
        Coads "SST" "da.std(ddof=1)" => |a| a.std(Dims::All, 1);
        Coads "SST" "da.var('TIME', ddof=1)" => |a| a.var("TIME", 1);
        Coads "SST" "da.min('TIME')" => |a| a.min("TIME");
        Coads "SST" "da.min(['COADSY', 'COADSX'])" => |a| a.min(["COADSY", "COADSX"]);
        Coads "SST" "da.min()" => |a| a.min(Dims::All);
        Coads "SST" "da.max('TIME')" => |a| a.max("TIME");
        Coads "SST" "da.max(['COADSY', 'COADSX'])" => |a| a.max(["COADSY", "COADSX"]);
        Coads "SST" "da.max()" => |a| a.max(Dims::All);
        Coads "SST" "da.mean('TIME', skipna=False)" => |a| a.reduce(Reduction::Mean, "TIME", Some(false));
        Coads "SST" "da.max(['COADSY', 'COADSX'], skipna=False)" => |a| a.reduce(Reduction::Max, ["COADSY", "COADSX"], Some(false));
        Coads "SST" "da.sum('TIME', skipna=True)" => |a| a.reduce(Reduction::Sum, "TIME", Some(true));
        Coads "SST" "da.sel(COADSY=slice(-20, 20)).mean(['TIME', 'COADSX'])" => |a| a
            .sel("COADSY", Sel::range(-20i64, 20i64))?
            .mean(["TIME", "COADSX"]);
        Air "air" "da.mean('time')" => |a| a.mean("time");
        Air "air" "da.std(['lat', 'lon'], ddof=1)" => |a| a.std(["lat", "lon"], 1);
        Air "air" "da.max()" => |a| a.max(Dims::All);
        NoLeap "t" "da.mean('time')" => |a| a.mean("time");
        NoLeap "t" "da.min(['level', 'lat'])" => |a| a.min(["level", "lat"]);
        // Integers: the result dtypes numpy gives.
        NoLeap "count" "da.mean('time')" => |a| a.mean("time");
        NoLeap "count" "da.sum('time')" => |a| a.sum("time");
        NoLeap "count" "da.sum()" => |a| a.sum(Dims::All);
        NoLeap "count" "da.max(['level', 'lat'])" => |a| a.max(["level", "lat"]);
        NoLeap "count" "da.min()" => |a| a.min(Dims::All);
        NoLeap "count" "da.std('time', ddof=1)" => |a| a.std("time", 1);
        // An unknown dimension: an error on both sides.
        Coads "SST" "da.mean('depth')" => |a| a.mean("depth");
        Coads "SST" "da.mean(['TIME', 'depth'])" => |a| a.mean(["TIME", "depth"]);
    };
    for case in &mut cases {
        let exact = case.py.contains(".min(") || case.py.contains(".max(");
        if !exact {
            case.tolerance = Some(REDUCE_TOLERANCE);
        }
    }
    cases
}

/// Sums, means and standard deviations of float32 are accumulated in a
/// different order by numpy (pairwise, in float32) and ndchunk (per chunk,
/// then combined), so the last bits differ: compared within 1e-6
/// relative. Minima and maxima are compared exactly.
const REDUCE_TOLERANCE: f64 = 1e-6;

#[test]
fn reductions_by_dimension_name_agree_with_xarray() {
    check_table(reduction_cases(), &[]);
}
