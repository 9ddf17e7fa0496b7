//! Saving a plan file: the outputs' recipes flattened into steps (each
//! array once), the stores recorded, the steps replayed through the same
//! constructors and refused unless the rebuilt graphs are the originals,
//! then planned and written with their shard stages and identity.

use super::*;

impl<T: Element> Array<T> {
    /// Plans storing this array into `store` within `options` (as
    /// [`Array::store_with`] would) and writes the plan to `path` as a
    /// [`PlanFile`], which another process loads and runs, whole or as
    /// shards ([`ComputeOptions::shard`]), writing the same bytes as
    /// `store_with` here. Refused when the expression reads something
    /// only this process can make (see [`PlanFile`]: a Rust closure, data
    /// in memory), naming the first such operation, and when a source or
    /// the store cannot be opened again by path.
    ///
    /// The processes that run the file run it through [`PlanFile::run`]
    /// (shards, and the last run with
    /// [`finish_shards`](ComputeOptions::finish_shards), share one
    /// [`journal_dir`](ComputeOptions::journal_dir)), within the budget
    /// the plan was made for.
    ///
    /// ```
    /// # fn main() -> ndchunk::Result<()> {
    /// use std::sync::Arc;
    /// use ndchunk::chunking::ChunkGrid;
    /// use ndchunk::io::zarr::{ZarrArraySpec, ZarrCodec, ZarrFormat};
    /// use ndchunk::io::{ArrayMeta, DType, Scalar, ZarrStore};
    /// use ndchunk::{Array, ComputeOptions, PlanFile};
    /// let dir = tempfile::tempdir().unwrap();
    /// let spec = |chunks: &[u64]| {
    ///     let grid = ChunkGrid::regular(&[8, 6], chunks).unwrap();
    ///     let meta = ArrayMeta::new(grid, DType::Float64, Scalar::Float(0.0));
    ///     ZarrArraySpec::new(meta, ZarrFormat::V3, ZarrCodec::None)
    /// };
    /// let src = ZarrStore::create(dir.path().join("src.zarr"), "/", &spec(&[2, 6]))?;
    /// Array::<f64>::arange(48, [48])?.reshape(&[8, 6]).store(&src)?;
    /// let out = ZarrStore::create(dir.path().join("out.zarr"), "/", &spec(&[8, 3]))?;
    /// let a = Array::<f64>::from_store(Arc::new(src))?;
    /// let options = ComputeOptions::new().max_mem(64 << 20).threads(2).progress(false);
    /// (&a * 2.0 + 1.0).save_plan(&out, &options, dir.path().join("plan.json"))?;
    ///
    /// // In any process: the file, not the expression.
    /// let plan = PlanFile::load(dir.path().join("plan.json"))?;
    /// plan.run(&ComputeOptions::new().progress(false))?;
    /// let written = Array::<f64>::from_store(Arc::new(ZarrStore::open_dir(dir.path().join("out.zarr"))?))?;
    /// assert_eq!(written.compute()?[[7, 5]], 95.0);
    ///
    /// // A closure makes the plan local to this process.
    /// let local = a.map("half", |x| x / 2.0);
    /// let refused = local.save_plan(&out, &options, dir.path().join("local.json"));
    /// assert!(refused.unwrap_err().to_string().contains("`half` runs a Rust closure"));
    /// # Ok(())
    /// # }
    /// ```
    pub fn save_plan(
        &self,
        store: &dyn ChunkStore,
        options: &ComputeOptions,
        path: impl AsRef<Path>,
    ) -> Result<PlanFile> {
        let output = (self.node().clone(), self.origin(), store, None);
        save(&[output], options, path.as_ref(), None)
    }
}

impl DynArray {
    /// [`Array::save_plan`] of the typed array.
    pub fn save_plan(
        &self,
        store: &dyn ChunkStore,
        options: &ComputeOptions,
        path: impl AsRef<Path>,
    ) -> Result<PlanFile> {
        save_plan_many(&[(self, store)], options, path)
    }
}

