//! Byte sizes as people write them: `"128MiB"`, `"1 GB"`, `"5e6"`.
//!
//! The grammar is Dask's (`dask.utils.parse_bytes`), so a chunk size or
//! memory budget copied from a Dask script means the same thing here.

use crate::error::{ChunkingError, Result};

/// Parses a byte size the way Dask's `parse_bytes` does.
///
/// - A number (integer, decimal or exponent form: `100`, `5.4`, `1e6`)
///   followed by an optional unit; spaces anywhere are ignored.
/// - Units, case-insensitive: `B`; decimal `kB`, `MB`, `GB`, `TB`, `PB` (also
///   written `k`, `M`, …); binary `KiB`, `MiB`, `GiB`, `TiB`, `PiB` (also
///   `Ki`, `Mi`, …). A unit alone means one of it (`"MB"` is 10⁶).
/// - Fractions of a byte are truncated, as Dask does (`"1.9"` is 1).
///
/// Unlike Dask, a negative size or one past `u64::MAX` is an error rather
/// than a negative or arbitrarily large integer.
///
/// ```
/// use ndchunk_chunking::parse_bytes;
/// assert_eq!(parse_bytes("600 B").unwrap(), 600);
/// assert_eq!(parse_bytes("5kB").unwrap(), 5_000);
/// assert_eq!(parse_bytes("5.4 kB").unwrap(), 5_400);
/// assert_eq!(parse_bytes("1MiB").unwrap(), 1 << 20);
/// assert_eq!(parse_bytes("1e6").unwrap(), 1_000_000);
/// assert_eq!(parse_bytes("128MiB").unwrap(), 128 << 20);
/// assert!(parse_bytes("5 foos").is_err());
/// ```
pub fn parse_bytes(text: &str) -> Result<u64> {
    let fail = |reason: String| ChunkingError::InvalidByteSize {
        text: text.to_string(),
        reason,
    };
    let mut compact: String = text.chars().filter(|&c| c != ' ').collect();
    if !compact.chars().any(|c| c.is_ascii_digit()) {
        compact.insert(0, '1');
    }
    // The unit is the trailing run of letters; the number is everything before.
    let split = compact
        .char_indices()
        .rev()
        .find(|&(_, c)| !c.is_alphabetic())
        .map_or(0, |(i, c)| i + c.len_utf8());
    let (number, unit) = compact.split_at(split);
    let value = parse_python_float(number)
        .ok_or_else(|| fail(format!("could not interpret `{number}` as a number")))?;
    let multiplier = unit_multiplier(&unit.to_lowercase()).ok_or_else(|| {
        fail(format!(
            "could not interpret `{unit}` as a byte unit (use B, kB, MB, GB, TB, PB, KiB, MiB, GiB, TiB or PiB)"
        ))
    })?;
    // Same f64 product and truncation as Dask's `int(n * multiplier)`.
    let bytes = (value * multiplier as f64).trunc();
    if bytes.is_nan() {
        return Err(fail("not a number".into()));
    }
    if bytes < 0.0 {
        return Err(fail("a byte size cannot be negative".into()));
    }
    if bytes >= 18_446_744_073_709_551_616.0 {
        return Err(fail("larger than 2^64 - 1 bytes".into()));
    }
    Ok(bytes as u64)
}

/// Bytes per unit; `unit` is lower-case. Dask's table: the full names, their
/// first letter for decimal units, and the name without `b` for binary ones.
fn unit_multiplier(unit: &str) -> Option<u64> {
    Some(match unit {
        "" | "b" => 1,
        "kb" | "k" => 1_000,
        "mb" | "m" => 1_000_000,
        "gb" | "g" => 1_000_000_000,
        "tb" | "t" => 1_000_000_000_000,
        "pb" | "p" => 1_000_000_000_000_000,
        "kib" | "ki" => 1 << 10,
        "mib" | "mi" => 1 << 20,
        "gib" | "gi" => 1 << 30,
        "tib" | "ti" => 1 << 40,
        "pib" | "pi" => 1 << 50,
        _ => return None,
    })
}

/// Python's `float(text)`: surrounding whitespace is ignored and `_` may
/// separate digits (`1_000`); otherwise Rust's grammar is the same.
fn parse_python_float(text: &str) -> Option<f64> {
    let text = text.trim();
    if text.contains('_') {
        let chars: Vec<char> = text.chars().collect();
        let between_digits = chars.iter().enumerate().all(|(i, &c)| {
            c != '_'
                || (i > 0
                    && chars[i - 1].is_ascii_digit()
                    && chars.get(i + 1).is_some_and(|n| n.is_ascii_digit()))
        });
        if !between_digits {
            return None;
        }
        return text.replace('_', "").parse().ok();
    }
    text.parse().ok()
}

/// Bytes as a short human string in binary units (`1.5 GiB`): how plans,
/// errors and reports show sizes.
pub fn format_bytes(bytes: u64) -> String {
    // Byte counts saturate at `u64::MAX` rather than overflow: that value
    // means "at least this much".
    if bytes == u64::MAX {
        return "16384.0 PiB or more".into();
    }
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dask_docstring_examples() {
        for (text, bytes) in [
            ("100", 100),
            ("100 MB", 100_000_000),
            ("100M", 100_000_000),
            ("5kB", 5_000),
            ("5.4 kB", 5_400),
            ("1kiB", 1_024),
            ("1e6", 1_000_000),
            ("1e6 kB", 1_000_000_000),
            ("MB", 1_000_000),
            ("600 B", 600),
            ("1 MiB", 1 << 20),
            ("1MiB", 1 << 20),
            ("7MiB", 7 << 20),
            ("128MiB", 128 << 20),
            ("2 GiB", 2 << 30),
            ("1.5GB", 1_500_000_000),
            ("1 p", 1_000_000_000_000_000),
            ("1Pi", 1 << 50),
            ("1_000 kB", 1_000_000),
            ("\t3 kB", 3_000),
            ("1.9", 1),
            ("-0.5", 0),
        ] {
            assert_eq!(parse_bytes(text).unwrap(), bytes, "{text}");
        }
    }

    #[test]
    fn errors_name_the_bad_part() {
        let err = parse_bytes("5 foos").unwrap_err().to_string();
        assert!(err.contains("`foos`") && err.contains("byte unit"), "{err}");
        let err = parse_bytes("1.2.3 MB").unwrap_err().to_string();
        assert!(err.contains("`1.2.3`") && err.contains("number"), "{err}");
        for bad in ["-5 B", "1e30", "1__0", "_10", "10_", "5e", "kB kB"] {
            assert!(parse_bytes(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn empty_text_is_one_byte_like_dask() {
        // Dask prefixes "1" when there is no digit: "" -> "1" -> 1 byte.
        assert_eq!(parse_bytes("").unwrap(), 1);
    }
}
