//! Statistics over repeated runs: the same summary for every backend, and
//! ratios between two backends taken pair by pair from interleaved runs.
//!
//! Medians, quartiles and spread come from `statrs`; this module decides
//! which figures are meaningful for a given number of samples (a p95 of five
//! runs is not one) and says so instead of printing a number.

use serde::{Deserialize, Serialize};
use statrs::statistics::{Data, Distribution, Max, Median, Min, OrderStatistics};

/// The fewest samples for which versus reports a 95th percentile: below
/// twenty runs the "p95" would just be the maximum.
pub const MIN_SAMPLES_FOR_P95: usize = 20;

/// A summary of samples of one figure (in whatever unit they were given).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Number of samples.
    pub n: usize,
    /// Median.
    pub median: f64,
    /// 95th percentile, when there are at least [`MIN_SAMPLES_FOR_P95`] samples.
    pub p95: Option<f64>,
    /// Smallest sample.
    pub min: f64,
    /// Largest sample.
    pub max: f64,
    /// Arithmetic mean.
    pub mean: f64,
    /// Sample standard deviation (`None` for a single sample).
    pub stddev: Option<f64>,
    /// Interquartile range: the spread of the middle half of the samples.
    pub iqr: f64,
}

/// Why a summary could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatsError {
    /// No samples at all (every run failed, or none was made).
    #[error("no samples to summarise")]
    Empty,
    /// A NaN or infinite sample.
    #[error("a sample is not a finite number")]
    NotFinite,
    /// Two series to pair up have different lengths.
    #[error("cannot pair {left} samples with {right}: ratios need runs interleaved one for one")]
    Unpaired {
        /// Samples on the left.
        left: usize,
        /// Samples on the right.
        right: usize,
    },
    /// A zero in the denominator series.
    #[error("a denominator sample is zero")]
    ZeroDenominator,
}

impl Summary {
    /// Summarises `samples`.
    ///
    /// # Example
    /// ```
    /// let s = bench::stats::Summary::of(&[3.0, 1.0, 2.0]).unwrap();
    /// assert_eq!((s.median, s.min, s.max), (2.0, 1.0, 3.0));
    /// assert_eq!(s.p95, None); // too few samples to mean anything
    /// ```
    pub fn of(samples: &[f64]) -> Result<Self, StatsError> {
        if samples.is_empty() {
            return Err(StatsError::Empty);
        }
        if samples.iter().any(|s| !s.is_finite()) {
            return Err(StatsError::NotFinite);
        }
        let n = samples.len();
        let mut data = Data::new(samples.to_vec());
        let p95 = (n >= MIN_SAMPLES_FOR_P95).then(|| data.percentile(95));
        let iqr = if n >= 2 {
            data.interquartile_range()
        } else {
            0.0
        };
        Ok(Self {
            n,
            median: data.median(),
            p95,
            min: data.min(),
            max: data.max(),
            mean: data.mean().unwrap_or(samples[0]),
            stddev: if n >= 2 { data.std_dev() } else { None },
            iqr,
        })
    }

    /// Relative spread: the interquartile range over the median.
    pub fn relative_iqr(&self) -> f64 {
        if self.median == 0.0 {
            0.0
        } else {
            self.iqr / self.median
        }
    }
}

/// How many times larger one backend's figure is than another's, from
/// interleaved runs: run *i* of one is divided by run *i* of the other, and
/// the ratios are summarised, so drift on a shared machine cancels out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ratio {
    /// Summary of the per-pair ratios.
    pub pairs: Summary,
}

impl Ratio {
    /// Pairs `numerator[i] / denominator[i]`.
    ///
    /// # Example
    /// ```
    /// let r = bench::stats::Ratio::paired(&[2.0, 4.0, 6.0], &[1.0, 2.0, 2.0]).unwrap();
    /// assert_eq!(r.pairs.median, 2.0);
    /// ```
    pub fn paired(numerator: &[f64], denominator: &[f64]) -> Result<Self, StatsError> {
        if numerator.len() != denominator.len() {
            return Err(StatsError::Unpaired {
                left: numerator.len(),
                right: denominator.len(),
            });
        }
        if denominator.contains(&0.0) {
            return Err(StatsError::ZeroDenominator);
        }
        let ratios: Vec<f64> = numerator
            .iter()
            .zip(denominator)
            .map(|(n, d)| n / d)
            .collect();
        Ok(Self {
            pairs: Summary::of(&ratios)?,
        })
    }

    /// Half the interquartile range of the pairs: the ± of [`Ratio::describe`].
    pub fn spread(&self) -> f64 {
        self.pairs.iqr / 2.0
    }

    /// False when the pairs spread more than the ratio's own value
    /// (`4.6× (±10.6)`): the runs disagree too much to say how many times
    /// larger one figure is, so the ratio is not stated.
    pub fn is_significant(&self) -> bool {
        self.spread() <= self.pairs.median.abs()
    }

