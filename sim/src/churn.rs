//! Churn: nodes leave after a random session length (exponential or Pareto), gracefully or by
//! crashing, and come back after a random offline time. Explicit schedules and Poisson arrivals
//! are turned into engine events by the runner.

use rtmfp::Instant;

use crate::node::NodeId;
use crate::rng::{chance, derive, exponential, pareto, stream, SimRng};

/// A session-length distribution.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub enum SessionLength {
    /// Exponential with mean `mean_us` microseconds.
    Exponential {
        /// Mean, microseconds.
        mean_us: f64,
    },
    /// Pareto with shape `shape` and minimum `min_us` microseconds (heavy-tailed; mean
    /// `shape × min / (shape − 1)` for shape > 1).
    Pareto {
        /// Shape (alpha), > 0.
        shape: f64,
        /// Minimum (scale), microseconds.
        min_us: f64,
    },
}

impl SessionLength {
    /// One draw, microseconds.
    pub fn draw(&self, rng: &mut SimRng) -> f64 {
        match *self {
            SessionLength::Exponential { mean_us } => exponential(rng, mean_us),
            SessionLength::Pareto { shape, min_us } => pareto(rng, shape, min_us),
        }
    }
}

/// The churn model.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ChurnModel {
    /// How long a node stays after joining; `None`: forever.
    pub session: Option<SessionLength>,
    /// Mean offline time before a departed node rejoins (exponential), microseconds; 0: never.
    pub offline_mean_us: f64,
    /// Fraction of departures that are crashes (no goodbye) rather than graceful leaves.
    pub crash_fraction: f64,
    /// Nodes with an index below this never churn (e.g. a central server).
    pub exempt_below: u32,
    /// No departure happens after this time, microseconds (`u64::MAX`: churn never stops);
    /// departed nodes still come back.
    pub until_us: u64,
}

impl ChurnModel {
    /// No churn.
    pub fn none() -> Self {
        ChurnModel {
            session: None,
            offline_mean_us: 0.0,
            crash_fraction: 0.0,
            exempt_below: 0,
            until_us: u64::MAX,
        }
    }
}

/// The churn process: the model and its RNG stream.
#[derive(Debug, Clone)]
pub struct Churn {
    model: ChurnModel,
    rng: SimRng,
}

impl Churn {
    /// Churn following `model`, drawing from the run's churn stream of `seed`.
    pub fn new(model: ChurnModel, seed: u64) -> Self {
        Churn {
            model,
            rng: derive(seed, stream::CHURN, 1),
        }
    }

    /// No churn.
    pub fn none() -> Self {
        Self::new(ChurnModel::none(), 0)
    }

    /// `node` joined at `now`: when it will leave and whether by crashing, if ever (never
    /// after [`ChurnModel::until_us`]).
    pub fn on_join(&mut self, now: Instant, node: NodeId) -> Option<(Instant, bool)> {
        if node.0 < self.model.exempt_below {
            return None;
        }
        let len = self.model.session?.draw(&mut self.rng);
        let crash = chance(&mut self.rng, self.model.crash_fraction);
        let at = now.as_micros() + len as u64;
        (at <= self.model.until_us).then(|| (Instant::from_micros(at), crash))
    }

    /// `node` left at `now`: when it comes back, if ever.
    pub fn on_leave(&mut self, now: Instant, node: NodeId) -> Option<Instant> {
        if node.0 < self.model.exempt_below || self.model.offline_mean_us <= 0.0 {
            return None;
        }
        let off = exponential(&mut self.rng, self.model.offline_mean_us);
        Some(Instant::from_micros(now.as_micros() + off as u64))
    }
}