/// [`store_many`](crate::store_many) planned and written to `path` as a
/// [`PlanFile`] (see [`Array::save_plan`]): several arrays, each into its
/// store, in one plan that any process loads and runs, whole or as shards
/// (each stage after the one before).
///
/// ```
/// # fn main() -> ndchunk::Result<()> {
/// use std::sync::Arc;
/// use ndchunk::chunking::ChunkGrid;
/// use ndchunk::io::zarr::{ZarrArraySpec, ZarrCodec, ZarrFormat};
/// use ndchunk::io::{ArrayMeta, ChunkStore, DType, Scalar, ZarrStore};
/// use ndchunk::{save_plan_many, Array, ComputeOptions, DynArray, PlanFile};
/// let dir = tempfile::tempdir().unwrap();
/// let spec = ZarrArraySpec::new(
///     ArrayMeta::new(ChunkGrid::regular(&[6], &[2]).unwrap(), DType::Float64, Scalar::Float(0.0)),
///     ZarrFormat::V3,
///     ZarrCodec::None,
/// );
/// let src = ZarrStore::create(dir.path().join("src.zarr"), "/", &spec)?;
/// Array::<f64>::arange(6, [2])?.store(&src)?;
/// let a = Array::<f64>::from_store(Arc::new(src))?;
/// let x = ZarrStore::create(dir.path().join("x.zarr"), "/", &spec)?;
/// let y = ZarrStore::create(dir.path().join("y.zarr"), "/", &spec)?;
/// let (twice, plus) = (DynArray::from(&a * 2.0), DynArray::from(&a + 1.0));
/// let options = ComputeOptions::new().max_mem(64 << 20).threads(1).progress(false);
/// save_plan_many(&[(&twice, &x), (&plus, &y)], &options, dir.path().join("plan.json"))?;
/// PlanFile::load(dir.path().join("plan.json"))?.run(&ComputeOptions::new().progress(false))?;
/// let written = Array::<f64>::from_store(Arc::new(ZarrStore::open_dir(dir.path().join("y.zarr"))?))?;
/// assert_eq!(written.compute()?[[5]], 6.0);
/// # Ok(())
/// # }
/// ```
pub fn save_plan_many(
    pairs: &[(&DynArray, &dyn ChunkStore)],
    options: &ComputeOptions,
    path: impl AsRef<Path>,
) -> Result<PlanFile> {
    let outputs: Vec<SavedOutput> = pairs.iter().map(|&(a, s)| (a, s, None)).collect();
    save_publishing(&outputs, options, path.as_ref(), None)
}

/// An output of a plan being saved: its data and where it goes; with,
/// for a part of a Zarr array (a dataset written into an existing store),
/// that array, open at the shape it is written at, and the part.
pub(crate) type SavedOutput<'a> = (
    &'a DynArray,
    &'a dyn ChunkStore,
    Option<(&'a ZarrStore, Part)>,
);

/// One output as `save` takes it.
type Saving<'a> = (
    Arc<Node>,
    Origin,
    &'a dyn ChunkStore,
    Option<(&'a ZarrStore, Part)>,
);

