//! The reconnect bench's short run: a few hundred clients on a node that is SIGKILLed and
//! restarted must all come back and get exactly the messages they missed, so `scripts/bench
//! --reconnect` keeps working. Figures come from the long run, not from here.

mod common;

#[test]
fn reconnect_bench_brings_every_client_back_with_what_it_missed() {
    let stdout = common::run_bench(&["--reconnect", "--reconnect-clients", "300", "--reconnect-missed", "5"]);
    let row = stdout.lines().find(|l| l.starts_with("| 300 | 5 |")).unwrap_or_else(|| panic!("no row:\n{stdout}"));
    assert!(row.ends_with("| 0 |"), "clients that missed or repeated messages: {row}");
}
