//! `parley-bench --edge`: the edge worker under `wrangler dev` (workerd) against a release node
//! on the same private Postgres cluster.
//!
//! Prints, in one run:
//! - the bundle: `edge/build/index_bg.wasm` raw and gzipped (after wasm-opt) and the JS shim
//!   (`edge/build/index.js`);
//! - the cold start of `wrangler dev` to its first `/healthz` 200 (median of three starts);
//! - argon2id inside workerd for a few OWASP-equivalent parameter sets (the test-only
//!   `/__test/argon2` route, timed from outside minus a `/healthz` round trip);
//! - register, login and send (`POST /v1/conversations/{id}/messages`) p50/p99 through the edge
//!   and through the node's native REST, sequentially, with the ratio edge / node.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::bench_node;
use anyhow::{Context, Result, bail, ensure};
use hdrhistogram::Histogram;
use parley_tests::{Api, Edge, Node, Session, TestDb, cluster::workspace_root, cmid};
use serde_json::json;

use crate::Args;

pub async fn bench(args: &Args) -> Result<()> {
    bundle()?;
    let db = TestDb::create().await.context("creating the bench database")?;

    let mut starts = Vec::new();
    for _ in 0..3 {
        let edge = Edge::start(&db).await?;
        starts.push(edge.cold_start);
    }
    starts.sort();
    println!(
        "edge cold start  wrangler dev spawn -> first /healthz 200: median {:.2} s (runs: {})",
        starts[1].as_secs_f64(),
        starts.iter().map(|d| format!("{:.2} s", d.as_secs_f64())).collect::<Vec<_>>().join(", ")
    );

    let node = Node::start_with(&db, bench_node("bench-edge-node")).await?;
    let edge = Edge::start(&db).await?;
    let (napi, eapi) = (node.api(), edge.api());
    argon2(&eapi).await?;

    // Register: one argon2id hash (node: DEFAULT natively on a blocking thread; edge: EDGE in wasm).
    let n = args.edge_logins;
    let reg_node = timed(n, |i| {
        let api = napi.clone();
        async move { api.register(&format!("rn{i}"), parley_tests::api::PASSWORD).await?.ok(201).map(drop) }
    })
    .await?;
    let reg_edge = timed(n, |i| {
        let api = eapi.clone();
        async move { api.register(&format!("re{i}"), parley_tests::api::PASSWORD).await?.ok(201).map(drop) }
    })
    .await?;
    report("register", n, &reg_node, &reg_edge);

    // Login: the same user (an edge-made hash) on both, so both verify the same argon2id work.
    let alice = eapi.signup("alice").await?;
    let bob = eapi.signup("bob").await?;
    let conv = eapi.direct_id(&alice, &bob).await?;
    let login = |api: Api, s: Session| {
        move |_: usize| {
            let (api, s) = (api.clone(), s.clone());
            async move { api.login(&s.username, &s.password).await?.ok(200).map(drop) }
        }
    };
    let login_node = timed(n, login(napi.clone(), alice.clone())).await?;
    let login_edge = timed(n, login(eapi.clone(), alice.clone())).await?;
    report("login", n, &login_node, &login_edge);

    // Send: one REST send, one transaction each.
    let m = args.edge_requests;
    let send = |api: Api, token: String, conv: String| {
        move |i: usize| {
            let (api, token, conv) = (api.clone(), token.clone(), conv.clone());
            async move {
                api.post(
                    &format!("/v1/conversations/{conv}/messages"),
                    Some(&token),
                    &json!({"client_msg_id": cmid(), "text": format!("bench {i}")}),
                )
                .await?
                .ok(201)
                .map(drop)
            }
        }
    };
    let send_node = timed(m, send(napi.clone(), alice.access_token.clone(), conv.clone())).await?;
    let send_edge = timed(m, send(eapi.clone(), alice.access_token.clone(), conv.clone())).await?;
    report("send", m, &send_node, &send_edge);

    let health_node = timed(m, |_| {
        let api = napi.clone();
        async move { api.healthz().await?.ok(200).map(drop) }
    })
    .await?;
    let health_edge = timed(m, |_| {
        let api = eapi.clone();
        async move { api.healthz().await?.ok(200).map(drop) }
    })
    .await?;
    report("healthz (no db)", m, &health_node, &health_edge);
    drop(edge);
    drop(node);
    Ok(())
}

