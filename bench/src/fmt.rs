//! Human formatting of the units versus prints (durations and sizes), and
//! the small text and file helpers the reports share.

/// Formats nanoseconds with a unit that keeps three significant digits:
/// `850 ns`, `48.7 µs`, `1.23 ms`, `2.50 s`.
pub fn duration(ns: u64) -> String {
    duration_f64(ns as f64)
}

/// [`duration`] for fractional nanoseconds (per-operation figures).
pub fn duration_f64(ns: f64) -> String {
    const UNITS: [(f64, &str); 3] = [(1e9, "s"), (1e6, "ms"), (1e3, "µs")];
    for (scale, unit) in UNITS {
        if ns >= scale {
            return format!("{} {unit}", three_digits(ns / scale));
        }
    }
    format!("{} ns", three_digits(ns))
}

/// Formats a byte count in binary units: `512 B`, `4.00 KiB`, `1.50 MiB`.
pub fn bytes(count: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
    for (scale, unit) in UNITS {
        if count >= scale {
            return format!("{} {unit}", three_digits(count as f64 / scale as f64));
        }
    }
    format!("{count} B")
}

/// A byte count in the largest binary unit that holds it exactly:
/// `32 MiB`, `1536 KiB`, `1000 B` — for limits a user set, which should read
/// back as they were written.
pub fn exact_bytes(count: u64) -> String {
    const UNITS: [(u32, &str); 4] = [(40, "TiB"), (30, "GiB"), (20, "MiB"), (10, "KiB")];
    for (shift, unit) in UNITS {
        if count != 0 && count.trailing_zeros() >= shift {
            return format!("{} {unit}", count >> shift);
        }
    }
    format!("{count} B")
}

fn three_digits(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

/// Significant figures versus gives a ratio: a handful of paired rounds
/// supports no more (`2200.8×` claims a precision the runs do not have).
const RATIO_SIGNIFICANT_FIGURES: i32 = 2;

/// The one rule for every ratio versus prints — compare's conclusions,
/// the lessons of `versus explain`, in every language: the ratio rounded
/// to two significant figures with thousands grouped by commas, and its
/// spread (half the interquartile range of the pairs) rounded to the same
/// decimal place, so that neither claims a digit the other does not have
/// (a spread below that place shows as zero there, `±0.0`):
/// `0.93× (±0.05)`, `1.1× (±0.1)`, `11× (±2)`, `84× (±5)`,
/// `2,200× (±700)`.
pub fn ratio_with_spread(ratio: f64, spread: f64) -> String {
    let place = significant_place(ratio);
    format!(
        "{}× (±{})",
        at_decimal_place(ratio, place),
        at_decimal_place(spread, place)
    )
}

/// A ratio alone, by the rule of [`ratio_with_spread`]: `84×`, `2,200×`.
pub fn ratio(ratio: f64) -> String {
    format!("{}×", significant(ratio))
}

/// A number to two significant figures, thousands grouped: the figure of
/// [`ratio`] without its `×`, and a spread said on its own (`±11`).
pub fn significant(value: f64) -> String {
    at_decimal_place(value, significant_place(value))
}

/// The decimal places that keep two significant figures of `value`:
/// 2 for 0.93, 1 for 1.1, 0 for 84, −2 for 2200 (rounded to hundreds).
fn significant_place(value: f64) -> i32 {
    if value == 0.0 || !value.is_finite() {
        return 0;
    }
    // Scientific notation rounds first ("9.96" → "1.0e1"), so a value that
    // rounds up into the next power of ten gets that power's places.
    let scientific = format!("{:.*e}", (RATIO_SIGNIFICANT_FIGURES - 1) as usize, value);
    let exponent: i32 = scientific
        .rsplit_once('e')
        .and_then(|(_, exponent)| exponent.parse().ok())
        .unwrap_or(0);
    RATIO_SIGNIFICANT_FIGURES - 1 - exponent
}

/// `value` rounded to `places` decimals (negative: to tens, hundreds…),
/// its whole part grouped in thousands.
fn at_decimal_place(value: f64, places: i32) -> String {
    if !value.is_finite() {
        return value.to_string();
    }
    let text = if places >= 0 {
        format!("{:.*}", places as usize, value)
    } else {
        let unit = 10f64.powi(-places);
        format!("{:.0}", (value / unit).round() * unit)
    };
    let (sign, unsigned) = match text.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", text.as_str()),
    };
    let (whole, fraction) = match unsigned.split_once('.') {
        Some((whole, fraction)) => (whole, format!(".{fraction}")),
        None => (unsigned, String::new()),
    };
    let mut grouped = String::new();
    for (index, digit) in whole.chars().enumerate() {
        if index > 0 && (whole.len() - index) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    format!("{sign}{grouped}{fraction}")
}

/// Checks, before any work is done, that [`write_atomically`] will be able
/// to write `path`: it names a file (not a directory) in a directory where
/// versus may create files. Nothing is left behind.
pub fn check_writable(path: &std::path::Path) -> std::io::Result<()> {
    use std::io::{Error, ErrorKind};
    if path.is_dir() {
        return Err(Error::new(ErrorKind::IsADirectory, "it is a directory"));
    }
    let temporary = temporary_beside(path)?;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temporary)?;
    std::fs::remove_file(&temporary)
}

