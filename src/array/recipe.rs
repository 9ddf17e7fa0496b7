//! How an array was built, as a plan file can say it: each array made by a
//! serialisable operation carries a [`Recipe`] (the operation's name, its
//! arguments as JSON, the recipes of the arrays it was given), set by the
//! operation's public constructor. Replaying the recipes through the same
//! constructors rebuilds the same graph in another process
//! (`array/plan_file.rs`).
//!
//! The engine's own closures are recorded by what they compute: the
//! labelled layer's element-by-element work as named kernels
//! (`kernel.rs`), its block operations (`rolling_extremes`, `quantile`,
//! `group_quantiles`, the grouped reduction `grouped`) by their
//! parameters, its small in-memory arrays by their values (`values`).
//! Arrays made from a user's Rust closure (`map`, `map_blocks`,
//! `blockwise`, `map_overlap`, …), from data in this process's memory
//! (`from_ndarray`, an in-memory store, a `persist`ed result) or by an
//! operation that keeps no recipe are *local*: a plan reading them runs
//! only in this process, and saving it is refused, naming the first such
//! operation.

use std::sync::Arc;

use ndchunk_io::{DType, Element};
use serde_json::{json, Value};

use super::Array;
use crate::error::{Error, Result};
use crate::ops::reduce::{Axes, ReduceOptions};
use crate::ops::Operand;

/// Where an array comes from, for plan files.
#[derive(Clone)]
pub(crate) enum Origin {
    /// A serialisable operation over arrays with origins of their own.
    Recipe(Arc<Recipe>),
    /// Only this process can make it, and why.
    Local(Arc<str>),
    /// Made by an operation that keeps no recipe (internal, or not yet
    /// serialisable): local, named by its node.
    Unrecorded,
}

impl std::fmt::Debug for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Recipe(r) => write!(f, "Recipe({})", r.op),
            Origin::Local(why) => write!(f, "Local({why})"),
            Origin::Unrecorded => write!(f, "Unrecorded"),
        }
    }
}

/// A recipe's arguments: as JSON, or made into JSON only when a plan is
/// saved (an argument that may be large, as `take`'s indices, is not
/// copied for every array built).
pub(crate) enum Args {
    /// Already JSON.
    Json(Value),
    /// JSON when asked.
    Lazy(Box<dyn Fn() -> Value + Send + Sync>),
}

impl Args {
    /// The arguments as JSON.
    pub(crate) fn to_value(&self) -> Value {
        match self {
            Args::Json(value) => value.clone(),
            Args::Lazy(make) => make(),
        }
    }
}

/// One serialisable operation: what a plan file holds per array.
pub(crate) struct Recipe {
    /// The operation (`add`, `from_store`, `mean`, …).
    pub(crate) op: &'static str,
    /// The result's element type.
    pub(crate) dtype: DType,
    /// Its arguments other than arrays.
    pub(crate) args: Args,
    /// The arrays it was given, in order.
    pub(crate) inputs: Vec<Origin>,
    /// The store a source reads, to check that the one a plan file opens
    /// again by path is the same array.
    pub(crate) store: Option<Arc<dyn ndchunk_io::ChunkStore>>,
}

impl<T: Element> Array<T> {
    /// How this array was built, an array without a recipe named by its
    /// operation.
    pub(crate) fn origin(&self) -> Origin {
        match &self.origin {
            Origin::Unrecorded => Origin::Local(
                format!(
                    "`{}` is not an operation a plan file can hold: this plan can only run in \
                     this process",
                    self.node.name()
                )
                .into(),
            ),
            other => other.clone(),
        }
    }

    /// This array, built by `op` with `args` from the arrays of `inputs`.
    pub(crate) fn recorded(self, op: &'static str, args: Value, inputs: Vec<Origin>) -> Self {
        self.recorded_with(op, Args::Json(args), inputs)
    }

    /// [`recorded`](Self::recorded) with arguments made when a plan is
    /// saved.
    pub(crate) fn recorded_with(
        mut self,
        op: &'static str,
        args: Args,
        inputs: Vec<Origin>,
    ) -> Self {
        self.origin = Origin::Recipe(Arc::new(Recipe {
            op,
            dtype: T::DTYPE,
            args,
            inputs,
            store: None,
        }));
        self
    }

