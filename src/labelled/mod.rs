//! The labelled layer (Xarray's half of ndchunk). Today: CF time, the
//! calendars of model output and the `"<unit> since <date>"` encoding of
//! time coordinates, as cftime reads and writes them. `DataArray` and
//! `Dataset` are to come.

mod calendar;
mod cf_time;

pub use calendar::Calendar;
pub use cf_time::{time_encoding, CfDatetime, TimeUnit, TimeUnits};
