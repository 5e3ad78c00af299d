//! Media against a real S3-compatible server (moto's, started per test on loopback), through the
//! node's REST routes and the edge's: announce, upload with plain HTTP as a browser would (the
//! presigned URL and headers, no S3 SDK), complete, download by redirect or (`redirect=false`,
//! for browsers) as JSON; and every refusal;
//! media in messages, thumbnails made by the nodes' jobs, avatars, and the cleanup sweeps.
//! Dev mode's embedded store (and expired URLs, which it refuses) is tested in `dev_mode.rs`.

use anyhow::{Context, Result, ensure};
use std::time::Duration;

use parley_tests::media::{announce, download, download_url, picture, png_bomb, stored, thumbnail, upload};
use parley_tests::s3::S3Server;
use parley_tests::{RestEnv, Target, check, node_and_edge};
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

    // Browsers: `redirect=false` answers the URL the 302 points to as JSON, with its expiry.
    let before = chrono::Utc::now();
    let j = api.get(&format!("/v1/media/{id}?redirect=false"), Some(alice.token())).await?.ok(200)?;
    let url = check::str_field(&j, "url")?.to_owned();
    ensure!(same_target(&url, &to)?, "redirect=false: {url} is not where the 302 went: {to}");
    let expires = chrono::DateTime::parse_from_rfc3339(check::str_field(&j, "expires_at")?)?;
    let ttl = expires.signed_duration_since(before).num_seconds();
    ensure!((295..=305).contains(&ttl), "the URL lasts 5 minutes: {j}");
    ensure!(j.as_object().map(|o| o.len()) == Some(2), "only url and expires_at: {j}");
    let got = http.get(&url).send().await?;
    ensure!(got.status() == 200, "{}", got.status());
    ensure!(got.bytes().await?.to_vec() == img, "the bytes behind redirect=false's URL differ");
    let r = api.get(&format!("/v1/media/{id}?redirect=true"), Some(alice.token())).await?;
    ensure!(r.status == 302 && r.header("location").is_some_and(|l| same_target(&l, &to).unwrap_or(false)), "{r:?}");
    // Strictly true or false; the 400 names the field (before any lookup: an unknown id too).
    for bad in ["no", "1", "0", "TRUE", "False", "", "true,false"] {
        let q = format!("/v1/media/{id}?redirect={bad}");
        let e = api.get(&q, Some(alice.token())).await?.error(400, "invalid_request")?;
        ensure!(e.starts_with("redirect"), "{q}: {e}");
    }
    let unknown = uuid::Uuid::new_v4();
    let e = api.get(&format!("/v1/media/{unknown}?redirect=yes"), Some(alice.token())).await?;
    ensure!(e.error(400, "invalid_request")?.starts_with("redirect"), "{e:?}");
    // The same rules: an outsider and an unknown id get the 404 of nothing; no token, 401.
    api.get(&format!("/v1/media/{id}?redirect=false"), Some(bob.token())).await?.error(404, "not_found")?;
    api.get(&format!("/v1/media/{unknown}?redirect=false"), Some(alice.token())).await?.error(404, "not_found")?;
    api.get(&format!("/v1/media/{id}?redirect=false"), None).await?.error(401, "unauthorized")?;
    let q = format!("/v1/media/{id}?variant=thumb&redirect=false");
    api.get(&q, Some(alice.token())).await?.error(404, "not_found").context("no thumbnail yet")?;

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

