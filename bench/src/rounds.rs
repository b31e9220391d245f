//! Interleaved rounds (issue #16): failoverd and its reference process run
//! one after another, R times, alternating which goes first (round 1
//! failoverd first, round 2 the reference first, ...), so that load that
//! drifts during the run falls on both alike. Each round gives a ratio;
//! the headline is the median ratio with the min..max of the rounds.

use crate::say;

/// One process's figures in one round.
#[derive(Clone, Debug, Default)]
pub struct Side {
    /// CPU seconds (user + system) in the window.
    pub cpu: f64,
    /// Length of the window, seconds.
    pub seconds: f64,
    /// Peak RSS (VmHWM) at the end of the window, MiB.
    pub rss: f64,
    /// Checks (pings sent, connects) per second over the whole run.
    pub rate: f64,
    /// Checks that failed (lost replies, failed connects).
    pub lost: u64,
    /// failoverd only: peak RSS after one read of /metrics, MiB.
    pub rss_after_scrape: Option<f64>,
    /// ICMP echo requests the host sent per second in the window
    /// (`OutEchos`), counted by the benchmark.
    pub echoes_s: Option<f64>,
    /// failoverd only: peak RSS of its whole life, read when it was
    /// reaped after SIGTERM (with the history's save at stop), MiB.
    pub rss_at_stop: Option<f64>,
}

impl Side {
    /// CPU time over the window, in cores (0.05 = 5 % of one core).
    pub fn share(&self) -> f64 {
        self.cpu / self.seconds.max(1e-9)
    }

    /// CPU seconds per check made in the window.
    pub fn per_check(&self) -> f64 {
        self.cpu / (self.rate * self.seconds).max(1.0)
    }
}

/// One round: both processes, in the order they ran, and their ratio.
#[derive(Clone, Debug)]
pub struct Round {
    /// 1-based.
    pub index: usize,
    pub failoverd_first: bool,
    pub failoverd: Side,
    pub reference: Side,
    pub ratio: f64,
}

impl Round {
    /// "1 (failoverd first)" or "2 (fping first)".
    pub fn label(&self, reference: &str) -> String {
        let first = if self.failoverd_first { "failoverd" } else { reference };
        format!("{} ({first} first)", self.index)
    }
}

/// Round `index` (1-based) runs failoverd first when odd.
pub fn failoverd_first(index: usize) -> bool {
    index % 2 == 1
}

/// Runs `rounds` rounds of `failoverd` and `reference`, alternating the
/// order; `ratio(failoverd, reference)` per round, and `describe(round)`
/// said as soon as the round is done. Stops at the first failure and
/// returns the rounds done with the error.
pub fn interleave(
    rounds: usize,
    label: &str,
    reference_name: &str,
    mut failoverd: impl FnMut() -> Result<Side, String>,
    mut reference: impl FnMut() -> Result<Side, String>,
    ratio: impl Fn(&Side, &Side) -> f64,
    describe: impl Fn(&Round) -> String,
) -> (Vec<Round>, Option<String>) {
    let mut done = Vec::new();
    for index in 1..=rounds {
        let first = failoverd_first(index);
        let order = if first {
            format!("failoverd, then {reference_name}")
        } else {
            format!("{reference_name}, then failoverd")
        };
        say!("{label} round {index}/{rounds}: {order}");
        let mut run_fo = || failoverd().map_err(|e| format!("round {index}, failoverd: {e}"));
        let mut run_re = || reference().map_err(|e| format!("round {index}, {reference_name}: {e}"));
        let pair = if first {
            run_fo().and_then(|f| run_re().map(|r| (f, r)))
        } else {
            run_re().and_then(|r| run_fo().map(|f| (f, r)))
        };
        match pair {
            Ok((f, r)) => {
                let q = ratio(&f, &r);
                let round = Round {
                    index,
                    failoverd_first: first,
                    failoverd: f,
                    reference: r,
                    ratio: q,
                };
                say!("{label} round {}: {}", round.label(reference_name), describe(&round));
                done.push(round);
            }
            Err(e) => return (done, Some(e)),
        }
    }
    (done, None)
}

