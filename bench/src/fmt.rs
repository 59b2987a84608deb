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
