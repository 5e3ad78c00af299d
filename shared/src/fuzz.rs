//! Fuzz targets for every decoder a peer's bytes reach first: the QUIC length framing, the JSON
//! frame parser, the NUL scanner in front of both, and REST's body, query and path parsing. Each
//! target is `fn(&[u8])` (the shape `cargo fuzz` and `bolero` drive, should nightly be at hand)
//! and checks properties, not only "no panic".
//!
//! The driver is a seeded mutation fuzzer that runs on stable inside `cargo test`: it starts from
//! contract-valid inputs and applies byte flips, splices, truncations, insertions of JSON
//! punctuation, `\u0000` / lone-surrogate escapes and deep nesting. `PARLEY_FUZZ_ITERATIONS`
//! (default 20,000 per target; `scripts/conformance --long` runs 2,000,000) and
//! `PARLEY_FUZZ_SEED` reproduce a run; a failure prints the seed, iteration and input.

use crate::api::Query;
use crate::api::call::parse_body;
use crate::api::routes;
use crate::model::event::MessageDraft;
use crate::model::group::{CreateGroup, UpdateMember};
use crate::model::media::CreateMedia;
use crate::model::message::EditMessage;
use crate::model::requests::{Login, Register};
use crate::protocol::framing::{FrameDecoder, HEADER_BYTES, encode};
use crate::protocol::{MAX_FRAME_BYTES, parse_client_frame};
use crate::rules::text::nul_in_json;

/// The QUIC framing: bytes in chunks of any size. Frames come out in order, each within the
/// limit; an error only for a length prefix over the limit; the decoder never holds more than
/// it was given.
pub fn frame_decoder(data: &[u8]) {
    let Some((&split, rest)) = data.split_first() else { return };
    let mut d = FrameDecoder::new();
    let mut pushed = 0usize;
    let mut taken = 0usize;
    let step = usize::from(split % 17) + 1;
    for chunk in rest.chunks(step) {
        d.push(chunk);
        pushed += chunk.len();
        loop {
            match d.next_frame() {
                Ok(Some(f)) => {
                    assert!(f.len() <= MAX_FRAME_BYTES);
                    assert_eq!(encode(&f).unwrap(), rest[taken..taken + HEADER_BYTES + f.len()]);
                    taken += HEADER_BYTES + f.len();
                }
                Ok(None) => break,
                Err(_) => {
                    let p = &rest[taken..taken + HEADER_BYTES];
                    assert!(u32::from_be_bytes([p[0], p[1], p[2], p[3]]) as usize > MAX_FRAME_BYTES);
                    return;
                }
            }
        }
        assert_eq!(d.buffered(), pushed - taken);
    }
}

/// The realtime JSON frame parser: never panics; what it accepts holds no U+0000 and survives a
/// round trip through its own serialisation.
pub fn client_frame(data: &[u8]) {
    match parse_client_frame(data) {
        Ok(frame) => {
            let again = serde_json::to_vec(&frame).unwrap();
            assert_eq!(parse_client_frame(&again).unwrap(), frame, "round trip of {}", String::from_utf8_lossy(data));
        }
        Err(e) => assert!(!e.to_string().contains('\0'), "{e}"),
    }
}

/// Does any string (key or value) of `v` hold U+0000?
fn holds_nul(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::String(s) => s.contains('\0'),
        serde_json::Value::Array(a) => a.iter().any(holds_nul),
        serde_json::Value::Object(o) => o.iter().any(|(k, v)| k.contains('\0') || holds_nul(v)),
        _ => false,
    }
}

/// The NUL scanner agrees with a full parse on every document serde_json accepts.
pub fn nul_scanner(data: &[u8]) {
    let found = nul_in_json(data);
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
        assert_eq!(found.is_some(), holds_nul(&v), "scanner vs parse on {}", String::from_utf8_lossy(data));
    }
}

/// REST bodies: every request type either parses or is a 4xx naming the problem, and what
/// parses holds no U+0000.
pub fn rest_body(data: &[u8]) {
    fn one<T: serde::de::DeserializeOwned + serde::Serialize>(data: &[u8]) {
        match parse_body::<T>(data) {
            Ok(v) => assert!(!holds_nul(&serde_json::to_value(&v).unwrap())),
            Err(e) => {
                assert!((400..500).contains(&e.code.status()), "{e:?}");
                assert!(!e.message.contains('\0'), "{e:?}");
            }
        }
    }
    one::<Register>(data);
    one::<Login>(data);
    one::<MessageDraft>(data);
    one::<EditMessage>(data);
    one::<CreateGroup>(data);
    one::<UpdateMember>(data);
    one::<CreateMedia>(data);
}

/// REST query strings and paths: parsing never panics and the router's path matching answers
/// for any path.
pub fn rest_query_and_path(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let q = Query::parse(Some(&text));
    let _ = q.get("cursor");
    let _ = q.int("limit");
    let path = format!("/v1/{text}");
    let _ = routes::allowed(&path);
}

/// A small, fast PRNG (xorshift64*): reproducible from a printed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Byte strings a JSON decoder finds hard.
const TOKENS: &[&[u8]] = &[
    b"\\u0000",
    b"\\ud800",
    b"\\udfff\\ud800",
    b"\"",
    b"\\",
    b"{",
    b"}",
    b"[",
    b"]",
    b":",
    b",",
    b"null",
    b"-0",
    b"1e999",
    b"18446744073709551616",
    b"\xff",
    b"\xc0\x80",
    b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80",
    b"\x00",
    b"\"type\"",
    b"\"id\"",
    b"\"send\"",
    b"\"sync\"",
    b"\"text\"",
    b"\"\\u0000\":1",
];

