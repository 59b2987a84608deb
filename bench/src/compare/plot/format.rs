//! How the plot writes its numbers: milliseconds with three significant
//! digits, short axis ticks, the "median (min – max, runs)" note right of
//! a bar and the panel letters. Kept apart from the drawing so the wording
//! of every figure in the picture is decided, and tested, in one place.

pub(super) fn ms(ns: f64) -> f64 {
    ns / 1e6
}

/// Milliseconds with three significant digits: `0.412 ms`, `48.2 ms`.
pub(super) fn format_ms(value: f64) -> String {
    let digits = if value >= 100.0 {
        0
    } else if value >= 10.0 {
        1
    } else if value >= 1.0 {
        2
    } else {
        3
    };
    format!("{value:.digits$} ms")
}

/// An axis tick: as short as the value allows (`0.01`, `0.5`, `20`).
pub(super) fn format_tick(value: f64) -> String {
    let text = format!("{value:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text.is_empty() {
        "0".to_string()
    } else {
        text.to_string()
    }
}

/// "(a)", "(b)", …
pub(super) fn letter(index: usize) -> char {
    char::from(b'a' + (index % 26) as u8)
}

/// A note of the values: "48.0 ms  (40.0 ms – 55.0 ms, 3 runs, 1 failed)".
pub(super) fn note(median: &str, min: &str, max: &str, ok: usize, failed: usize) -> String {
    let failed = if failed > 0 {
        format!(", {failed} failed")
    } else {
        String::new()
    };
    format!(
        "{median}  ({min} – {max}, {ok} run{}{failed})",
        if ok == 1 { "" } else { "s" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milliseconds_keep_three_digits() {
        assert_eq!(format_ms(0.4123), "0.412 ms");
        assert_eq!(format_ms(4.5), "4.50 ms");
        assert_eq!(format_ms(48.24), "48.2 ms");
        assert_eq!(format_ms(123.4), "123 ms");
        assert_eq!(format_tick(0.010), "0.01");
        assert_eq!(format_tick(20.0), "20");
        assert_eq!(format_tick(0.0), "0");
    }
}