/// [`save_plan_many`], with a Zarr group to publish once every output is
/// complete.
pub(crate) fn save_publishing(
    outputs: &[SavedOutput<'_>],
    options: &ComputeOptions,
    path: &Path,
    publish: Option<Publish>,
) -> Result<PlanFile> {
    let outputs: Vec<Saving> = outputs
        .iter()
        .map(|(array, store, part)| {
            (
                array.node().clone(),
                crate::array::dynamic::each_origin(array),
                *store,
                part.clone(),
            )
        })
        .collect();
    save(&outputs, options, path, publish)
}

pub(super) fn save_error(message: impl Into<String>) -> Error {
    Error::Invalid {
        operation: "save_plan".into(),
        message: message.into(),
    }
}

fn save(
    outputs: &[Saving<'_>],
    options: &ComputeOptions,
    path: &Path,
    publish: Option<Publish>,
) -> Result<PlanFile> {
    if outputs.is_empty() {
        return Err(save_error("there is no array to store"));
    }
    let stores: Vec<&dyn ChunkStore> = outputs.iter().map(|(_, _, s, _)| *s).collect();
    check_distinct(&stores, "save_plan")?;
    // The budget made explicit, so that every process plans the same.
    let remote =
        stores.iter().any(|s| s.is_remote()) || outputs.iter().any(|(n, _, _, _)| n.reads_remote());
    let options = for_remote_io(options, remote);
    let budget = options.plan_budget();
    // The plan as this process would run it: an invalid operation or a
    // budget too small is said as `store_with` says it.
    let originals = outputs
        .iter()
        .map(|(node, _, store, _)| for_store(node, store.meta(), &store.location()))
        .collect::<Result<Vec<_>>>()?;
    let metas: Vec<_> = stores.iter().map(|s| s.meta()).collect();
    plan_stores(&originals, &metas, &options, 0)?.check()?;
    let mut steps = Vec::new();
    let mut sources = Vec::new();
    let mut seen = HashMap::new();
    let mut records = Vec::new();
    for (_, origin, store, part) in outputs {
        let step = flatten(origin, &mut steps, &mut sources, &mut seen)?;
        let destination = match part {
            None => record_store(*store, None),
            Some((array, _)) => record_part(array, *store),
        }
        .map_err(|why| {
            save_error(format!(
                "the destination {} cannot be opened again by another process: {why}",
                store.location()
            ))
        })?;
        records.push(Output {
            step,
            store: destination,
            part: part.as_ref().map(|(_, part)| part.clone()),
        });
    }
    for source in &sources {
        let inside = match &source.spec {
            StoreSpec::Zarr { url, .. } if !url.contains("://") => Some(PathBuf::from(url)),
            StoreSpec::Hdf5 { path, .. } | StoreSpec::Netcdf3 { path, .. } => Some(path.clone()),
            StoreSpec::Zarr { .. } => None,
        };
        if let Some(place) = inside {
            if ndchunk_io::owned_paths::is_within(path, &place)? {
                return Err(save_error(format!(
                    "the plan file {} would be written into the source {}",
                    path.display(),
                    place.display()
                )));
            }
        }
    }
    let mut body = FileBody {
        ndchunk_plan: LAYOUT,
        ndchunk: env!("CARGO_PKG_VERSION").into(),
        identity: String::new(),
        max_mem: budget.max_mem,
        threads: budget.workers as usize,
        steps,
        destination: Destination::new(records),
        sources,
        publish,
        explain: Vec::new(),
        stages: Vec::new(),
    };
    // The expression as the file will rebuild it, checked against this
    // one node by node: a recipe that does not rebuild its operation
    // exactly is refused here, not found out in a shard.
    let rebuilt = rebuild(&body)?;
    for (original, (root, destination)) in originals.iter().zip(&rebuilt) {
        let again = for_store(root.node(), destination.meta(), &destination.location())?;
        if let Some(difference) = first_difference(original, &again) {
            return Err(Error::Internal {
                operation: "save_plan".into(),
                message: format!(
                    "the expression rebuilt from its recipes differs from this one ({difference})"
                ),
            });
        }
    }
    let plan = plan_of(&rebuilt, &body)?;
    describe(&mut body, &plan)?;
    body.identity = identity(&body)?;
    let text = serde_json::to_string_pretty(&body).map_err(|e| save_error(e.to_string()))?;
    ndchunk_io::write_whole(path, text.as_bytes()).map_err(|e| Error::Job {
        path: path.display().to_string(),
        message: format!("cannot write the plan file: {e}"),
    })?;
    Ok(PlanFile {
        body,
        outputs: rebuilt,
    })
}

/// Refuses, naming the first such operation, arrays that a plan file
/// cannot hold (made by a closure, from data in memory, or from a store
/// another process cannot open): what [`save_plan_many`] would refuse,
/// said before anything is created for it.
pub(crate) fn check_recipes(arrays: &[&DynArray]) -> Result<()> {
    let (mut steps, mut sources, mut seen) = (Vec::new(), Vec::new(), HashMap::new());
    for array in arrays {
        let origin = crate::array::dynamic::each_origin(array);
        flatten(&origin, &mut steps, &mut sources, &mut seen)?;
    }
    Ok(())
}

/// The recipes reachable from `origin`, inputs first, each once (an array
/// used twice is one step, so the rebuilt graph shares it as this one
/// does); the first array only this process can make is refused.
fn flatten(
    origin: &Origin,
    steps: &mut Vec<Step>,
    sources: &mut Vec<StoreRecord>,
    seen: &mut HashMap<*const Recipe, usize>,
) -> Result<usize> {
    let recipe = match origin {
        Origin::Recipe(recipe) => recipe,
        Origin::Local(why) => return Err(save_error(why.to_string())),
        Origin::Unrecorded => return Err(save_error("an operation keeps no recipe")),
    };
    if let Some(&k) = seen.get(&Arc::as_ptr(recipe)) {
        return Ok(k);
    }
    let inputs = recipe
        .inputs
        .iter()
        .map(|input| flatten(input, steps, sources, seen))
        .collect::<Result<Vec<_>>>()?;
    let mut args = recipe.args.to_value();
    if recipe.op == "from_store" {
        let location = args["location"].as_str().unwrap_or_default().to_string();
        let record = reopen_source(&location, recipe.store.as_deref())?;
        args = json!({ "source": sources.len() });
        sources.push(record);
    }
    steps.push(Step {
        op: recipe.op.to_string(),
        dtype: recipe.dtype,
        args,
        inputs,
    });
    seen.insert(Arc::as_ptr(recipe), steps.len() - 1);
    Ok(steps.len() - 1)
}

/// Where two graphs first differ (node by node, inputs first), if they do:
/// operation, kind, grid, dtype and inputs, sources by their kind alone
/// (a source is named by its path, which the file makes absolute).
fn first_difference(a: &Arc<Node>, b: &Arc<Node>) -> Option<String> {
    let (x, y) = (signature(a), signature(b));
    if x.len() != y.len() {
        return Some(format!("{} nodes against {}", x.len(), y.len()));
    }
    x.into_iter()
        .zip(y)
        .find(|(x, y)| x != y)
        .map(|(x, y)| format!("{x} against {y}"))
}

/// The graph under `root`, one line per node, inputs first.
fn signature(root: &Arc<Node>) -> Vec<String> {
    fn visit(node: &Arc<Node>, ids: &mut HashMap<u64, usize>, lines: &mut Vec<String>) -> usize {
        if let Some(&k) = ids.get(&node.id()) {
            return k;
        }
        let inputs: Vec<usize> = node
            .inputs()
            .into_iter()
            .map(|input| visit(input, ids, lines))
            .collect();
        let (kind, name) = match node.kind() {
            NodeKind::Source { .. } => ("source".to_string(), "source".to_string()),
            NodeKind::Map { regions, lanes, .. } => (
                format!(
                    "map({}, lanes {})",
                    match regions {
                        crate::graph::MapRegions::Any => "any",
                        crate::graph::MapRegions::Blocks(_) => "blocks",
                    },
                    lanes.is_some()
                ),
                node.name().to_string(),
            ),
            NodeKind::Rechunk { .. } => ("rechunk".into(), node.name().to_string()),
            NodeKind::Reduce {
                axes,
                keepdims,
                split_every,
                ..
            } => (
                format!("reduce({axes:?}, {keepdims}, {split_every})"),
                node.name().to_string(),
            ),
            NodeKind::Scan { axis, .. } => (format!("scan({axis})"), node.name().to_string()),
            NodeKind::Layout { .. } => ("layout".into(), node.name().to_string()),
            NodeKind::Cached { reach, .. } => {
                (format!("cached({reach:?})"), node.name().to_string())
            }
            NodeKind::Invalid { message } => (format!("invalid({message})"), node.name().into()),
        };
        lines.push(format!(
            "{kind} `{name}` {} {:?} <- {inputs:?}",
            node.block_type().dtype(),
            node.grid()
        ));
        ids.insert(node.id(), lines.len() - 1);
        lines.len() - 1
    }
    let mut lines = Vec::new();
    visit(root, &mut HashMap::new(), &mut lines);
    lines
}