fn size(path: &Path) -> Result<u64> {
    Ok(std::fs::metadata(path).with_context(|| format!("{} (run scripts/build-edge)", path.display()))?.len())
}

fn gzipped(path: &Path) -> Result<u64> {
    let out = std::process::Command::new("gzip").arg("-9c").arg(path).output().context("running gzip")?;
    ensure!(out.status.success(), "gzip -9c {} failed", path.display());
    Ok(out.stdout.len() as u64)
}

fn bundle() -> Result<()> {
    let build = workspace_root().join("edge/build");
    let wasm = build.join("index_bg.wasm");
    let shim = build.join("index.js");
    let kib = |b: u64| b as f64 / 1024.0;
    println!(
        "edge bundle  index_bg.wasm {:.0} KiB ({:.0} KiB gzipped), JS shim index.js {:.1} KiB ({:.1} KiB gzipped)",
        kib(size(&wasm)?),
        kib(gzipped(&wasm)?),
        kib(size(&shim)?),
        kib(gzipped(&shim)?)
    );
    Ok(())
}

async fn argon2(api: &Api) -> Result<()> {
    let base = timed(20, |_| {
        let api = api.clone();
        async move { api.healthz().await?.ok(200).map(drop) }
    })
    .await?;
    let base_ms = base.value_at_quantile(0.5) as f64 / 1000.0;
    let mut line = String::new();
    for (m_kib, t) in [(19 * 1024, 2), (12 * 1024, 3), (9 * 1024, 4), (7 * 1024, 5)] {
        let h = timed(10, |_| {
            let api = api.clone();
            async move {
                let r = api.get(&format!("/__test/argon2?m_kib={m_kib}&t={t}&p=1"), None).await?;
                if r.status != 200 {
                    bail!("/__test/argon2: {} {}", r.status, r.text);
                }
                Ok(())
            }
        })
        .await?;
        let ms = h.value_at_quantile(0.5) as f64 / 1000.0 - base_ms;
        line.push_str(&format!(", m={}MiB t={t}: {ms:.0} ms", m_kib / 1024));
    }
    println!("edge argon2id in workerd, one hash, p=1, median of 10 minus a /healthz round trip{line}");
    Ok(())
}

/// Runs `f(0..n)` one after another (after 5 warm-up calls) and records each latency in µs.
async fn timed<F, Fut>(n: usize, f: F) -> Result<Histogram<u64>>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    for i in 0..5 {
        f(1_000_000 + i).await?;
    }
    let mut h = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)?;
    for i in 0..n {
        let t0 = Instant::now();
        f(i).await?;
        h.record(t0.elapsed().as_micros().max(1) as u64)?;
    }
    Ok(h)
}

fn report(what: &str, n: usize, node: &Histogram<u64>, edge: &Histogram<u64>) {
    let ms = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    let d = |h: &Histogram<u64>| Duration::from_micros(h.value_at_quantile(0.5));
    println!(
        "edge vs node  {what} ({n} sequential): node p50 {:.2} ms p99 {:.2} ms | edge p50 {:.2} ms p99 {:.2} ms | edge/node p50 {:.2}x p99 {:.2}x",
        ms(node, 0.5),
        ms(node, 0.99),
        ms(edge, 0.5),
        ms(edge, 0.99),
        d(edge).as_secs_f64() / d(node).as_secs_f64().max(1e-9),
        ms(edge, 0.99) / ms(node, 0.99).max(1e-9)
    );
}
