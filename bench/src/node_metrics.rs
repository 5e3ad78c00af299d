//! Where a node's time went: its own commit and fan-out timings, read from its `/metrics` after a
//! phase and printed beside the generator's figures.

use anyhow::Result;
use parley_tests::Api;

/// The summaries printed: the commit worker's batches, and the hub's rounds and event ages.
const PRINTED: [&str; 5] = [
    "parley_commit_seconds{",
    "parley_commit_batch_size{",
    "parley_commit_event_age_seconds{",
    "parley_hub_event_age_seconds{",
    "parley_hub_round_seconds{",
];

/// Prints the node's commit and hub summaries (whole run), each line prefixed by `label`.
pub(crate) async fn print(label: &str, api: &Api) -> Result<()> {
    let text = api.get("/metrics", None).await?.text;
    for l in text.lines().filter(|l| PRINTED.iter().any(|m| l.starts_with(m))) {
        eprintln!("  {label}: {l}");
    }
    Ok(())
}