/// Median of `v` (the mean of the middle two for an even count); NaN if empty.
pub fn median(v: impl IntoIterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = v.into_iter().collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

/// Smallest and largest of `v`; NaN if empty.
pub fn spread(v: impl IntoIterator<Item = f64>) -> (f64, f64) {
    v.into_iter()
        .fold((f64::NAN, f64::NAN), |(lo, hi), x| (lo.min(x), hi.max(x)))
}

/// The figures of a scenario over its rounds: medians of CPU, rates and
/// ratios, the largest peak RSS, the sums of lost checks.
#[derive(Clone, Debug)]
pub struct Summary {
    pub rounds: usize,
    pub ratio: f64,
    pub ratio_lo: f64,
    pub ratio_hi: f64,
    pub failoverd: Side,
    pub reference: Side,
}

pub fn summarize(rounds: &[Round]) -> Summary {
    let side = |pick: fn(&Round) -> &Side| Side {
        cpu: median(rounds.iter().map(|r| pick(r).cpu)),
        seconds: median(rounds.iter().map(|r| pick(r).seconds)),
        rss: rounds.iter().map(|r| pick(r).rss).fold(f64::NAN, f64::max),
        rate: median(rounds.iter().map(|r| pick(r).rate)),
        lost: rounds.iter().map(|r| pick(r).lost).sum(),
        rss_after_scrape: rounds.iter().filter_map(|r| pick(r).rss_after_scrape).reduce(f64::max),
        echoes_s: Some(median(rounds.iter().filter_map(|r| pick(r).echoes_s))).filter(|m| !m.is_nan()),
        rss_at_stop: rounds.iter().filter_map(|r| pick(r).rss_at_stop).reduce(f64::max),
    };
    let (ratio_lo, ratio_hi) = spread(rounds.iter().map(|r| r.ratio));
    Summary {
        rounds: rounds.len(),
        ratio: median(rounds.iter().map(|r| r.ratio)),
        ratio_lo,
        ratio_hi,
        failoverd: side(|r| &r.failoverd),
        reference: side(|r| &r.reference),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_of_odd_and_even_counts() {
        assert_eq!(median([3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median([4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median([7.0]), 7.0);
        assert!(median([]).is_nan());
        assert_eq!(spread([2.0, 0.5, 1.5]), (0.5, 2.0));
    }

    #[test]
    fn rounds_alternate_who_goes_first() {
        let order = std::cell::RefCell::new(Vec::new());
        let side = |cpu| Side {
            cpu,
            seconds: 1.0,
            ..Side::default()
        };
        let (rounds, err) = interleave(
            4,
            "test",
            "ref",
            || {
                order.borrow_mut().push("fo");
                Ok(side(2.0))
            },
            || {
                order.borrow_mut().push("ref");
                Ok(side(1.0))
            },
            |f, r| f.share() / r.share(),
            |r| format!("{:.1}", r.ratio),
        );
        assert!(err.is_none());
        assert_eq!(*order.borrow(), ["fo", "ref", "ref", "fo", "fo", "ref", "ref", "fo"]);
        assert_eq!(rounds.len(), 4);
        assert!(rounds[0].failoverd_first && !rounds[1].failoverd_first);
        assert_eq!(rounds[1].label("ref"), "2 (ref first)");
        let s = summarize(&rounds);
        assert_eq!((s.ratio, s.ratio_lo, s.ratio_hi), (2.0, 2.0, 2.0));
    }

    #[test]
    fn a_failure_stops_the_rounds_and_keeps_the_ones_done() {
        let mut n = 0;
        let (rounds, err) = interleave(
            3,
            "test",
            "ref",
            || Ok(Side::default()),
            || {
                n += 1;
                if n == 2 {
                    Err("gone".into())
                } else {
                    Ok(Side::default())
                }
            },
            |_, _| 1.0,
            |_| String::new(),
        );
        assert_eq!(rounds.len(), 1);
        assert_eq!(err.as_deref(), Some("round 2, ref: gone"));
    }

    #[test]
    fn the_summary_takes_the_largest_rss_and_sums_lost() {
        let round = |index, rss, lost, ratio| Round {
            index,
            failoverd_first: failoverd_first(index),
            failoverd: Side {
                cpu: ratio,
                seconds: 1.0,
                rss,
                lost,
                ..Side::default()
            },
            reference: Side {
                cpu: 1.0,
                seconds: 1.0,
                ..Side::default()
            },
            ratio,
        };
        let s = summarize(&[round(1, 10.0, 1, 0.9), round(2, 12.0, 0, 1.4), round(3, 11.0, 2, 1.0)]);
        assert_eq!(s.failoverd.rss, 12.0);
        assert_eq!(s.failoverd.lost, 3);
        assert_eq!((s.ratio, s.ratio_lo, s.ratio_hi), (1.0, 0.9, 1.4));
        assert_eq!(s.failoverd.cpu, 1.0);
    }
}
