//! The media phase (`parley-bench --media`):
//! 1. presigning an upload URL with the shared IO-free signer (rusty-s3, what the edge runs)
//!    against the AWS SDK's presigning of the same request, in the same invocation (ratio);
//! 2. the node's thumbnail of a 4000 × 3000 photo in each format (decode, scale, encode);
//! 3. end to end against a release node and moto's S3 server: upload → complete → the thumbnail
//!    downloadable (made by the node's job), p50/p99 over `--media-uploads` images.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::presigning::PresigningConfig;
use hdrhistogram::Histogram;
use parley_shared::objects::{ObjectsConfig, Presigner};
use parley_shared::time::Timestamp;
use parley_tests::media::{picture, stored, thumbnail};
use parley_tests::s3::S3Server;
use parley_tests::{RestEnv, Target};

use crate::Args;

pub(crate) async fn bench(args: &Args) -> Result<()> {
    presigning(args.media_presigns).await?;
    thumbnails()?;
    end_to_end(args.media_uploads).await
}

async fn presigning(n: usize) -> Result<()> {
    let config = ObjectsConfig {
        endpoint: Some("http://127.0.0.1:9000".into()),
        bucket: "parley-media".into(),
        region: "us-east-1".into(),
        access_key_id: "AKIDBENCH".into(),
        secret_access_key: "secret".into(),
    };
    let ours = Presigner::new(&config)?;
    let ttl = Duration::from_secs(600);
    let started = Instant::now();
    let mut bytes = 0;
    for i in 0..n {
        bytes += ours.put(&format!("media/{i}"), "image/png", 48_213, ttl, Timestamp::now()).url.len();
    }
    let rusty = started.elapsed();

    let sdk = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("AKIDBENCH", "secret", None, None, "bench"))
            .endpoint_url("http://127.0.0.1:9000")
            .force_path_style(true)
            .build(),
    );
    let started = Instant::now();
    for i in 0..n {
        let p = sdk
            .put_object()
            .bucket("parley-media")
            .key(format!("media/{i}"))
            .content_type("image/png")
            .content_length(48_213)
            .presigned(PresigningConfig::expires_in(ttl)?)
            .await?;
        bytes += p.uri().len();
    }
    let aws = started.elapsed();
    let per = |d: Duration| d.as_secs_f64() * 1e6 / n as f64;
    println!("\n== media: presigning a PUT (type and length signed), {n} URLs each (total URL bytes {bytes})");
    println!("| signer | µs per URL | ratio |");
    println!("|---|---|---|");
    println!("| aws-sdk-s3 presigning (baseline, same invocation) | {:.2} | 1.00 |", per(aws));
    println!(
        "| rusty-s3 via shared Presigner (the edge's and node's) | {:.2} | {:.2} |",
        per(rusty),
        per(rusty) / per(aws)
    );
    Ok(())
}

fn thumbnails() -> Result<()> {
    println!("\n== media: one thumbnail of a 4000 × 3000 photo (decode, scale to 320 × 240, encode), median of 5");
    println!("| format | input bytes | ms |");
    println!("|---|---|---|");
    for ty in ["image/jpeg", "image/png", "image/gif", "image/webp"] {
        let bytes = picture(ty, 4000, 3000);
        let mut times: Vec<f64> = (0..5)
            .map(|_| {
                let t = Instant::now();
                parley_node::jobs::thumbnail::make(&bytes, ty).expect("a thumbnail");
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        times.sort_by(f64::total_cmp);
        println!("| {ty} | {} | {:.0} |", bytes.len(), times[2]);
    }
    Ok(())
}

async fn end_to_end(n: usize) -> Result<()> {
    let s3 = S3Server::start().await?;
    let env = RestEnv::start_with_vars(Target::Node, 1, &s3.vars("parley-media")).await?;
    let api = env.api(0);
    let alice = api.signup("alice").await?;
    let (mut stored_h, mut thumb_h) = (Histogram::<u64>::new(3)?, Histogram::<u64>::new(3)?);
    for i in 0..n {
        let img = picture("image/jpeg", 1600, 1200);
        let t = Instant::now();
        let m = stored(&api, &alice, "image/jpeg", &format!("{i}.jpg"), img).await?;
        stored_h.record(t.elapsed().as_micros() as u64)?;
        let t = Instant::now();
        thumbnail(&api, &alice, m["id"].as_str().context("id")?, Duration::from_secs(30)).await?;
        thumb_h.record(t.elapsed().as_micros() as u64)?;
    }
    let ms = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1e3;
    println!("\n== media: {n} JPEG photos (1600 × 1200) through a node and moto's S3 server");
    println!("| step | p50 ms | p99 ms |");
    println!("|---|---|---|");
    println!("| announce + PUT + complete | {:.1} | {:.1} |", ms(&stored_h, 0.5), ms(&stored_h, 0.99));
    println!("| complete → thumbnail downloadable | {:.1} | {:.1} |", ms(&thumb_h, 0.5), ms(&thumb_h, 0.99));
    Ok(())
}
