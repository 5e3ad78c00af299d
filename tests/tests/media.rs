//! Media against a real S3-compatible server (moto's, started per test on loopback), through the
//! node's REST routes and the edge's: announce, upload with plain HTTP as a browser would (the
//! presigned URL and headers, no S3 SDK), complete, download by redirect; and every refusal.

use anyhow::{Result, ensure};
use parley_tests::s3::S3Server;
use parley_tests::{RestEnv, Target, node_and_edge};
use serde_json::{Value, json};

/// A PNG as far as its header goes (signature, IHDR with the size, IEND): enough for sniffing and
/// dimensions.
fn png(width: u32, height: u32) -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n".to_vec();
    b.extend_from_slice(&13u32.to_be_bytes());
    b.extend_from_slice(b"IHDR");
    b.extend_from_slice(&width.to_be_bytes());
    b.extend_from_slice(&height.to_be_bytes());
    b.extend_from_slice(&[8, 6, 0, 0, 0, 0, 0, 0, 0]);
    b.extend_from_slice(&[0, 0, 0, 0]);
    b.extend_from_slice(b"IEND\xaeB`\x82");
    b
}

/// PUTs `bytes` to the upload URL with its headers (a browser cannot set Content-Length; the
/// client library sends the body's own).
async fn upload(http: &reqwest::Client, up: &Value, bytes: Vec<u8>) -> Result<u16> {
    let mut req = http.put(up["upload_url"].as_str().unwrap_or_default());
    for (k, v) in up["upload_headers"].as_object().into_iter().flatten() {
        if k != "content-length" {
            req = req.header(k, v.as_str().unwrap_or_default());
        }
    }
    Ok(req.body(bytes).send().await?.status().as_u16())
}

