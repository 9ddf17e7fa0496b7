//! xarray's repr, in text: dimensions with sizes, coordinates (`*` marks
//! an index), data variables with dtype and chunks, attributes.

use std::fmt;

use indexmap::IndexMap;

use super::data_array::DataArray;
use super::dataset::Dataset;
use super::variable::Coord;
use super::Attrs;

impl fmt::Display for Dataset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "<ndchunk.Dataset>")?;
        let sizes: Vec<String> = self
            .sizes()
            .iter()
            .map(|(d, s)| format!("{d}: {s}"))
            .collect();
        writeln!(f, "Dimensions:  ({})", sizes.join(", "))?;
        let width = self
            .coords
            .keys()
            .chain(self.data_vars.keys())
            .map(|k| k.len())
            .max()
            .unwrap_or(0);
        coords(f, &self.coords, width)?;
        writeln!(f, "Data variables:")?;
        for (name, var) in &self.data_vars {
            writeln!(
                f,
                "    {name:<width$} ({}) {} chunks=({})",
                var.dims.join(", "),
                var.type_name(),
                chunks(&var.data.grid().chunk_shape()),
            )?;
        }
        attributes(f, &self.attrs)
    }
}

impl fmt::Display for DataArray {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sizes: Vec<String> = self
            .sizes()
            .iter()
            .map(|(d, s)| format!("{d}: {s}"))
            .collect();
        let name = self.name().map(|n| format!(" {n:?}")).unwrap_or_default();
        writeln!(f, "<ndchunk.DataArray{name} ({})>", sizes.join(", "))?;
        writeln!(
            f,
            "{} chunks=({})",
            self.variable.type_name(),
            chunks(&self.data().grid().chunk_shape())
        )?;
        let width = self.coords.keys().map(|k| k.len()).max().unwrap_or(0);
        coords(f, &self.coords, width)?;
        attributes(f, self.attrs())
    }
}

fn chunks(shape: &[u64]) -> String {
    let parts: Vec<String> = shape.iter().map(u64::to_string).collect();
    parts.join(", ")
}

fn coords(
    f: &mut fmt::Formatter<'_>,
    coords: &IndexMap<String, Coord>,
    width: usize,
) -> fmt::Result {
    if coords.is_empty() {
        return Ok(());
    }
    writeln!(f, "Coordinates:")?;
    for (name, c) in coords {
        let mark = if c.dims.len() == 1 && &c.dims[0] == name {
            '*'
        } else {
            ' '
        };
        writeln!(
            f,
            "  {mark} {name:<width$} ({}) {} {}",
            c.dims.join(", "),
            c.values.type_name(),
            c.values
        )?;
    }
    Ok(())
}

fn attributes(f: &mut fmt::Formatter<'_>, attrs: &Attrs) -> fmt::Result {
    if attrs.is_empty() {
        return Ok(());
    }
    writeln!(f, "Attributes:")?;
    let width = attrs.keys().map(|k| k.len() + 1).max().unwrap_or(0);
    for (key, value) in attrs {
        let text = match value {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let mut text: String = text.replace('\n', " ");
        if text.chars().count() > 60 {
            text = text.chars().take(57).collect::<String>() + "...";
        }
        writeln!(f, "    {:<width$} {text}", format!("{key}:"))?;
    }
    Ok(())
}
