//! The fan-out bench's short run: every target (the do-nothing server, a Parley node, Socket.IO,
//! ws) through every phase with a few receivers, so `scripts/bench --fanout` keeps working and
//! no target loses or repeats a delivery. Figures come from the long run, not from here.

use std::process::Command;

#[test]
fn fanout_bench_runs_every_target_without_losing_a_delivery() {
    let out = Command::new(env!("CARGO_BIN_EXE_parley-bench"))
        .args([
            "--fanout",
            "--fanout-receivers",
            "50",
            "--fanout-messages",
            "30",
            "--fanout-rate",
            "20",
            "--fanout-secs",
            "1",
        ])
        .env("RUST_LIB_BACKTRACE", "0")
        .output()
        .expect("running parley-bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "parley-bench --fanout failed\nstdout:\n{stdout}\nstderr:\n{stderr}");
    for target in ["null (ceiling)", "parley", "socket.io 4.8", "ws 8"] {
        let row = stdout.lines().rev().find(|l| l.starts_with(&format!("| {target} | 50 |")));
        let row = row.unwrap_or_else(|| panic!("no row for {target}:\n{stdout}"));
        assert!(row.contains("| 0 / 0 |"), "{target} lost or repeated deliveries: {row}");
    }
}
