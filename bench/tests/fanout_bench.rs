//! The fan-out bench's short run: every target (the do-nothing server, a Parley node, Socket.IO,
//! ws) through every phase with a few receivers, without and with clients that never read, so
//! `scripts/bench --fanout` keeps working and no target loses or repeats a delivery to the
//! clients that do read. Figures come from the long run, not from here.

mod common;

#[test]
fn fanout_bench_runs_every_target_without_losing_a_delivery() {
    let charts = std::env::temp_dir().join(format!("parley-fanout-charts-{}", std::process::id()));
    let stdout = common::run_bench(&[
        "--fanout",
        "--fanout-receivers",
        "50",
        "--fanout-messages",
        "30",
        "--fanout-rate",
        "20",
        "--fanout-secs",
        "1",
        "--fanout-stalled",
        "20",
        "--fanout-charts",
        charts.to_str().expect("utf-8 temp dir"),
    ]);
    for target in ["null (ceiling)", "parley", "socket.io 4.8", "ws 8"] {
        for label in [target.to_owned(), format!("{target} +20 stalled")] {
            let row = stdout.lines().rev().find(|l| l.starts_with(&format!("| {label} | 50 |")));
            let row = row.unwrap_or_else(|| panic!("no row for {label}:\n{stdout}"));
            assert!(row.contains("| 0 / 0 |"), "{label} lost or repeated deliveries: {row}");
        }
    }
    for chart in ["fanout-latency-50.svg", "fanout-throughput.svg"] {
        let svg = std::fs::read_to_string(charts.join(chart)).unwrap_or_else(|e| panic!("{chart}: {e}"));
        assert!(svg.starts_with("<svg") && svg.contains("parley") && svg.contains("socket.io 4.8"), "{chart}:\n{svg}");
        assert!(svg.matches("<polyline").count() >= 4, "a line per target in {chart}");
    }
    let _ = std::fs::remove_dir_all(&charts);
}