/// Images of each format attached to a message: the event carries their media objects, the nodes
/// make a thumbnail of each, the recipient downloads them and an outsider does not; every
/// refusal of an attachment; recall revokes access; a decompression bomb is refused; avatars are
/// for anyone signed in.
async fn media_in_messages_thumbnails_and_avatars(t: Target) -> Result<()> {
    let s3 = S3Server::start().await?;
    let env = RestEnv::start_with_vars(t, 1, &s3.vars("parley-media")).await?;
    let api = env.api(0);
    let (alice, bob, conv) = env.pair("alice", "bob").await?;
    let carol = api.signup("carol").await?;

    let mut ids = Vec::new();
    for (ty, name) in
        [("image/jpeg", "a.jpg"), ("image/png", "b.png"), ("image/gif", "c.gif"), ("image/webp", "d.webp")]
    {
        let m = stored(&api, &alice, ty, name, picture(ty, 800, 600)).await?;
        ensure!(m["width"] == 800 && m["height"] == 600, "{ty}: {m}");
        ids.push(m["id"].as_str().unwrap_or_default().to_owned());
    }
    for (id, ty) in ids.iter().zip(["jpeg", "png", "gif", "webp"]) {
        let thumb = thumbnail(&api, &alice, id, Duration::from_secs(30)).await?;
        let img = image::load_from_memory(&thumb).map_err(|e| anyhow::anyhow!("{ty} thumbnail: {e}"))?;
        ensure!((img.width(), img.height()) == (320, 240), "{ty}: {}x{}", img.width(), img.height());
    }

    // Attached: the event carries one media object per id, in order.
    let path = format!("/v1/conversations/{conv}/messages");
    let body = json!({"client_msg_id": parley_tests::cmid(), "text": "holiday", "media_ids": ids});
    let sent = api.post(&path, Some(alice.token()), &body).await?.ok(201)?;
    let media = sent["media"].as_array().cloned().unwrap_or_default();
    ensure!(media.len() == 4, "{sent}");
    for (m, id) in media.iter().zip(&ids) {
        ensure!(m["id"] == id.as_str() && m["width"] == 800 && m["has_thumbnail"] == true, "{m}");
    }
    let again = api.post(&path, Some(alice.token()), &body).await?.ok_any(&[200, 201])?;
    ensure!(again["id"] == sent["id"], "an idempotent retry answers the same event");
    let page = api.get(&format!("/v1/conversations/{conv}/events"), Some(bob.token())).await?.ok(200)?;
    let seen = page["events"].as_array().and_then(|e| e.iter().find(|e| e["id"] == sent["id"])).cloned();
    ensure!(seen.is_some_and(|e| e["media"].as_array().map(Vec::len) == Some(4)), "{page}");

    // The recipient downloads them (original and thumbnail); an outsider gets the 404 of nothing.
    ensure!(download(&api, &bob, &ids[1], "").await? == picture("image/png", 800, 600));
    download(&api, &bob, &ids[0], "?variant=thumb").await?;
    ensure!(download_url(&api, &carol, &ids[0], "").await? == Err(404));
    // The same with redirect=false: the recipient gets the thumbnail's URL, the outsider a 404.
    let to = download_url(&api, &bob, &ids[0], "?variant=thumb").await?.map_err(|s| anyhow::anyhow!("{s}"))?;
    let j = api.get(&format!("/v1/media/{}?redirect=false&variant=thumb", ids[0]), Some(bob.token())).await?.ok(200)?;
    ensure!(same_target(check::str_field(&j, "url")?, &to)?, "{j} vs {to}");
    let got = reqwest::get(check::str_field(&j, "url")?).await?;
    ensure!(got.status() == 200 && !got.bytes().await?.is_empty(), "the thumbnail behind redirect=false's URL");
    let q = format!("/v1/media/{}?redirect=false", ids[0]);
    api.get(&q, Some(carol.token())).await?.error(404, "not_found").context("an outsider")?;

    // Refusals: not completed (409), someone else's or unknown (400), too many, twice.
    let pending = announce(&api, &alice, "image/png", "later.png", 10).await?;
    let pending = pending["media_id"].as_str().unwrap_or_default().to_owned();
    let send = |who: &parley_tests::Session, media_ids: Value| {
        let body = json!({"client_msg_id": parley_tests::cmid(), "text": "x", "media_ids": media_ids});
        let (api, path, token) = (&api, &path, who.token().to_owned());
        async move { api.post(path, Some(&token), &body).await }
    };
    send(&alice, json!([pending])).await?.error(409, "conflict")?;
    let e = send(&bob, json!([ids[0]])).await?.error(400, "invalid_request")?;
    ensure!(e.starts_with("media_ids"), "{e}");
    send(&alice, json!([uuid::Uuid::new_v4()])).await?.error(400, "invalid_request")?;
    send(&alice, json!([ids[0], ids[0]])).await?.error(400, "invalid_request")?;
    let many: Vec<String> = (0..11).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    send(&alice, json!(many)).await?.error(400, "invalid_request")?;

    // Recall revokes the recipient's access by the rules; the uploader keeps hers.
    let sent_id = check::str_field(&sent, "id")?.to_owned();
    let recalled = api.post(&format!("{path}/{sent_id}/recall"), Some(alice.token()), &json!({})).await?.ok(200)?;
    ensure!(recalled["kind"] == "recall", "{recalled}");
    ensure!(download_url(&api, &bob, &ids[1], "").await? == Err(404), "recalled: bob loses access");
    ensure!(download_url(&api, &alice, &ids[1], "").await?.is_ok(), "the uploader keeps hers");
    let page = api.get(&format!("/v1/conversations/{conv}/events"), Some(bob.token())).await?.ok(200)?;
    let gone = page["events"].as_array().and_then(|e| e.iter().find(|e| e["id"] == sent_id.as_str())).cloned();
    ensure!(gone.is_some_and(|e| e["media"] == json!([]) && e["media_ids"] == json!([])), "{page}");

    // A decompression bomb: a small file claiming 30,000 × 30,000 pixels is refused and deleted.
    let bomb = png_bomb(30_000, 30_000);
    let up = announce(&api, &alice, "image/png", "bomb.png", bomb.len()).await?;
    ensure!(upload(&reqwest::Client::new(), &up, bomb).await? == 200);
    let done = format!("/v1/media/{}/complete", up["media_id"].as_str().unwrap_or_default());
    let e = api.post(&done, Some(alice.token()), &json!({})).await?.error(400, "invalid_request")?;
    ensure!(e.contains("megapixels"), "{e}");
    api.post(&done, Some(alice.token()), &json!({})).await?.error(409, "conflict")?;

    // Avatars: one's own completed image; readable by anyone signed in.
    let me = api.patch("/v1/users/me", alice.token(), &json!({"avatar_media_id": ids[2]})).await?.ok(200)?;
    ensure!(me["avatar_media_id"] == ids[2].as_str(), "{me}");
    ensure!(download_url(&api, &carol, &ids[2], "").await?.is_ok(), "anyone signed in sees an avatar");
    let profile = api.get(&format!("/v1/users/{}", alice.user_id), Some(carol.token())).await?.ok(200)?;
    ensure!(profile.to_string().contains(ids[2].as_str()), "{profile}");
    let pdf = stored(&api, &alice, "application/pdf", "cv.pdf", b"%PDF-1.7 a document".to_vec()).await?;
    let e = api
        .patch("/v1/users/me", alice.token(), &json!({"avatar_media_id": pdf["id"]}))
        .await?
        .error(400, "invalid_request")?;
    ensure!(e.starts_with("avatar_media_id"), "{e}");
    api.patch("/v1/users/me", bob.token(), &json!({"avatar_media_id": ids[3]})).await?.error(400, "invalid_request")?;
    let group = api.create_group(&alice, "Hikers", &[&bob]).await?;
    let gid = check::str_field(&group, "id")?.to_owned();
    let g =
        api.patch(&format!("/v1/groups/{gid}"), alice.token(), &json!({"avatar_media_id": ids[3]})).await?.ok(200)?;
    ensure!(g["avatar_media_id"] == ids[3].as_str(), "{g}");
    ensure!(download_url(&api, &carol, &ids[3], "").await?.is_ok(), "a group's avatar too");
    let me = api.patch("/v1/users/me", alice.token(), &json!({"avatar_media_id": null})).await?.ok(200)?;
    ensure!(me.get("avatar_media_id").is_none_or(Value::is_null), "{me}");
    ensure!(download_url(&api, &carol, &ids[2], "").await? == Err(404), "no longer an avatar");
    Ok(())
}
node_and_edge!(media_in_messages_thumbnails_and_avatars, 150);

