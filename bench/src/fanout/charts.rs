//! The fan-out run's SVG charts (`--fanout-charts DIR`): per receiver count, each target's
//! delivery latency distribution at the fixed rate; and each target's deliveries/s against the
//! receiver count. Both on log scales: the targets differ by orders of magnitude.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use hdrhistogram::Histogram;
use plotters::prelude::*;

use super::{Row, Target};

/// Where a latency curve is sampled, in "nines" (`-log10(1 - q)`): p0 to p99.99.
const MAX_NINES: f64 = 4.0;
const STEPS: usize = 80;

/// A latency distribution as (nines, ms) points: the x axis spreads the tail, where targets differ.
pub fn latency_curve(h: &Histogram<u64>) -> Vec<(f64, f64)> {
    if h.is_empty() {
        return Vec::new();
    }
    (0..=STEPS)
        .map(|i| {
            let nines = MAX_NINES * i as f64 / STEPS as f64;
            let q = 1.0 - 10f64.powf(-nines);
            (nines, h.value_at_quantile(q) as f64 / 1000.0)
        })
        .collect()
}

fn colour(t: Target) -> RGBColor {
    match t {
        Target::Null => RGBColor(140, 140, 140),
        Target::Parley => RGBColor(200, 40, 40),
        Target::SocketIo => RGBColor(40, 90, 200),
        Target::Ws => RGBColor(30, 150, 80),
    }
}

const TARGETS: [Target; 4] = [Target::Null, Target::Parley, Target::SocketIo, Target::Ws];

/// Writes `fanout-latency-<receivers>.svg` for each receiver count and `fanout-throughput.svg`
/// into `dir`; returns the files written.
pub fn write(dir: &Path, rows: &[Row], rate: u64) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut counts: Vec<usize> = rows.iter().map(|r| r.receivers).collect();
    counts.sort_unstable();
    counts.dedup();
    let mut written = Vec::new();
    for &n in &counts {
        let path = dir.join(format!("fanout-latency-{n}.svg"));
        let of_n: Vec<&Row> = rows.iter().filter(|r| r.receivers == n).collect();
        latency_chart(&path, &of_n, n, rate).with_context(|| format!("drawing {}", path.display()))?;
        written.push(path);
    }
    let path = dir.join("fanout-throughput.svg");
    throughput_chart(&path, rows, &counts).with_context(|| format!("drawing {}", path.display()))?;
    written.push(path);
    Ok(written)
}

fn latency_chart(path: &Path, rows: &[&Row], receivers: usize, rate: u64) -> Result<()> {
    let max = rows.iter().flat_map(|r| r.fixed_latency.iter().map(|p| p.1)).fold(1.0, f64::max);
    let min = rows.iter().flat_map(|r| r.fixed_latency.iter().map(|p| p.1)).fold(max, f64::min).max(0.01);
    let root = SVGBackend::new(path, (900, 520)).into_drawing_area();
    root.fill(&WHITE)?;
    let caption = format!("delivery latency, {rate} msg/s to {receivers} sockets (one run)");
    let mut chart = ChartBuilder::on(&root)
        .caption(caption, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..MAX_NINES, (min * 0.8..max * 1.25).log_scale())?;
    chart
        .configure_mesh()
        .light_line_style(TRANSPARENT)
        .x_desc("percentile")
        .y_desc("ms (log)")
        .x_labels(MAX_NINES as usize + 1)
        .x_label_formatter(&|x| format!("p{}", 100.0 * (1.0 - 10f64.powf(-x))))
        .draw()?;
    for r in rows.iter().filter(|r| !r.fixed_latency.is_empty()) {
        let c = colour(r.target);
        chart
            .draw_series(LineSeries::new(r.fixed_latency.iter().copied(), c.stroke_width(2)))?
            .label(r.target.name())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
    }
    chart.configure_series_labels().position(SeriesLabelPosition::UpperLeft).border_style(BLACK).draw()?;
    root.present()?;
    Ok(())
}

fn throughput_chart(path: &Path, rows: &[Row], counts: &[usize]) -> Result<()> {
    let max = rows.iter().map(|r| r.deliveries_per_sec).fold(1.0, f64::max);
    let min = rows.iter().map(|r| r.deliveries_per_sec).fold(max, f64::min).max(1.0);
    // The receiver counts are few and chosen by hand: one evenly spaced, labelled slot each reads
    // better than a log axis with most of its ticks between them.
    let slot = |n: usize| counts.iter().position(|&c| c == n).unwrap_or(0) as f64;
    let root = SVGBackend::new(path, (900, 520)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption("deliveries/s, sends as fast as acknowledgements allow (one run)", ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(80)
        // Headroom above the highest point keeps the legend clear of the lines.
        .build_cartesian_2d(-0.3f64..counts.len() as f64 - 0.7, (min * 0.7..max * 6.0).log_scale())?;
    chart
        .configure_mesh()
        .light_line_style(TRANSPARENT)
        .x_desc("receiving sockets")
        .y_desc("deliveries/s (log)")
        .x_labels(counts.len() * 2 + 1)
        .x_label_formatter(&|x| {
            let i = x.round();
            match counts.get(i as usize) {
                Some(n) if (x - i).abs() < 1e-6 && i >= 0.0 => n.to_string(),
                _ => String::new(),
            }
        })
        .y_labels(12)
        .y_label_formatter(&|y| si(*y))
        .draw()?;
    for t in TARGETS {
        let points: Vec<(f64, f64)> =
            rows.iter().filter(|r| r.target == t).map(|r| (slot(r.receivers), r.deliveries_per_sec)).collect();
        if points.is_empty() {
            continue;
        }
        let c = colour(t);
        chart
            .draw_series(LineSeries::new(points.iter().copied(), c.stroke_width(2)))?
            .label(t.name())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
        chart.draw_series(points.iter().map(|&p| Circle::new(p, 4, c.filled())))?;
    }
    chart.configure_series_labels().position(SeriesLabelPosition::UpperLeft).border_style(BLACK).draw()?;
    root.present()?;
    Ok(())
}

/// `2400000` as `2.4M`, `95000` as `95k`: axis labels a reader takes in at a glance.
fn si(v: f64) -> String {
    let (scaled, unit) = if v >= 1e6 {
        (v / 1e6, "M")
    } else if v >= 1e3 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    let s = format!("{scaled:.1}");
    format!("{}{unit}", s.trim_end_matches(".0"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_latency_curve_rises_from_p0_to_the_tail() {
        let mut h = Histogram::<u64>::new_with_bounds(1, 120_000_000, 2).unwrap();
        for v in 1..=10_000u64 {
            h.record(v * 10).unwrap();
        }
        let c = latency_curve(&h);
        assert_eq!(c.len(), STEPS + 1);
        assert_eq!(c[0].0, 0.0);
        assert!(c.windows(2).all(|w| w[0].1 <= w[1].1), "monotone: {c:?}");
        // p99 of 10..100,000 µs is about 99 ms.
        let p99 = c.iter().find(|p| (p.0 - 2.0).abs() < 1e-9).unwrap().1;
        assert!((95.0..=102.0).contains(&p99), "p99 {p99}");
        assert!(latency_curve(&Histogram::<u64>::new(2).unwrap()).is_empty());
    }

    #[test]
    fn axis_labels_use_k_and_m() {
        assert_eq!(si(2_400_000.0), "2.4M");
        assert_eq!(si(1_000_000.0), "1M");
        assert_eq!(si(95_000.0), "95k");
        assert_eq!(si(300.0), "300");
    }
}
