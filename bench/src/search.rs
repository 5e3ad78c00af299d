//! The search phase (`parley-bench --search`): full-text search latency through a node's REST
//! route over `--search-messages` stored messages (1,000,000 by default).
//!
//! How the data is made: one reader is a member of 20 direct conversations (with 20 writers);
//! messages are spread over them round-robin and inserted straight into `events` in batches of
//! 20,000 (`unnest`), each with its search terms made by the same `rules::search::tsvector` the
//! send path uses. A message is 6 to 18 words drawn from a Zipf-like distribution over a
//! 20,000-word vocabulary (so a few words are in a large share of the messages and most are
//! rare); one message in ten is a Chinese sentence of 8 to 24 characters drawn the same way from
//! 500 characters. The GIN index is built after the load, then `ANALYZE`.

use std::time::Instant;

use anyhow::{Context, Result};
use hdrhistogram::Histogram;
use parley_shared::rules::search::tsvector;
use parley_tests::{Node, TestDb};
use serde_json::json;

use crate::{Args, bench_node};

/// Deterministic xorshift.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Zipf-like rank in `0..n`: small ranks are far more likely.
    fn zipf(&mut self, n: usize) -> usize {
        let r = ((n as f64).powf(self.unit()) - 1.0) as usize;
        r.min(n - 1)
    }
    fn between(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next() as usize) % (hi - lo + 1)
    }
}

const SYLLABLES: [&str; 24] = [
    "ka", "lo", "mi", "ne", "ra", "to", "su", "vi", "ze", "pa", "do", "qu", "ri", "fe", "gu", "ho", "ja", "le", "mo",
    "ny", "os", "pe", "ti", "wa",
];

/// Word `i` of the vocabulary: two to four syllables, distinct for distinct `i`.
fn word(i: usize) -> String {
    let mut w = String::new();
    let mut n = i + 24 * 24;
    while n > 0 {
        w.push_str(SYLLABLES[n % 24]);
        n /= 24;
    }
    w
}

/// Character `i` of the CJK pool (common ideographs from U+4E00).
fn han(i: usize) -> char {
    char::from_u32(0x4E00 + (i as u32 * 37) % 0x5000).unwrap_or('中')
}

fn message(rng: &mut Rng) -> String {
    if rng.next().is_multiple_of(10) {
        (0..rng.between(8, 24)).map(|_| han(rng.zipf(500))).collect()
    } else {
        (0..rng.between(6, 18)).map(|_| word(rng.zipf(20_000))).collect::<Vec<_>>().join(" ")
    }
}

/// Runs the phase.
pub async fn bench(args: &Args) -> Result<()> {
    let db = TestDb::create().await.context("creating the bench database")?;
    let node = Node::start_with(&db, bench_node("bench-search")).await?;
    let api = node.api();
    let reader = api.signup("reader").await?;
    let mut convs: Vec<uuid::Uuid> = Vec::new();
    let mut writers: Vec<uuid::Uuid> = Vec::new();
    for i in 0..20 {
        let w = api.signup(&format!("writer{i}")).await?;
        convs.push(api.direct_id(&reader, &w).await?.parse()?);
        writers.push(w.user_id.parse()?);
    }
    let c = db.client().await?;
    c.batch_execute("DROP INDEX events_search_idx").await?;
    let total = args.search_messages;
    let started = Instant::now();
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let mut seqs = vec![0i64; convs.len()];
    let mut done = 0;
    while done < total {
        let n = (total - done).min(20_000);
        let (mut ids, mut cv, mut sq, mut snd, mut cm, mut body, mut sv) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for k in 0..n {
            let i = (done + k) % convs.len();
            seqs[i] += 1;
            let text = message(&mut rng);
            ids.push(parley_shared::ids::new_uuid_v7());
            cv.push(convs[i]);
            sq.push(seqs[i]);
            snd.push(writers[i]);
            let key = format!("s{}", done + k);
            body.push(json!({"kind": "message", "client_msg_id": key, "text": text, "media_ids": [], "reply_to": null, "mentions": []}));
            cm.push(key);
            sv.push(tsvector(&text));
        }
        c.execute(
            "INSERT INTO events (id, conversation_id, seq, kind, sender_id, client_msg_id, body, search) \
             SELECT i, cv, s, 'message', u, m, b, v::tsvector \
             FROM unnest($1::uuid[], $2::uuid[], $3::int8[], $4::uuid[], $5::text[], $6::jsonb[], $7::text[]) \
                  AS t(i, cv, s, u, m, b, v)",
            &[&ids, &cv, &sq, &snd, &cm, &body, &sv],
        )
        .await
        .context("inserting messages")?;
        done += n;
    }
    for (i, conv) in convs.iter().enumerate() {
        c.execute("UPDATE conversations SET last_seq = $2 WHERE id = $1", &[conv, &seqs[i]]).await?;
    }
    let loaded = started.elapsed();
    let t = Instant::now();
    c.batch_execute(
        "CREATE INDEX events_search_idx ON events USING gin (search) WHERE search IS NOT NULL; ANALYZE events;",
    )
    .await?;
    println!(
        "search  {total} messages in 20 conversations loaded in {:.1} s, GIN index built in {:.1} s",
        loaded.as_secs_f64(),
        t.elapsed().as_secs_f64()
    );
    let share = |q: &str| {
        let q = q.to_owned();
        let c = &c;
        async move {
            let row = c
                .query_one(
                    "SELECT count(*) FROM events WHERE search @@ $1::text::tsquery",
                    &[&parley_shared::rules::search::query(&q).map(|x| x.tsquery()).unwrap_or_default()],
                )
                .await?;
            anyhow::Ok(row.get::<_, i64>(0))
        }
    };
    let queries: Vec<(&str, String)> = vec![
        ("rare word", word(15_000)),
        ("mid word", word(300)),
        ("common word", word(0)),
        ("two words", format!("{} {}", word(40), word(900))),
        ("prefix", word(2_000).chars().take(5).collect()),
        ("chinese pair", [han(3), han(4)].iter().collect()),
    ];
    for (label, q) in &queries {
        let matches = share(q).await?;
        let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
        let url = format!("/v1/search/messages?q={}", urlencode(q));
        for _ in 0..args.search_queries {
            let t = Instant::now();
            api.get(&url, Some(reader.token())).await?.ok(200)?;
            h.record(t.elapsed().as_micros().max(1) as u64)?;
        }
        let ms = |v: u64| v as f64 / 1000.0;
        println!(
            "search  {label:<12} {q:?} ({matches} matching messages): p50 {:.2} ms, p99 {:.2} ms over {} queries (first page of 50)",
            ms(h.value_at_quantile(0.5)),
            ms(h.value_at_quantile(0.99)),
            h.len()
        );
    }
    Ok(())
}

fn urlencode(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}