/// The cleanup sweeps, with short settings: an upload never completed and a completed medium
/// nothing refers to are deleted from the store and the database; media in a message or an
/// avatar stay. Two nodes sweep the same database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweeps_delete_unfinished_and_unreferenced_media() -> Result<()> {
    parley_tests::run(120, async {
        let s3 = S3Server::start().await?;
        let mut vars = s3.vars("parley-media");
        for (k, v) in
            [("PARLEY_MEDIA_UNFINISHED_AFTER", "2"), ("PARLEY_MEDIA_RETENTION", "3"), ("PARLEY_MEDIA_SWEEP_EVERY", "1")]
        {
            vars.push((k.to_owned(), v.to_owned()));
        }
        let env = RestEnv::start_with_vars(Target::Node, 2, &vars).await?;
        let api = env.api(0);
        let (alice, bob, conv) = env.pair("alice", "bob").await?;
        let http = reqwest::Client::new();

        let png = picture("image/png", 64, 48);
        let unfinished = announce(&api, &alice, "image/png", "never.png", png.len()).await?;
        ensure!(upload(&http, &unfinished, png.clone()).await? == 200);
        let unfinished_url = object_url(&s3, &format!("media/{}", unfinished["media_id"].as_str().unwrap_or_default()));
        let unused = stored(&api, &alice, "image/png", "unused.png", png.clone()).await?;
        let posted = stored(&api, &alice, "image/png", "posted.png", png.clone()).await?;
        let avatar = stored(&api, &alice, "image/png", "me.png", png.clone()).await?;
        let body = json!({"client_msg_id": parley_tests::cmid(), "media_ids": [posted["id"]]});
        api.post(&format!("/v1/conversations/{conv}/messages"), Some(alice.token()), &body).await?.ok(201)?;
        api.patch("/v1/users/me", alice.token(), &json!({"avatar_media_id": avatar["id"]})).await?.ok(200)?;
        ensure!(http.head(&unfinished_url).send().await?.status() == 200, "the unfinished upload is in the store");

        let id = |m: &Value| m["id"].as_str().unwrap_or_default().to_owned();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let unused_gone = download_url(&api, &alice, &id(&unused), "").await? == Err(404);
            let unfinished_gone = http.head(&unfinished_url).send().await?.status() == 404;
            if unused_gone && unfinished_gone {
                break;
            }
            ensure!(
                std::time::Instant::now() < deadline,
                "not swept within 30 s: unused {unused_gone}, unfinished {unfinished_gone}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        // Its thumbnail went with it; what is in use stays, bytes and all.
        let unused_thumb = object_url(&s3, &format!("thumbs/{}", id(&unused)));
        ensure!(http.head(&unused_thumb).send().await?.status() == 404, "the thumbnail is deleted too");
        let posted_thumb = object_url(&s3, &format!("thumbs/{}", id(&posted)));
        ensure!(http.head(&posted_thumb).send().await?.status() == 200, "a posted medium's thumbnail stays");
        ensure!(download(&api, &bob, &id(&posted), "").await? == png, "a posted medium stays");
        ensure!(download(&api, &bob, &id(&avatar), "").await? == png, "an avatar stays");
        Ok(())
    })
    .await
}

/// A presigned `HEAD` of `key` in the tests' bucket, as a node would sign it.
/// Whether two presigned URLs point at the same object with the same response headers: the
/// same origin, path and query but for the signing time and signature (and the credential's
/// date), which differ when they were signed in different seconds.
fn same_target(a: &str, b: &str) -> Result<bool> {
    let signed_at = ["X-Amz-Date", "X-Amz-Signature", "X-Amz-Credential"];
    let target = |u: &str| -> Result<reqwest::Url> {
        let mut u = reqwest::Url::parse(u)?;
        let mut q: Vec<(String, String)> =
            u.query_pairs().into_owned().filter(|(k, _)| !signed_at.contains(&k.as_str())).collect();
        q.sort();
        u.query_pairs_mut().clear().extend_pairs(q);
        Ok(u)
    };
    Ok(target(a)? == target(b)?)
}

fn object_url(s3: &S3Server, key: &str) -> String {
    s3.presigner("parley-media").head(key, Duration::from_secs(60), parley_shared::time::Timestamp::now())
}
