//! The small inline SVG charts: a target's RTT and loss over the last
//! hour, one point per step, a gap where no check was answered (RTT) or
//! none made at all (loss). Integer coordinates keep the page small.

use std::fmt::Write;

use super::{Chart, POINTS};

/// Height of the drawing area, in viewBox units; the width is [`POINTS`].
const H: u32 = 40;

/// The mean RTT of each step, scaled to the hour's highest.
pub(super) fn rtt(out: &mut String, chart: &Chart) {
    let top = chart
        .points
        .iter()
        .filter(|p| p.good > 0)
        .map(|p| p.rtt_us)
        .max()
        .unwrap_or(0)
        .max(1);
    let label = format!("RTT, last hour, highest {}", micros(top));
    draw(out, "rtt", &label, chart, |p| {
        (p.good > 0).then(|| u64::from(p.rtt_us) * u64::from(H - 4) / u64::from(top))
    });
}

/// The failed share of each step's checks, 0 to 100 %.
pub(super) fn loss(out: &mut String, chart: &Chart) {
    let worst = chart
        .points
        .iter()
        .filter(|p| p.checks() > 0)
        .map(|p| 100 * u32::from(p.lost) / p.checks())
        .max();
    let label = match worst {
        Some(w) => format!("loss, last hour, worst step {w} %"),
        None => "loss, last hour: no checks".to_string(),
    };
    draw(out, "loss", &label, chart, |p| {
        (p.checks() > 0).then(|| u64::from(p.lost) * u64::from(H - 4) / u64::from(p.checks()))
    });
}

/// One chart: `height` gives each point's height above the baseline, or
/// `None` for a gap. Runs of points are one path each, flat stretches only
/// their ends; a lone point is a short dash so that it shows.
fn draw(out: &mut String, class: &str, label: &str, chart: &Chart, height: impl Fn(&super::Point) -> Option<u64>) {
    let skip = POINTS.saturating_sub(chart.points.len());
    let _ = write!(
        out,
        "<figure class=\"{class}\"><svg class=\"chart\" viewBox=\"0 0 {POINTS} {H}\" preserveAspectRatio=\"none\" role=\"img\" aria-label=\"{label}\"><path class=\"axis\" d=\"M0 {b}H{POINTS}\"/><path class=\"line\" d=\"",
        b = H - 2,
    );
    // A flat stretch is drawn as its two ends: `flat` is the last point
    // not written yet that has the height of the last one written.
    let (mut run, mut last_y, mut flat) = (0, 0, None);
    for (i, p) in chart.points.iter().take(POINTS).enumerate() {
        let Some(h) = height(p) else {
            end_run(out, run, flat.take(), last_y);
            run = 0;
            continue;
        };
        let (x, y) = (skip + i, u64::from(H - 2) - h.min(u64::from(H - 4)));
        if run == 0 {
            let _ = write!(out, "M{x} {y}");
        } else if y == last_y {
            flat = Some(x);
        } else {
            if let Some(fx) = flat.take() {
                let _ = write!(out, " {fx} {last_y}");
            }
            let _ = write!(out, " {x} {y}");
        }
        run += 1;
        last_y = y;
    }
    end_run(out, run, flat, last_y);
    let _ = write!(out, "\"/></svg><figcaption>{label}</figcaption></figure>");
}

/// Ends a run of `run` points: its flat end, or a short dash for a lone point.
fn end_run(out: &mut String, run: usize, flat: Option<usize>, y: u64) {
    if let Some(x) = flat {
        let _ = write!(out, " {x} {y}");
    } else if run == 1 {
        out.push_str("h1");
    }
}

/// "850 µs", "12.3 ms", "1.20 s".
pub(super) fn micros(us: u32) -> String {
    match us {
        0..1_000 => format!("{us} µs"),
        1_000..100_000 => format!("{:.1} ms", f64::from(us) / 1e3),
        100_000..1_000_000 => format!("{:.0} ms", f64::from(us) / 1e3),
        _ => format!("{:.2} s", f64::from(us) / 1e6),
    }
}