/// The temporary file [`write_atomically`] writes before its rename.
fn temporary_beside(path: &std::path::Path) -> std::io::Result<std::path::PathBuf> {
    let file_name = path
        .file_name()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file name"))?;
    let mut temporary_name = std::ffi::OsString::from(".");
    temporary_name.push(file_name);
    temporary_name.push(format!(".{}.tmp", std::process::id()));
    Ok(path.with_file_name(temporary_name))
}

/// Writes `text` to `path` through a temporary file beside it (synced)
/// and a rename, so a reader never sees half a file; the temporary file is
/// removed if anything fails.
pub fn write_atomically(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let temporary = temporary_beside(path)?;
    let result = std::fs::File::create(&temporary)
        .and_then(|mut file| {
            file.write_all(text.as_bytes())?;
            file.sync_all()
        })
        .and_then(|()| std::fs::rename(&temporary, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_keep_two_significant_figures_at_every_magnitude() {
        let cases = [
            (0.93, "0.93×"),
            (0.934, "0.93×"),
            (1.1, "1.1×"),
            (1.04, "1.0×"),
            (9.96, "10×"),
            (11.0, "11×"),
            (83.7, "84×"),
            (528.94, "530×"),
            (2200.8, "2,200×"),
            (1899.0, "1,900×"),
            (1_234_567.0, "1,200,000×"),
        ];
        for (value, printed) in cases {
            assert_eq!(ratio(value), printed, "{value}");
        }
        assert_eq!(significant(679.7), "680");
        assert_eq!(significant(10.6), "11");
    }

    #[test]
    fn a_spread_is_rounded_to_its_ratios_last_digit() {
        assert_eq!(ratio_with_spread(2200.8, 679.7), "2,200× (±700)");
        assert_eq!(ratio_with_spread(1899.0, 431.2), "1,900× (±400)");
        assert_eq!(ratio_with_spread(83.7, 5.2), "84× (±5)");
        assert_eq!(ratio_with_spread(12.6, 1.6), "13× (±2)");
        assert_eq!(ratio_with_spread(3.1, 0.13), "3.1× (±0.1)");
        assert_eq!(ratio_with_spread(0.93, 0.049), "0.93× (±0.05)");
        assert_eq!(ratio_with_spread(1.2, 0.01), "1.2× (±0.0)");
        assert_eq!(ratio_with_spread(11.0, 0.3), "11× (±0)");
    }

    #[test]
    fn writability_is_checked_without_leaving_anything() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("out.json");
        check_writable(&file).unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        assert!(check_writable(dir.path()).is_err());
        assert!(check_writable(&dir.path().join("missing/out.json")).is_err());
        assert!(check_writable(std::path::Path::new("/proc/versus-out.json")).is_err());
    }

    #[test]
    fn durations_pick_a_unit() {
        assert_eq!(duration(850), "850 ns");
        assert_eq!(duration(48_700), "48.7 µs");
        assert_eq!(duration(1_234_000), "1.23 ms");
        assert_eq!(duration(2_500_000_000), "2.50 s");
        assert_eq!(duration_f64(48.7), "48.7 ns");
        assert_eq!(duration_f64(0.5), "0.50 ns");
    }

    #[test]
    fn exact_sizes_read_back_as_written() {
        assert_eq!(exact_bytes(32 << 20), "32 MiB");
        assert_eq!(exact_bytes(1536 << 10), "1536 KiB");
        assert_eq!(exact_bytes(3 << 30), "3 GiB");
        assert_eq!(exact_bytes(1000), "1000 B");
        assert_eq!(exact_bytes(0), "0 B");
    }

    #[test]
    fn sizes_use_binary_units() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(4096), "4.00 KiB");
        assert_eq!(bytes(3 << 19), "1.50 MiB");
        assert_eq!(bytes(5 << 30), "5.00 GiB");
    }
}