async fn upload_complete_download_and_refusals(t: Target) -> Result<()> {
    let s3 = S3Server::start().await?;
    let env = RestEnv::start_with_vars(t, 1, &s3.vars("parley-media")).await?;
    let api = env.api(0);
    let (alice, bob, _conv) = env.pair("alice", "bob").await?;
    let http = reqwest::Client::new();
    let img = png(640, 480);

    let up = api
        .post(
            "/v1/media",
            Some(alice.token()),
            &json!({"content_type": "image/png", "size": img.len(), "filename": "harbour at dusk.png"}),
        )
        .await?
        .ok(201)?;
    let id = up["media_id"].as_str().unwrap_or_default().to_owned();
    ensure!(up["upload_headers"]["content-type"] == "image/png", "{up}");
    ensure!(up["expires_at"].is_string(), "{up}");
    let complete = format!("/v1/media/{id}/complete");
    let e = api.post(&complete, Some(alice.token()), &json!({})).await?.ok(409)?;
    ensure!(e["error"]["message"].as_str().unwrap_or("").contains("nothing was uploaded"), "{e}");
    api.get(&format!("/v1/media/{id}"), Some(alice.token())).await?.ok(404)?;

    ensure!(upload(&http, &up, img.clone()).await? == 200, "upload refused");
    api.post(&complete, Some(bob.token()), &json!({})).await?.ok(404)?;
    let m = api.post(&complete, Some(alice.token()), &json!({})).await?.ok(200)?;
    ensure!(m["width"] == 640 && m["height"] == 480 && m["has_thumbnail"] == false, "{m}");
    ensure!(m["filename"] == "harbour at dusk.png" && m["size"] == img.len(), "{m}");
    let again = api.post(&complete, Some(alice.token()), &json!({})).await?.ok(200)?;
    ensure!(again == m, "completing twice answers the same");

    // The uploader downloads by redirect; the bytes come from the store with the filename.
    let r = api.get(&format!("/v1/media/{id}"), Some(alice.token())).await?;
    ensure!(r.status == 302, "{} {}", r.status, r.text);
    let to = r.headers.get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    ensure!(to.starts_with(&s3.endpoint), "{to}");
    let got = http.get(&to).send().await?;
    ensure!(got.status() == 200, "{}", got.status());
    let disposition = got.headers().get("content-disposition").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    ensure!(disposition.starts_with("inline") && disposition.contains("harbour"), "{disposition}");
    ensure!(got.bytes().await?.to_vec() == img, "the downloaded bytes differ");

    // Nobody else: the same 404 as an id that does not exist; no token: 401.
    api.get(&format!("/v1/media/{id}"), Some(bob.token())).await?.ok(404)?;
    api.get(&format!("/v1/media/{}", uuid::Uuid::new_v4()), Some(alice.token())).await?.ok(404)?;
    api.get(&format!("/v1/media/{id}"), None).await?.ok(401)?;
    api.get(&format!("/v1/media/{id}?variant=thumb"), Some(alice.token())).await?.ok(404)?;
    api.get(&format!("/v1/media/{id}?variant=huge"), Some(alice.token())).await?.ok(400)?;

    // Declared-field refusals name the field.
    let create = |body: Value| {
        let api = &api;
        let alice = &alice;
        async move { api.post("/v1/media", Some(alice.token()), &body).await }
    };
    let e = create(json!({"content_type": "text/html", "size": 10, "filename": "x.html"})).await?.ok(400)?;
    ensure!(e["error"]["message"].as_str().unwrap_or("").starts_with("content_type"), "{e}");
    let e = create(json!({"content_type": "image/png", "size": 25 * 1024 * 1024 + 1, "filename": "big.png"}))
        .await?
        .ok(413)?;
    ensure!(e["error"]["message"].as_str().unwrap_or("").starts_with("size"), "{e}");
    create(json!({"content_type": "image/png", "size": 0, "filename": "x.png"})).await?.ok(400)?;
    create(json!({"content_type": "image/png", "size": 10, "filename": "../x.png"})).await?.ok(400)?;
    create(json!({"content_type": "image/png", "size": 10, "filename": "x\u{0}.png"})).await?.ok(400)?;
    create(json!({"content_type": "image/png", "size": 10})).await?.ok(400)?;
    api.post("/v1/media", None, &json!({"content_type": "image/png", "size": 10, "filename": "x.png"}))
        .await?
        .ok(401)?;

    // Bytes of another type: refused at completion and deleted from the store.
    let html = b"<html><body>not a picture</body></html>".to_vec();
    let up = create(json!({"content_type": "image/png", "size": html.len(), "filename": "fake.png"})).await?.ok(201)?;
    ensure!(upload(&http, &up, html).await? == 200);
    let done = format!("/v1/media/{}/complete", up["media_id"].as_str().unwrap_or_default());
    let e = api.post(&done, Some(alice.token()), &json!({})).await?.ok(400)?;
    ensure!(e["error"]["message"].as_str().unwrap_or("").starts_with("content_type"), "{e}");
    let e = api.post(&done, Some(alice.token()), &json!({})).await?.ok(409)?;
    ensure!(e["error"]["message"].as_str().unwrap_or("").contains("nothing was uploaded"), "the object is gone: {e}");

    // Fewer bytes than declared: the store refuses them (the size is signed) or completion does.
    let up = create(json!({"content_type": "text/plain", "size": 100, "filename": "notes.txt"})).await?.ok(201)?;
    let status = upload(&http, &up, b"short".to_vec()).await?;
    let done = format!("/v1/media/{}/complete", up["media_id"].as_str().unwrap_or_default());
    let r = api.post(&done, Some(alice.token()), &json!({})).await?;
    if status == 200 {
        ensure!(r.status == 409 && r.text.contains("size"), "a short upload completed: {} {}", r.status, r.text);
    } else {
        ensure!(r.status == 409, "{} {}", r.status, r.text);
    }
    Ok(())
}
node_and_edge!(upload_complete_download_and_refusals, 90);

/// Without `S3_*` the media routes answer 503 with the contract's envelope; the rest still works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_object_storage_media_is_unavailable() -> Result<()> {
    parley_tests::run(60, async {
        let env = RestEnv::start(Target::Node, 1).await?;
        let api = env.api(0);
        let alice = api.signup("alice").await?;
        let e = api
            .post(
                "/v1/media",
                Some(alice.token()),
                &json!({"content_type": "image/png", "size": 10, "filename": "x.png"}),
            )
            .await?
            .ok(503)?;
        ensure!(e["error"]["code"] == "unavailable", "{e}");
        Ok(())
    })
    .await
}