    /// "3.1× (±0.2)": the median ratio and half its interquartile range,
    /// rounded by [`crate::fmt::ratio_with_spread`]'s rule; "not significant
    /// (±11)" when the spread exceeds the ratio.
    pub fn describe(&self) -> String {
        if self.is_significant() {
            crate::fmt::ratio_with_spread(self.pairs.median, self.spread())
        } else {
            format!(
                "not significant (±{})",
                crate::fmt::significant(self.spread())
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_of_known_samples() {
        let samples: Vec<f64> = (1..=9).map(f64::from).collect();
        let s = Summary::of(&samples).unwrap();
        assert_eq!(s.n, 9);
        assert_eq!(s.median, 5.0);
        assert_eq!((s.min, s.max), (1.0, 9.0));
        assert!((s.mean - 5.0).abs() < 1e-12);
        // Sample standard deviation of 1..=9 is sqrt(7.5).
        assert!((s.stddev.unwrap() - 7.5f64.sqrt()).abs() < 1e-12);
        assert!(s.iqr > 3.0 && s.iqr < 5.5, "iqr {}", s.iqr);
        assert_eq!(s.p95, None, "nine samples cannot give a 95th percentile");
    }

    #[test]
    fn p95_appears_with_enough_samples() {
        let samples: Vec<f64> = (1..=100).map(f64::from).collect();
        let p95 = Summary::of(&samples).unwrap().p95.unwrap();
        assert!((94.0..=96.0).contains(&p95), "p95 {p95}");
    }

    #[test]
    fn p95_is_given_from_exactly_twenty_samples_and_not_at_nineteen() {
        let nineteen: Vec<f64> = (1..=19).map(f64::from).collect();
        assert_eq!(Summary::of(&nineteen).unwrap().p95, None);
        // At twenty the estimate interpolates between the 19th and 20th
        // samples (statrs' median-unbiased quantile: position
        // (n + 1/3)·0.95 + 1/3 = 19.65), so it is neither the maximum nor
        // the nineteenth sample.
        let twenty: Vec<f64> = (1..=20).map(f64::from).collect();
        let p95 = Summary::of(&twenty)
            .unwrap()
            .p95
            .expect("twenty samples give a p95");
        assert!((p95 - 19.65).abs() < 1e-9, "p95 {p95}");
    }

    #[test]
    fn median_of_even_count_is_the_midpoint() {
        assert_eq!(Summary::of(&[1.0, 2.0, 3.0, 10.0]).unwrap().median, 2.5);
    }

    #[test]
    fn single_sample_has_no_spread() {
        let s = Summary::of(&[7.0]).unwrap();
        assert_eq!((s.median, s.stddev, s.iqr), (7.0, None, 0.0));
    }

    #[test]
    fn bad_inputs_are_errors() {
        assert_eq!(Summary::of(&[]), Err(StatsError::Empty));
        assert_eq!(Summary::of(&[1.0, f64::NAN]), Err(StatsError::NotFinite));
        assert_eq!(
            Ratio::paired(&[1.0], &[1.0, 2.0]),
            Err(StatsError::Unpaired { left: 1, right: 2 })
        );
        assert_eq!(
            Ratio::paired(&[1.0], &[0.0]),
            Err(StatsError::ZeroDenominator)
        );
    }

    #[test]
    fn paired_ratio_cancels_drift() {
        // The machine slows down run after run, and both backends with it;
        // run by run the slow one takes 2, 2, 3, 5, 2 times as long. The
        // true paired median is 2; the ratio of the two medians (12 / 4)
        // would say 3, and pairing the sorted samples
        // (2, 2, 3, 4, 2.5) would say 2.5.
        let fast = [1.0, 2.0, 4.0, 8.0, 16.0];
        let slow = [2.0, 4.0, 12.0, 40.0, 32.0];
        let ratio = Ratio::paired(&slow, &fast).unwrap();
        assert_eq!(ratio.pairs.n, 5);
        assert_eq!(ratio.pairs.median, 2.0);
        assert_eq!((ratio.pairs.min, ratio.pairs.max), (2.0, 5.0));
        assert!(ratio.is_significant());
        assert!(
            ratio.describe().starts_with("2.0× (±"),
            "{}",
            ratio.describe()
        );
    }

    #[test]
    fn a_ratio_spread_wider_than_itself_is_not_stated() {
        // Pairs 0.5, 1, 2, 20, 30: median 2, spread (half the IQR) far above 2.
        let ratio = Ratio::paired(&[0.5, 1.0, 2.0, 20.0, 30.0], &[1.0; 5]).unwrap();
        assert!(!ratio.is_significant());
        assert!(
            ratio.describe().starts_with("not significant (±"),
            "{}",
            ratio.describe()
        );
        assert!(!ratio.describe().contains('×'));
    }
}
