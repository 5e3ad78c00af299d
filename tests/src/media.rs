//! Media test helpers: real images of each format, uploads with plain HTTP the way a browser or
//! app sends them (the presigned URL and its headers, no S3 SDK), and the upload → complete
//! round trip.

use std::io::Cursor;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use serde_json::{Value, json};

use crate::{Api, Session};

/// An `width` × `height` picture encoded as `content_type` (JPEG, PNG, GIF or WebP).
pub fn picture(content_type: &str, width: u32, height: u32) -> Vec<u8> {
    let format = match content_type {
        "image/jpeg" => ImageFormat::Jpeg,
        "image/png" => ImageFormat::Png,
        "image/gif" => ImageFormat::Gif,
        "image/webp" => ImageFormat::WebP,
        other => panic!("no pictures of {other}"),
    };
    let img = RgbImage::from_fn(width, height, |x, y| Rgb([(x % 256) as u8, (y % 256) as u8, 90]));
    let img = if format == ImageFormat::Gif {
        DynamicImage::ImageRgba8(DynamicImage::ImageRgb8(img).to_rgba8())
    } else {
        DynamicImage::ImageRgb8(img)
    };
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format).expect("encoding a test picture");
    out.into_inner()
}

/// A PNG whose header claims `width` × `height` pixels with (almost) no pixel data behind it: a
/// decompression bomb, valid up to its first chunk.
pub fn png_bomb(width: u32, height: u32) -> Vec<u8> {
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut b = b"\x89PNG\r\n\x1a\n".to_vec();
    b.extend_from_slice(&13u32.to_be_bytes());
    b.extend_from_slice(&ihdr);
    b.extend_from_slice(&crc32(&ihdr).to_be_bytes());
    b.extend_from_slice(&[0; 64]);
    b
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for b in data {
        crc ^= u32::from(*b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// PUTs `bytes` to an upload's URL with its headers (a browser cannot set Content-Length; the
/// HTTP library sends the body's own). Returns the store's status.
pub async fn upload(http: &reqwest::Client, up: &Value, bytes: Vec<u8>) -> Result<u16> {
    let mut req = http.put(up["upload_url"].as_str().unwrap_or_default());
    for (k, v) in up["upload_headers"].as_object().into_iter().flatten() {
        if k != "content-length" {
            req = req.header(k, v.as_str().unwrap_or_default());
        }
    }
    Ok(req.body(bytes).send().await?.status().as_u16())
}

/// `POST /v1/media` for `bytes`; returns the upload answer.
pub async fn announce(api: &Api, who: &Session, content_type: &str, filename: &str, len: usize) -> Result<Value> {
    api.post("/v1/media", Some(who.token()), &json!({"content_type": content_type, "size": len, "filename": filename}))
        .await?
        .ok(201)
}

/// Announces, uploads and completes `bytes`; returns the completed medium.
pub async fn stored(api: &Api, who: &Session, content_type: &str, filename: &str, bytes: Vec<u8>) -> Result<Value> {
    let up = announce(api, who, content_type, filename, bytes.len()).await?;
    let status = upload(&reqwest::Client::new(), &up, bytes).await?;
    ensure!(status == 200, "the store refused the upload: {status}");
    let id = up["media_id"].as_str().context("media_id")?;
    api.post(&format!("/v1/media/{id}/complete"), Some(who.token()), &json!({})).await?.ok(200)
}

/// Where `GET /v1/media/{id}` (with `query`) redirects `who`, or the status when it does not.
pub async fn download_url(api: &Api, who: &Session, id: &str, query: &str) -> Result<Result<String, u16>> {
    let r = api.get(&format!("/v1/media/{id}{query}"), Some(who.token())).await?;
    if r.status != 302 {
        return Ok(Err(r.status));
    }
    Ok(Ok(r.header("location").context("a 302 without Location")?))
}

/// Follows the redirect and fetches the bytes.
pub async fn download(api: &Api, who: &Session, id: &str, query: &str) -> Result<Vec<u8>> {
    let url = match download_url(api, who, id, query).await? {
        Ok(u) => u,
        Err(status) => bail!("GET /v1/media/{id}{query} answered {status}"),
    };
    let got = reqwest::get(&url).await?;
    ensure!(got.status() == 200, "the store answered {} for {url}", got.status());
    Ok(got.bytes().await?.to_vec())
}

/// Waits until medium `id`'s thumbnail is there (made by a node's job) and returns its bytes.
pub async fn thumbnail(api: &Api, who: &Session, id: &str, within: Duration) -> Result<Vec<u8>> {
    let start = Instant::now();
    loop {
        match download_url(api, who, id, "?variant=thumb").await? {
            Ok(_) => return download(api, who, id, "?variant=thumb").await,
            // Polled often: the bench times this.
            Err(404) if start.elapsed() < within => tokio::time::sleep(Duration::from_millis(5)).await,
            Err(status) => bail!("no thumbnail of {id} after {:?} ({status})", start.elapsed()),
        }
    }
}
