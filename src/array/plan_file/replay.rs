//! Replaying a plan file's recipes: each step through the public
//! constructor its operation was recorded by (see `recipe.rs`), so the
//! expression comes back as the same graph in another process.

use super::*;

/// Runs `$body` with `$T` bound to the numeric type of `$dtype`; for
/// `bool`, returns the error `$else(dtype)`.
macro_rules! numeric {
    ($dtype:expr, $T:ident => $body:expr, $else:expr) => {
        match $dtype {
            DType::Int8 => {
                type $T = i8;
                $body
            }
            DType::Int16 => {
                type $T = i16;
                $body
            }
            DType::Int32 => {
                type $T = i32;
                $body
            }
            DType::Int64 => {
                type $T = i64;
                $body
            }
            DType::UInt8 => {
                type $T = u8;
                $body
            }
            DType::UInt16 => {
                type $T = u16;
                $body
            }
            DType::UInt32 => {
                type $T = u32;
                $body
            }
            DType::UInt64 => {
                type $T = u64;
                $body
            }
            DType::Float32 => {
                type $T = f32;
                $body
            }
            DType::Float64 => {
                type $T = f64;
                $body
            }
            other => return Err($else(other)),
        }
    };
}

/// [`numeric!`] for the float types.
macro_rules! float {
    ($dtype:expr, $T:ident => $body:expr, $else:expr) => {
        match $dtype {
            DType::Float32 => {
                type $T = f32;
                $body
            }
            DType::Float64 => {
                type $T = f64;
                $body
            }
            other => return Err($else(other)),
        }
    };
}