fn mutate(rng: &mut Rng, seeds: &[Vec<u8>], input: &mut Vec<u8>) {
    for _ in 0..=rng.below(4) {
        let at = rng.below(input.len() + 1);
        match rng.below(9) {
            0 if !input.is_empty() => {
                let i = rng.below(input.len());
                input[i] ^= 1 << rng.below(8);
            }
            1 if !input.is_empty() => {
                let i = rng.below(input.len());
                input[i] = rng.next() as u8;
            }
            2 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                input.splice(at..at, t.iter().copied());
            }
            3 if !input.is_empty() => {
                let end = (at + rng.below(16) + 1).min(input.len());
                input.drain(at.min(end)..end);
            }
            4 => input.truncate(at),
            5 => {
                let other = &seeds[rng.below(seeds.len())];
                let from = rng.below(other.len() + 1);
                input.splice(at..at, other[from..].iter().copied());
            }
            6 => {
                let depth = rng.below(600);
                let open = if rng.below(2) == 0 { b'[' } else { b'{' };
                input.splice(at..at, std::iter::repeat_n(open, depth));
            }
            7 if !input.is_empty() => {
                let end = (at + rng.below(32) + 1).min(input.len());
                let chunk: Vec<u8> = input[at.min(end)..end].to_vec();
                input.splice(at..at, chunk.iter().copied().cycle().take(chunk.len() * (rng.below(8) + 1)));
            }
            _ => input.push(rng.next() as u8),
        }
    }
    input.truncate(2 * MAX_FRAME_BYTES);
}

/// Runs `target` on `iterations` mutants of `seeds`; a panic reports seed, iteration and input.
fn drive(name: &str, seeds: &[Vec<u8>], target: fn(&[u8])) {
    let iterations: u64 = std::env::var("PARLEY_FUZZ_ITERATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000);
    let seed: u64 = std::env::var("PARLEY_FUZZ_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0x005E_ED0F_FA57);
    let mut rng = Rng(seed | 1);
    for seed_input in seeds {
        target(seed_input);
    }
    for i in 0..iterations {
        let mut input = seeds[rng.below(seeds.len())].clone();
        mutate(&mut rng, seeds, &mut input);
        if let Err(panic) = std::panic::catch_unwind(|| target(&input)) {
            panic!(
                "fuzz target {name} failed at iteration {i} (PARLEY_FUZZ_SEED={seed}): {:?} on input {:?}",
                panic.downcast_ref::<String>().map(String::as_str).or(panic.downcast_ref::<&str>().copied()),
                String::from_utf8_lossy(&input)
            );
        }
    }
    println!("fuzz target {name}: {iterations} mutants of {} seeds, no failure (PARLEY_FUZZ_SEED={seed})", seeds.len());
}

fn frames() -> Vec<Vec<u8>> {
    let c = "0190a3c2-0000-7000-8000-000000000000";
    [
        r#"{"type":"ping","id":1}"#.to_owned(),
        format!(r#"{{"type":"sync","id":"a","cursors":{{"{c}":3}}}}"#),
        format!(r#"{{"type":"send","id":2,"conversation_id":"{c}","client_msg_id":"k1","text":"hi ☃"}}"#),
        format!(r#"{{"type":"typing","conversation_id":"{c}"}}"#),
        format!(r#"{{"type":"read","id":3,"conversation_id":"{c}","seq":9}}"#),
        r#"{"type":"auth","token":"eyJhbGciOiJFZERTQSJ9.e30.sig"}"#.to_owned(),
    ]
    .into_iter()
    .map(String::into_bytes)
    .collect()
}

#[test]
fn fuzz_the_quic_framing() {
    let seeds: Vec<Vec<u8>> = frames()
        .iter()
        .map(|f| {
            let mut wire = vec![3u8];
            wire.extend(encode(f).unwrap());
            wire.extend(encode(b"{}").unwrap());
            wire
        })
        .chain([vec![1, 0xff, 0xff, 0xff, 0xff], vec![5, 0, 1, 0, 1, b'x']])
        .collect();
    drive("quic framing", &seeds, frame_decoder);
}

#[test]
fn fuzz_the_json_frame_parser() {
    drive("client frames", &frames(), client_frame);
}

#[test]
fn fuzz_the_nul_scanner() {
    let mut seeds = frames();
    seeds.push(br#"{"a":"\\u0000","b":["x\u0000"],"\u0000":1}"#.to_vec());
    drive("NUL scanner", &seeds, nul_scanner);
}

#[test]
fn fuzz_rest_bodies() {
    let seeds: Vec<Vec<u8>> = [
        r#"{"username":"alice","password":"correct horse","display_name":"Alice"}"#,
        r#"{"username":"alice","password":"correct horse","device_name":"phone"}"#,
        r#"{"client_msg_id":"k","text":"hello","mentions":[],"reply_to":null}"#,
        r#"{"text":"edited"}"#,
        r#"{"name":"friends","member_ids":["0190a3c2-0000-7000-8000-000000000000"]}"#,
        r#"{"role":"admin","muted_until":"2026-12-02T10:00:00.000Z"}"#,
        r#"{"content_type":"image/png","size":48213,"filename":"harbour.png"}"#,
        "",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    drive("REST bodies", &seeds, rest_body);
}

#[test]
fn fuzz_rest_queries_and_paths() {
    let seeds: Vec<Vec<u8>> =
        ["cursor=1700000000_0190a3c2-0000-7000-8000-000000000000&limit=50", "q=al%20ice&limit=-1", "groups/join"]
            .iter()
            .map(|s| s.as_bytes().to_vec())
            .collect();
    drive("REST queries and paths", &seeds, rest_query_and_path);
}
