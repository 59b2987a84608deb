//! The marginal cost of one more instance: an ordinary least-squares line
//! `y = intercept + slope · x` through the points, and how well it fits.
//! The project's statistics crate (`statrs`) summarises samples but has no
//! regression, and the fit is five sums, so it is written out here.

use serde::{Deserialize, Serialize};

/// A straight line fitted to points.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Fit {
    /// How much y grows per unit of x (bytes per extra instance).
    pub slope: f64,
    /// y at x = 0 (the fixed cost).
    pub intercept: f64,
    /// The share of y's variance the line explains (1: every point on it);
    /// `None` for two points (a line always passes through both, so 1 would
    /// say nothing) or when y does not vary at all.
    pub r_squared: Option<f64>,
    /// Number of points.
    pub points: usize,
}

/// The least-squares line through `(xs[i], ys[i])`; `None` for fewer than
/// two points, unequal lengths, or when every x is the same (no slope).
pub fn least_squares(xs: &[f64], ys: &[f64]) -> Option<Fit> {
    if xs.len() != ys.len() || xs.len() < 2 {
        return None;
    }
    let n = xs.len() as f64;
    let mean_x = xs.iter().sum::<f64>() / n;
    let mean_y = ys.iter().sum::<f64>() / n;
    let sxx: f64 = xs.iter().map(|x| (x - mean_x).powi(2)).sum();
    if sxx == 0.0 {
        return None;
    }
    let sxy: f64 = xs
        .iter()
        .zip(ys)
        .map(|(x, y)| (x - mean_x) * (y - mean_y))
        .sum();
    let slope = sxy / sxx;
    let intercept = mean_y - slope * mean_x;
    let syy: f64 = ys.iter().map(|y| (y - mean_y).powi(2)).sum();
    let residual: f64 = xs
        .iter()
        .zip(ys)
        .map(|(x, y)| (y - (intercept + slope * x)).powi(2))
        .sum();
    Some(Fit {
        slope,
        intercept,
        r_squared: (xs.len() > 2 && syy > 0.0).then(|| 1.0 - residual / syy),
        points: xs.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_on_a_line_give_its_slope_and_a_perfect_fit() {
        let fit = least_squares(&[1.0, 10.0, 100.0], &[7.0, 25.0, 205.0]).expect("a fit");
        assert!((fit.slope - 2.0).abs() < 1e-9);
        assert!((fit.intercept - 5.0).abs() < 1e-9);
        assert!((fit.r_squared.expect("varies") - 1.0).abs() < 1e-12);
    }

    #[test]
    fn scattered_points_fit_worse_than_a_line() {
        let fit = least_squares(&[1.0, 2.0, 3.0, 4.0], &[1.0, 4.0, 2.0, 5.0]).expect("a fit");
        assert!((fit.slope - 1.0).abs() < 1e-9);
        let r2 = fit.r_squared.expect("varies");
        assert!(r2 > 0.0 && r2 < 0.9, "{r2}");
    }

    #[test]
    fn two_points_have_a_slope_but_no_fit_quality() {
        let fit = least_squares(&[1.0, 3.0], &[10.0, 30.0]).expect("a fit");
        assert!((fit.slope - 10.0).abs() < 1e-9);
        assert_eq!(fit.r_squared, None);
    }

    #[test]
    fn one_point_or_one_x_has_no_slope() {
        assert_eq!(least_squares(&[3.0], &[1.0]), None);
        assert_eq!(least_squares(&[3.0, 3.0], &[1.0, 2.0]), None);
    }
}