    /// This array, read from `store` as it is (`from_store`).
    pub(crate) fn recorded_source(mut self, store: Arc<dyn ndchunk_io::ChunkStore>) -> Self {
        self.origin = Origin::Recipe(Arc::new(Recipe {
            op: "from_store",
            dtype: T::DTYPE,
            args: Args::Json(json!({ "location": store.location() })),
            inputs: Vec::new(),
            store: Some(store),
        }));
        self
    }

    /// This array, which only this process can make, for the reason `why`.
    pub(crate) fn local_only(mut self, why: impl Into<String>) -> Self {
        self.origin = Origin::Local(why.into().into());
        self
    }

    /// This array made by a Rust closure in operation `op`.
    pub(crate) fn made_by_closure(self, op: &str) -> Self {
        let why = format!("`{op}` runs a Rust closure: this plan can only run in this process");
        self.local_only(why)
    }
}

/// A scalar as a plan file holds it: its dtype, its bits (little-endian
/// hex, so NaNs and signed zeros come back exactly) and, for people, its
/// value.
pub(crate) fn scalar<T: Element>(value: T) -> Value {
    let bits = values_hex(&[value]);
    json!({ "dtype": T::DTYPE.name(), "bits": bits, "value": format!("{value:?}") })
}

/// The scalar [`scalar`] wrote, which must be a `T`.
pub(crate) fn scalar_from<T: Element>(value: &Value) -> Result<T> {
    let bad = || file_error(format!("not a {} scalar: {value}", T::DTYPE.name()));
    if value["dtype"].as_str() != Some(T::DTYPE.name()) {
        return Err(bad());
    }
    let hex = value["bits"].as_str().ok_or_else(bad)?;
    values_from::<T>(hex, 1)
        .map_err(|_| bad())?
        .pop()
        .ok_or_else(bad)
}

/// Values as a plan file holds them: each element's bytes little-endian,
/// in hex, one string.
pub(crate) fn values_hex<T: Element>(values: &[T]) -> String {
    let mut bytes = T::to_ne_bytes(values);
    if cfg!(target_endian = "big") {
        for element in bytes.chunks_mut(T::DTYPE.size()) {
            element.reverse();
        }
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The `n` values [`values_hex`] wrote, which must be `T`s.
pub(crate) fn values_from<T: Element>(hex: &str, n: usize) -> Result<Vec<T>> {
    let bad = || file_error(format!("not {n} {} values", T::DTYPE.name()));
    if hex.len() != 2 * n * T::DTYPE.size() || !hex.is_ascii() {
        return Err(bad());
    }
    let mut bytes = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16))
        .collect::<std::result::Result<Vec<u8>, _>>()
        .map_err(|_| bad())?;
    if cfg!(target_endian = "big") {
        for element in bytes.chunks_mut(T::DTYPE.size()) {
            element.reverse();
        }
    }
    if T::DTYPE == DType::Bool && bytes.iter().any(|&b| b > 1) {
        return Err(bad());
    }
    Ok(T::from_ne_bytes(&bytes))
}

/// An error about a plan file's contents.
pub(crate) fn file_error(message: String) -> Error {
    Error::Invalid {
        operation: "plan file".into(),
        message,
    }
}

/// The other side of a binary operation: `{"scalar": …}`, or
/// `{"input": k}` with its origin pushed onto `inputs`.
pub(crate) fn operand<T: Element>(other: &Operand<T>, inputs: &mut Vec<Origin>) -> Value {
    match other {
        Operand::Scalar(s) => json!({ "scalar": scalar(*s) }),
        Operand::Array(a) => {
            inputs.push(a.origin());
            json!({ "input": inputs.len() - 1 })
        }
    }
}

/// Axes as a plan file holds them: `null` for every axis.
pub(crate) fn axes_value(axes: &Axes) -> Value {
    match axes {
        Axes::All => Value::Null,
        Axes::List(list) => json!(list),
    }
}

/// The axes [`axes_value`] wrote.
pub(crate) fn axes_from(value: &Value) -> Result<Axes> {
    if value.is_null() {
        return Ok(Axes::All);
    }
    serde_json::from_value::<Vec<i64>>(value.clone())
        .map(Axes::List)
        .map_err(|e| file_error(format!("bad axes {value}: {e}")))
}

/// A reduction's arguments.
pub(crate) fn reduce_args(axes: &Axes, options: &ReduceOptions) -> Value {
    json!({
        "axes": axes_value(axes),
        "keepdims": options.keepdims,
        "split_every": options.split_every,
    })
}
