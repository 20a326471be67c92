//! Loss models: independent random loss and the Gilbert–Elliott two-state bursty channel.

use crate::rng::{chance, SimRng};

/// Gilbert–Elliott parameters. The channel is a two-state Markov chain stepped once per
/// datagram a node sends: in the good state datagrams are lost with `loss_good`, in the bad
/// state with `loss_bad`. Mean burst length is `1 / p_bad_to_good` datagrams.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct GilbertElliott {
    /// Probability of moving good → bad at each datagram.
    pub p_good_to_bad: f64,
    /// Probability of moving bad → good at each datagram.
    pub p_bad_to_good: f64,
    /// Loss probability in the good state.
    pub loss_good: f64,
    /// Loss probability in the bad state.
    pub loss_bad: f64,
}

impl GilbertElliott {
    /// Steps the chain in `bad` (the state, `true` = bad) and returns whether this datagram is
    /// lost.
    pub fn step(&self, bad: &mut bool, rng: &mut SimRng) -> bool {
        let flip = if *bad {
            self.p_bad_to_good
        } else {
            self.p_good_to_bad
        };
        if chance(rng, flip) {
            *bad = !*bad;
        }
        chance(rng, if *bad { self.loss_bad } else { self.loss_good })
    }

    /// The long-run loss rate of the chain.
    pub fn mean_loss(&self) -> f64 {
        let denom = self.p_good_to_bad + self.p_bad_to_good;
        if denom <= 0.0 {
            return self.loss_good;
        }
        let pi_bad = self.p_good_to_bad / denom;
        pi_bad * self.loss_bad + (1.0 - pi_bad) * self.loss_good
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{derive, stream};

    #[test]
    fn bursty_loss_matches_its_mean_and_is_bursty() {
        let ge = GilbertElliott {
            p_good_to_bad: 0.01,
            p_bad_to_good: 0.2,
            loss_good: 0.0,
            loss_bad: 0.8,
        };
        let mut rng = derive(3, stream::NET, 0);
        let mut bad = false;
        let n = 200_000;
        let mut lost = 0;
        let mut runs = 0;
        let mut prev = false;
        for _ in 0..n {
            let l = ge.step(&mut bad, &mut rng);
            lost += l as u32;
            runs += (l && !prev) as u32;
            prev = l;
        }
        let rate = lost as f64 / n as f64;
        assert!((rate - ge.mean_loss()).abs() < 0.01, "{rate}");
        assert!(lost as f64 / runs as f64 > 2.0, "losses come in bursts");
    }
}
