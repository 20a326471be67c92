//! Metric primitives: bounded sample sets with percentiles and CDFs.

use crate::rng::{below, derive, stream, SimRng};

/// A bounded sample set (reservoir sampling beyond `cap` values), e.g. latencies in µs.
#[derive(Debug, Clone)]
pub struct Samples {
    values: Vec<u64>,
    seen: u64,
    cap: usize,
    rng: SimRng,
    sorted: bool,
}

/// Summary statistics of a sample set (same unit as the samples).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Percentiles {
    /// Values offered (not only those kept).
    pub count: u64,
    /// Smallest.
    pub min: u64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// Largest.
    pub max: u64,
    /// Mean.
    pub mean: f64,
}

impl Samples {
    /// An empty set keeping at most `cap` values; `seed` drives the reservoir.
    pub fn new(cap: usize, seed: u64) -> Self {
        Samples {
            values: Vec::new(),
            seen: 0,
            cap: cap.max(1),
            rng: derive(seed, stream::METRICS, cap as u64),
            sorted: true,
        }
    }

    /// Offers one value.
    pub fn push(&mut self, v: u64) {
        self.seen += 1;
        self.sorted = false;
        if self.values.len() < self.cap {
            self.values.push(v);
        } else {
            let j = below(&mut self.rng, self.seen) as usize;
            if j < self.cap {
                self.values[j] = v;
            }
        }
    }

    /// Values offered.
    pub fn count(&self) -> u64 {
        self.seen
    }

    fn sort(&mut self) {
        if !self.sorted {
            self.values.sort_unstable();
            self.sorted = true;
        }
    }

    /// The kept values, sorted.
    pub fn sorted(&mut self) -> &[u64] {
        self.sort();
        &self.values
    }

    /// The `q`-quantile (`0 ≤ q ≤ 1`, nearest rank), 0 when empty.
    pub fn quantile(&mut self, q: f64) -> u64 {
        self.sort();
        if self.values.is_empty() {
            return 0;
        }
        let i = ((q * self.values.len() as f64).ceil() as usize).clamp(1, self.values.len());
        self.values[i - 1]
    }

    /// Summary statistics.
    pub fn percentiles(&mut self) -> Percentiles {
        self.sort();
        let n = self.values.len();
        if n == 0 {
            return Percentiles::default();
        }
        Percentiles {
            count: self.seen,
            min: self.values[0],
            p50: self.quantile(0.5),
            p90: self.quantile(0.9),
            p99: self.quantile(0.99),
            max: self.values[n - 1],
            mean: self.values.iter().map(|&v| v as f64).sum::<f64>() / n as f64,
        }
    }

    /// The empirical CDF at up to `points` points: `(value, fraction ≤ value)`.
    pub fn cdf(&mut self, points: usize) -> Vec<(u64, f64)> {
        self.sort();
        let n = self.values.len();
        if n == 0 || points == 0 {
            return Vec::new();
        }
        let step = n.div_ceil(points).max(1);
        let mut out: Vec<(u64, f64)> = (step - 1..n)
            .step_by(step)
            .map(|i| (self.values[i], (i + 1) as f64 / n as f64))
            .collect();
        if out.last().is_none_or(|&(_, f)| f < 1.0) {
            out.push((self.values[n - 1], 1.0));
        }
        out
    }
}

/// Summary statistics of real-valued observations (e.g. neighbour counts, estimate ratios).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct FloatStats {
    /// Observations.
    pub count: u64,
    /// Smallest.
    pub min: f64,
    /// 10th percentile.
    pub p10: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// Largest.
    pub max: f64,
    /// Mean.
    pub mean: f64,
}

impl FloatStats {
    /// Statistics of `values` (NaNs ignored; nearest-rank percentiles); zeros when empty.
    pub fn of(values: &[f64]) -> Self {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
        if v.is_empty() {
            return FloatStats::default();
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let q = |q: f64| v[((q * n as f64).ceil() as usize).clamp(1, n) - 1];
        FloatStats {
            count: n as u64,
            min: v[0],
            p10: q(0.1),
            p50: q(0.5),
            p90: q(0.9),
            max: v[n - 1],
            mean: v.iter().sum::<f64>() / n as f64,
        }
    }
}

/// Microseconds as milliseconds.
pub(crate) fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// `p50 .. p90 .. p99 .. max ..`: percentiles of microseconds, in milliseconds to 0.1, as the
/// summary's latency lines print them.
pub(crate) fn ms_percentiles(p: &Percentiles) -> String {
    format!(
        "p50 {:.1}  p90 {:.1}  p99 {:.1}  max {:.1}",
        ms(p.p50),
        ms(p.p90),
        ms(p.p99),
        ms(p.max)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_reservoir() {
        let mut s = Samples::new(1000, 1);
        for v in 1..=100 {
            s.push(v);
        }
        let p = s.percentiles();
        assert_eq!((p.min, p.p50, p.p90, p.p99, p.max), (1, 50, 90, 99, 100));
        let c = s.cdf(10);
        assert_eq!(c.first(), Some(&(10, 0.1)));
        assert_eq!(c.last(), Some(&(100, 1.0)));
        let mut r = Samples::new(100, 1);
        for v in 0..100_000 {
            r.push(v);
        }
        assert_eq!(r.count(), 100_000);
        assert_eq!(r.sorted().len(), 100);
        let m = r.quantile(0.5);
        assert!((20_000..80_000).contains(&m), "{m}");
    }

    #[test]
    fn float_stats() {
        let v: Vec<f64> = (1..=10).map(f64::from).chain([f64::NAN]).collect();
        let f = FloatStats::of(&v);
        assert_eq!(
            (f.count, f.min, f.p10, f.p50, f.p90, f.max),
            (10, 1.0, 1.0, 5.0, 9.0, 10.0)
        );
        assert_eq!(f.mean, 5.5);
        assert_eq!(FloatStats::of(&[]), FloatStats::default());
    }
}