/// `steps[k]`'s array from its inputs' arrays.
pub(super) fn replay(step: &Step, inputs: &[DynArray], body: &FileBody) -> Result<DynArray> {
    let args = &step.args;
    let op = step.op.as_str();
    let first = inputs.first();
    let input_dtype = first.map_or(step.dtype, DynArray::dtype);
    let grid = || -> Result<Chunks> { Ok(Chunks::Grid(field(args, "grid")?)) };
    let unsupported = |dtype: DType| file_error(format!("`{op}` of {dtype} is not possible"));
    Ok(match op {
        "from_store" => {
            let k: usize = field(args, "source")?;
            let source = body
                .sources
                .get(k)
                .ok_or_else(|| file_error(format!("no source {k}")))?;
            let store = open_record(source)?;
            if store.meta().grid != source.grid || store.meta().dtype != source.dtype {
                return Err(file_error(format!(
                    "the source {} is no longer the array the plan was made for",
                    store.location()
                )));
            }
            DynArray::from_store(store)?
        }
        "full" => {
            let shape: Vec<u64> = field(args, "shape")?;
            crate::with_dtype!(step.dtype, T => {
                Array::<T>::full(&shape, scalar_from(&args["value"])?, grid()?)?.into()
            })
        }
        "arange" => {
            let n: u64 = field(args, "n")?;
            numeric!(step.dtype, T => Array::<T>::arange(n, grid()?)?.into(), unsupported)
        }
        "linspace" => {
            let (start, stop) = (scalar_from(&args["start"])?, scalar_from(&args["stop"])?);
            let (num, endpoint): (u64, bool) = (field(args, "num")?, field(args, "endpoint")?);
            float!(step.dtype, T => {
                Array::<T>::linspace(start, stop, num, endpoint, grid()?)?.into()
            }, unsupported)
        }
        "random_uniform" | "random_normal" => {
            let (seed, shape): (u64, Vec<u64>) = (field(args, "seed")?, field(args, "shape")?);
            float!(step.dtype, T => if op == "random_uniform" {
                Array::<T>::random_uniform(seed, &shape, grid()?)?.into()
            } else {
                let (mean, std) = (scalar_from(&args["mean"])?, scalar_from(&args["std"])?);
                Array::<T>::random_normal(seed, mean, std, &shape, grid()?)?.into()
            }, unsupported)
        }
        "add" | "sub" | "mul" | "div" => numeric!(input_dtype, T => {
            let (a, b) = (typed::<T>(inputs, 0)?, operand::<T>(&args["other"], inputs)?);
            match op {
                "add" => (&a + b).into(),
                "sub" => (&a - b).into(),
                "mul" => (&a * b).into(),
                _ => (&a / b).into(),
            }
        }, unsupported),
        "greater" | "greater_equal" | "less" | "less_equal" | "equal" | "not_equal" => {
            crate::with_dtype!(input_dtype, T => {
                let (a, b) = (typed::<T>(inputs, 0)?, operand::<T>(&args["other"], inputs)?);
                match op {
                    "greater" => a.greater(b),
                    "greater_equal" => a.greater_equal(b),
                    "less" => a.less(b),
                    "less_equal" => a.less_equal(b),
                    "equal" => a.equal(b),
                    _ => a.not_equal(b),
                }
                .into()
            })
        }
        "logical_and" | "logical_or" | "logical_xor" => {
            let (a, b) = (
                typed::<bool>(inputs, 0)?,
                operand::<bool>(&args["other"], inputs)?,
            );
            match op {
                "logical_and" => a.logical_and(b),
                "logical_or" => a.logical_or(b),
                _ => a.logical_xor(b),
            }
            .into()
        }
        "logical_not" => typed::<bool>(inputs, 0)?.logical_not().into(),
        "abs" => numeric!(input_dtype, T => typed::<T>(inputs, 0)?.abs().into(), unsupported),
        "sqrt" | "exp" | "expm1" | "log" | "log10" | "log2" | "log1p" | "sin" | "cos" | "tan"
        | "arcsin" | "arccos" | "arctan" | "sinh" | "cosh" | "tanh" | "deg2rad" | "rad2deg" => {
            float!(input_dtype, T => float_function(&typed::<T>(inputs, 0)?, op)?.into(), unsupported)
        }
        "powf" => float!(input_dtype, T => {
            typed::<T>(inputs, 0)?.powf(scalar_from(&args["p"])?).into()
        }, unsupported),
        "isnan" | "isfinite" | "isinf" => float!(input_dtype, T => {
            let a = typed::<T>(inputs, 0)?;
            match op {
                "isnan" => a.isnan(),
                "isfinite" => a.isfinite(),
                _ => a.isinf(),
            }
            .into()
        }, unsupported),
        "clip" => crate::with_dtype!(input_dtype, T => {
            let (min, max) = (scalar_from(&args["min"])?, scalar_from(&args["max"])?);
            typed::<T>(inputs, 0)?.clip(min, max).into()
        }),
        "astype" => astype(input(inputs, 0)?, step.dtype)?,
        "where" => crate::with_dtype!(step.dtype, T => {
            let condition = typed::<bool>(inputs, 0)?;
            let (x, y) = (operand::<T>(&args["x"], inputs)?, operand::<T>(&args["y"], inputs)?);
            crate::ops::where_(&condition, x, y).into()
        }),
        "sum" | "prod" | "nansum" | "nanprod" | "min" | "max" | "nanmin" | "nanmax" | "argmin"
        | "argmax" | "nanargmin" | "nanargmax" | "mean" | "nanmean" | "var" | "nanvar" | "std"
        | "nanstd" => {
            let axes = axes_from(&args["axes"])?;
            let options = ReduceOptions::default()
                .keepdims(field(args, "keepdims")?)
                .split_every(field(args, "split_every")?);
            let ddof = || field::<u64>(args, "ddof");
            numeric!(input_dtype, T => {
                let a = typed::<T>(inputs, 0)?;
                match op {
                    "sum" => a.sum_with(axes, &options).into(),
                    "prod" => a.prod_with(axes, &options).into(),
                    "nansum" => a.nansum_with(axes, &options).into(),
                    "nanprod" => a.nanprod_with(axes, &options).into(),
                    "min" => a.min_with(axes, &options).into(),
                    "max" => a.max_with(axes, &options).into(),
                    "nanmin" => a.nanmin_with(axes, &options).into(),
                    "nanmax" => a.nanmax_with(axes, &options).into(),
                    "argmin" => a.argmin_with(axes, &options).into(),
                    "argmax" => a.argmax_with(axes, &options).into(),
                    "nanargmin" => a.nanargmin_with(axes, &options).into(),
                    "nanargmax" => a.nanargmax_with(axes, &options).into(),
                    "mean" => a.mean_with(axes, &options).into(),
                    "nanmean" => a.nanmean_with(axes, &options).into(),
                    "var" => a.var_with(axes, ddof()?, &options).into(),
                    "nanvar" => a.nanvar_with(axes, ddof()?, &options).into(),
                    "std" => a.std_with(axes, ddof()?, &options).into(),
                    _ => a.nanstd_with(axes, ddof()?, &options).into(),
                }
            }, unsupported)
        }
        "any" | "all" | "count_nonzero" => {
            let axes = axes_from(&args["axes"])?;
            let options = ReduceOptions::default()
                .keepdims(field(args, "keepdims")?)
                .split_every(field(args, "split_every")?);
            crate::with_dtype!(input_dtype, T => {
                let a = typed::<T>(inputs, 0)?;
                match op {
                    "any" => a.any_with(axes, &options).into(),
                    "all" => a.all_with(axes, &options).into(),
                    _ => a.count_nonzero_with(axes, &options).into(),
                }
            })
        }
        "cumsum" | "cumprod" | "nancumsum" | "nancumprod" => {
            let axis = axes_from(&args["axis"])?;
            numeric!(input_dtype, T => {
                let a = typed::<T>(inputs, 0)?;
                match op {
                    "cumsum" => a.cumsum(axis),
                    "cumprod" => a.cumprod(axis),
                    "nancumsum" => a.nancumsum(axis),
                    _ => a.nancumprod(axis),
                }
                .into()
            }, unsupported)
        }
        "rechunk" => input(inputs, 0)?.rechunk(Chunks::Grid(field(args, "grid")?)),
        "slice" => {
            let indices = args["indices"]
                .as_array()
                .ok_or_else(|| file_error("slice without indices".into()))?
                .iter()
                .map(|v| index_from(v).ok_or_else(|| file_error(format!("bad index {v}"))))
                .collect::<Result<Vec<Index>>>()?;
            input(inputs, 0)?.slice(&indices)
        }
        "take" => {
            let (indices, axis): (Vec<i64>, usize) =
                (field(args, "indices")?, field(args, "axis")?);
            input(inputs, 0)?.take(&indices, axis)
        }
        "transpose" => input(inputs, 0)?.transpose(&field::<Vec<usize>>(args, "axes")?),
        "expand_dims" => input(inputs, 0)?.expand_dims(field(args, "axis")?),
        "squeeze" => {
            let axes: Option<Vec<usize>> = field(args, "axes")?;
            crate::with_dtype!(input_dtype, T => {
                typed::<T>(inputs, 0)?.squeeze(axes.as_deref()).into()
            })
        }
        "broadcast_to" => {
            let shape: Vec<u64> = field(args, "shape")?;
            crate::with_dtype!(input_dtype, T => typed::<T>(inputs, 0)?.broadcast_to(&shape).into())
        }
        "reshape" => {
            let shape: Vec<i64> = field(args, "shape")?;
            crate::with_dtype!(input_dtype, T => typed::<T>(inputs, 0)?.reshape(&shape).into())
        }
        "pad" => {
            let widths: Vec<(u64, u64)> = field(args, "widths")?;
            crate::with_dtype!(input_dtype, T => {
                let mode = PadMode::<T>::from_value(&args["mode"])?;
                typed::<T>(inputs, 0)?.pad(&widths, mode).into()
            })
        }
        "concatenate" | "stack" => {
            let axis: usize = field(args, "axis")?;
            crate::with_dtype!(step.dtype, T => {
                let arrays = (0..inputs.len())
                    .map(|k| typed::<T>(inputs, k))
                    .collect::<Result<Vec<_>>>()?;
                if op == "stack" {
                    crate::ops::stack(&arrays, axis).into()
                } else {
                    crate::ops::concatenate(&arrays, axis).into()
                }
            })
        }
        "gaussian_filter"
        | "gaussian_gradient_magnitude"
        | "uniform_filter"
        | "minimum_filter"
        | "maximum_filter"
        | "median_filter"
        | "sobel"
        | "laplace" => {
            let filter = crate::ops::FilterOptions::from_value(&args["options"])?;
            numeric!(input_dtype, T => {
                let a = typed::<T>(inputs, 0)?;
                match op {
                    "gaussian_filter" | "gaussian_gradient_magnitude" => {
                        let sigma = args["sigma"]
                            .as_array()
                            .ok_or_else(|| file_error("no sigma".into()))?
                            .iter()
                            .map(scalar_from::<f64>)
                            .collect::<Result<Vec<f64>>>()?;
                        if op == "gaussian_filter" {
                            a.gaussian_filter(&sigma, &filter).into()
                        } else {
                            a.gaussian_gradient_magnitude(&sigma, &filter).into()
                        }
                    }
                    "sobel" => a.sobel(field(args, "axis")?, &filter).into(),
                    "laplace" => a.laplace(&filter).into(),
                    _ => {
                        let size: Vec<u64> = field(args, "size")?;
                        match op {
                            "uniform_filter" => a.uniform_filter(&size, &filter).into(),
                            "minimum_filter" => a.minimum_filter(&size, &filter).into(),
                            "maximum_filter" => a.maximum_filter(&size, &filter).into(),
                            _ => a.median_filter(&size, &filter).into(),
                        }
                    }
                }
            }, unsupported)
        }
        "coarsen" => {
            use crate::labelled::CoarsenBoundary;
            use crate::ops::Downsample;
            let factors: Vec<u64> = field(args, "factors")?;
            let how = match args["how"].as_str() {
                Some("Mean") => Downsample::Mean,
                Some("Max") => Downsample::Max,
                Some("Min") => Downsample::Min,
                Some("Mode") => Downsample::Mode,
                _ => {
                    return Err(file_error(format!(
                        "unknown coarsen method {}",
                        args["how"]
                    )))
                }
            };
            let boundary = match args["boundary"].as_str() {
                Some("Exact") => CoarsenBoundary::Exact,
                Some("Trim") => CoarsenBoundary::Trim,
                Some("Pad") => CoarsenBoundary::Pad,
                _ => {
                    return Err(file_error(format!(
                        "unknown coarsen boundary {}",
                        args["boundary"]
                    )))
                }
            };
            numeric!(input_dtype, T => {
                typed::<T>(inputs, 0)?.coarsen(&factors, how, boundary).into()
            }, unsupported)
        }
        "kernel" => {
            let kernel: crate::array::kernel::Kernel = serde_json::from_value(args.clone())
                .map_err(|e| file_error(format!("bad kernel {args}: {e}")))?;
            kernel.apply(&inputs.iter().collect::<Vec<_>>())
        }
        "values" => {
            let shape: Vec<u64> = field(args, "shape")?;
            let dims: Vec<usize> = shape.iter().map(|&n| n as usize).collect();
            let n = dims.iter().product();
            let hex = args["bytes"]
                .as_str()
                .ok_or_else(|| file_error("values without their bytes".into()))?;
            crate::with_dtype!(step.dtype, T => {
                let data = ndarray::ArrayD::from_shape_vec(dims, values_from::<T>(hex, n)?)
                    .map_err(|e| file_error(e.to_string()))?;
                Array::<T>::from_values(data, grid()?, "values")?.into()
            })
        }
        "grouped" => {
            let group_of: Vec<u32> = field(args, "group_of")?;
            let stat = super::super::dynamic::group_stat_from(&args["stat"])?;
            input(inputs, 0)?
                .grouped(
                    field(args, "axis")?,
                    group_of.into(),
                    field(args, "groups")?,
                    stat,
                    field(args, "skipna")?,
                )
                .into()
        }
        "rolling_extremes" => crate::labelled::rolling_extremes(
            &typed::<f64>(inputs, 0)?,
            field(args, "axis")?,
            field(args, "window")?,
            field(args, "center")?,
            field(args, "min_periods")?,
            field(args, "largest")?,
        )
        .into(),
        "quantile" => {
            let q: crate::array::kernel::Exact = field(args, "q")?;
            crate::labelled::nanquantile_along(&typed::<f64>(inputs, 0)?, field(args, "axis")?, q.0)
                .into()
        }
        "group_quantiles" => {
            let (name, group_of): (String, Vec<u32>) =
                (field(args, "name")?, field(args, "group_of")?);
            crate::labelled::group_quantiles(
                &name,
                input(inputs, 0)?,
                field(args, "axis")?,
                &group_of,
                field(args, "groups")?,
                field::<crate::labelled::GroupQuantile>(args, "stat")?,
            )?
        }
        other => {
            return Err(file_error(format!(
                "`{other}` is not an operation this ndchunk can rebuild"
            )))
        }
    })
}

