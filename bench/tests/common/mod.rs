//! What the bench's short runs share: running `parley-bench` as the README does.

use std::process::Command;

/// Runs `parley-bench` with `args`; fails the test (with both outputs) unless it succeeds, and
/// answers its stdout.
pub fn run_bench(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_parley-bench"))
        .args(args)
        .env("RUST_LIB_BACKTRACE", "0")
        .output()
        .expect("running parley-bench");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "parley-bench {args:?} failed\nstdout:\n{stdout}\nstderr:\n{stderr}");
    stdout
}
