//! The one grammar for sizes that every versus flag accepts (`--mem`,
//! `--memory`, `--mem-region`, …), so that `1.5G`, `1.5g`, `512MiB`, `64mb`
//! and `4096` mean the same wherever they are written.
//!
//! A size is a decimal number, optionally with a fraction, then optionally a
//! unit: `b`, `k`, `m`, `g` or `t`, in either case, optionally followed by
//! `b` or `ib` (`KiB`, `kb`, `MB`…). Units are 1024-based, as Docker's
//! `--memory` and QEMU's `-m` read them. A fraction must come to a whole
//! number of bytes.

/// What is wrong with a size.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SizeError {
    /// Not a number with a unit.
    #[error(
        "'{0}' is not a size: write a number with an optional unit K, M, G or T (1024-based), e.g. 512M or 1.5G"
    )]
    Malformed(String),
    /// A fraction that does not come to whole bytes (`1.3b`).
    #[error("'{0}' is not a whole number of bytes")]
    Fractional(String),
    /// More than 2^64 − 1 bytes.
    #[error("'{0}' is too large")]
    TooLarge(String),
}

/// Parses a size (see the module docs) into bytes.
pub fn parse_size(text: &str) -> Result<u64, SizeError> {
    let malformed = || SizeError::Malformed(text.to_string());
    let trimmed = text.trim();
    let number_end = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(number_end);
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() || fraction.contains('.') {
        return Err(malformed());
    }
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return Err(malformed()),
    };
    let too_large = || SizeError::TooLarge(text.to_string());
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| too_large())?
    };
    // value = (whole + digits / 10^len) << shift, computed exactly.
    let digits = fraction.len() as u32;
    if digits > 30 {
        return Err(malformed());
    }
    let fraction: u128 = if fraction.is_empty() {
        0
    } else {
        fraction.parse().map_err(|_| malformed())?
    };
    let whole_bytes = whole.checked_shl(shift).filter(|b| *b >> shift == whole);
    let whole_bytes = whole_bytes.ok_or_else(too_large)?;
    // fraction / 10^digits << shift = fraction / (2^digits 5^digits) << shift:
    // the powers of two cancel first, so nothing can overflow, and the
    // bytes are whole only when the rest divides exactly.
    let fives = 5u128.pow(digits);
    let twos = 1u128 << digits.saturating_sub(shift);
    let divisor = fives * twos;
    if !fraction.is_multiple_of(divisor) {
        return Err(SizeError::Fractional(text.to_string()));
    }
    // Below 10^digits / 5^digits = 2^digits ≤ 2^30 before the shift (≤ 40).
    let fraction_bytes = (fraction / divisor) << shift.saturating_sub(digits);
    let bytes = whole_bytes
        .checked_add(fraction_bytes)
        .ok_or_else(too_large)?;
    u64::try_from(bytes).map_err(|_| too_large())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_long_exact_fraction_of_a_large_unit_is_read_exactly() {
        // 0.000931323505938053131103515625 TiB = 1,024,001,024 bytes: its
        // 30-digit numerator times 2^40 passes 2^128, which used to be cut.
        assert_eq!(
            parse_size("0.000931323505938053131103515625T"),
            Ok(1_024_001_024)
        );
        assert!(matches!(
            parse_size("1.999999999999999999999999999999T"),
            Err(SizeError::Fractional(_))
        ));
    }

    #[test]
    fn every_spelling_of_a_unit_means_the_same() {
        for text in ["32M", "32m", "32MiB", "32mb", "32 M", " 32m "] {
            assert_eq!(parse_size(text), Ok(32 << 20), "{text}");
        }
        assert_eq!(parse_size("1.5g"), Ok(3 << 29));
        assert_eq!(parse_size("1.5G"), Ok(3 << 29));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("512k"), Ok(512 << 10));
        assert_eq!(parse_size(".5k"), Ok(512));
        assert_eq!(parse_size("2T"), Ok(2 << 40));
    }

    #[test]
    fn bad_sizes_are_named() {
        for bad in ["", "m", "12X", "1.2.3m", "-1m", "1e3", ".", "abc"] {
            assert_eq!(
                parse_size(bad),
                Err(SizeError::Malformed(bad.into())),
                "{bad}"
            );
        }
        assert_eq!(
            parse_size("1.3b"),
            Err(SizeError::Fractional("1.3b".into()))
        );
        assert_eq!(
            parse_size("16777216T"),
            Err(SizeError::TooLarge("16777216T".into()))
        );
        assert!(parse_size("99999999999999999999999999999999999999999").is_err());
    }

    proptest! {
        #[test]
        fn whole_numbers_with_any_unit_round_trip(n in 0u64..(1 << 20), unit in 0usize..5, upper: bool) {
            let (suffix, shift) = [("", 0), ("k", 10), ("m", 20), ("g", 30), ("t", 40)][unit];
            let suffix = if upper { suffix.to_ascii_uppercase() } else { suffix.to_string() };
            prop_assert_eq!(parse_size(&format!("{n}{suffix}")), Ok(n << shift));
        }

        #[test]
        fn only_a_number_first_is_a_size(text in "\\PC{0,24}") {
            if parse_size(&text).is_ok() {
                let first = text.trim().chars().next();
                prop_assert!(first.is_some_and(|c| c.is_ascii_digit() || c == '.'));
            }
        }
    }
}