/// An argument of a step.
fn field<V: serde::de::DeserializeOwned>(args: &Value, name: &str) -> Result<V> {
    serde_json::from_value(args[name].clone())
        .map_err(|e| file_error(format!("argument `{name}` ({}): {e}", args[name])))
}

fn input(inputs: &[DynArray], k: usize) -> Result<&DynArray> {
    inputs
        .get(k)
        .ok_or_else(|| file_error(format!("input {k} is missing")))
}

fn typed<T: DynElement>(inputs: &[DynArray], k: usize) -> Result<Array<T>> {
    let array = input(inputs, k)?;
    array.typed::<T>().map_err(|_| {
        file_error(format!(
            "input {k} holds {}, not {}",
            array.dtype(),
            T::DTYPE
        ))
    })
}

/// A binary operation's other side: a scalar, or one of the inputs.
fn operand<T: DynElement>(value: &Value, inputs: &[DynArray]) -> Result<Operand<T>> {
    if let Some(s) = value.get("scalar") {
        return Ok(Operand::Scalar(scalar_from(s)?));
    }
    let k = value["input"]
        .as_u64()
        .ok_or_else(|| file_error(format!("bad operand {value}")))?;
    Ok(Operand::Array(typed::<T>(inputs, k as usize)?))
}

/// `astype` as the array was converted: numbers by `Array::astype`, to
/// and from `bool` by `DynArray::astype`.
fn astype(a: &DynArray, to: DType) -> Result<DynArray> {
    if a.dtype() == DType::Bool || to == DType::Bool {
        if a.dtype() == to {
            return Err(file_error("astype from bool to bool".into()));
        }
        return Ok(crate::with_dtype!(to, U => a.astype::<U>().into()));
    }
    let unsupported = |dtype: DType| file_error(format!("astype of {dtype}"));
    let converted: DynArray = numeric!(a.dtype(), T => {
        let a = a.typed::<T>()?;
        numeric!(to, U => a.astype::<U>().into(), unsupported)
    }, unsupported);
    Ok(converted)
}

fn float_function<T: crate::ops::Numeric + num_traits::Float>(
    a: &Array<T>,
    name: &str,
) -> Result<Array<T>> {
    Ok(match name {
        "sqrt" => a.sqrt(),
        "exp" => a.exp(),
        "expm1" => a.expm1(),
        "log" => a.log(),
        "log10" => a.log10(),
        "log2" => a.log2(),
        "log1p" => a.log1p(),
        "sin" => a.sin(),
        "cos" => a.cos(),
        "tan" => a.tan(),
        "arcsin" => a.arcsin(),
        "arccos" => a.arccos(),
        "arctan" => a.arctan(),
        "sinh" => a.sinh(),
        "cosh" => a.cosh(),
        "tanh" => a.tanh(),
        "deg2rad" => a.deg2rad(),
        "rad2deg" => a.rad2deg(),
        other => return Err(file_error(format!("no float function `{other}`"))),
    })
}
