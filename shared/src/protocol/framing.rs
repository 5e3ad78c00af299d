//! The QUIC framing of realtime frames, sans-IO: each frame is a 4-byte big-endian length, then
//! that many bytes of JSON. A frame is at most [`MAX_FRAME_BYTES`]. Pure functions and a
//! push-based decoder, so the node, the client SDK (native and wasm32) and tests share one
//! implementation whatever their IO.
//!
//! ```
//! use parley_shared::protocol::framing::{FrameDecoder, encode};
//! let wire = encode(br#"{"type":"ping","id":1}"#).unwrap();
//! let mut d = FrameDecoder::new();
//! d.push(&wire[..3]);
//! assert_eq!(d.next_frame().unwrap(), None);
//! d.push(&wire[3..]);
//! assert_eq!(d.next_frame().unwrap().as_deref(), Some(&br#"{"type":"ping","id":1}"#[..]));
//! ```

use super::MAX_FRAME_BYTES;

/// Bytes of the length prefix.
pub const HEADER_BYTES: usize = 4;

/// A framing violation. Either one ends the connection: the stream cannot be resynchronised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    /// A frame (to encode, or announced by a length prefix) is over [`MAX_FRAME_BYTES`].
    #[error("frame of {0} bytes is over the {MAX_FRAME_BYTES}-byte limit")]
    TooLarge(usize),
}

/// One frame on the wire: the length prefix and `json`.
pub fn encode(json: &[u8]) -> Result<Vec<u8>, FramingError> {
    if json.len() > MAX_FRAME_BYTES {
        return Err(FramingError::TooLarge(json.len()));
    }
    let mut out = Vec::with_capacity(HEADER_BYTES + json.len());
    // Fits: MAX_FRAME_BYTES < u32::MAX.
    out.extend_from_slice(&(json.len() as u32).to_be_bytes());
    out.extend_from_slice(json);
    Ok(out)
}

/// Reassembles frames from bytes as they arrive, in chunks of any size.
#[derive(Debug, Default, Clone)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    /// Bytes of `buf` already handed out as frames (compacted lazily).
    start: usize,
}

impl FrameDecoder {
    /// An empty decoder.
    pub fn new() -> FrameDecoder {
        FrameDecoder::default()
    }

    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        } else if self.start >= 64 * 1024 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes received and not yet returned as frames.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// The next complete frame, `None` until one has fully arrived. A length prefix over the
    /// limit is an error as soon as the prefix is read, before its bytes arrive.
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, FramingError> {
        let pending = &self.buf[self.start..];
        if pending.len() < HEADER_BYTES {
            return Ok(None);
        }
        let len = u32::from_be_bytes([pending[0], pending[1], pending[2], pending[3]]) as usize;
        if len > MAX_FRAME_BYTES {
            return Err(FramingError::TooLarge(len));
        }
        if pending.len() < HEADER_BYTES + len {
            return Ok(None);
        }
        let frame = pending[HEADER_BYTES..HEADER_BYTES + len].to_vec();
        self.start += HEADER_BYTES + len;
        if self.start == self.buf.len() {
            // Nothing left: an idle connection keeps no buffer (one 64 KiB frame would
            // otherwise pin 64 KiB for the connection's life).
            self.buf = Vec::new();
            self.start = 0;
        }
        Ok(Some(frame))
    }

    /// Bytes of buffer the decoder holds.
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(d: &mut FrameDecoder) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while let Some(f) = d.next_frame().unwrap() {
            out.push(f);
        }
        out
    }

    #[test]
    fn an_emptied_decoder_holds_no_buffer() {
        let mut d = FrameDecoder::new();
        d.push(&encode(&vec![b'x'; 60_000]).unwrap());
        assert_eq!(all(&mut d).len(), 1);
        assert_eq!(d.capacity(), 0);
    }

    #[test]
    fn encode_prefixes_the_big_endian_length() {
        assert_eq!(encode(b"{}").unwrap(), vec![0, 0, 0, 2, b'{', b'}']);
        let big = vec![b'x'; 0x0102];
        assert_eq!(&encode(&big).unwrap()[..4], &[0, 0, 1, 2]);
    }

    #[test]
    fn split_reads_byte_by_byte() {
        let a = br#"{"type":"ping","id":1}"#;
        let b = br#"{"type":"ping","id":"two"}"#;
        let mut wire = encode(a).unwrap();
        wire.extend(encode(b).unwrap());
        let mut d = FrameDecoder::new();
        let mut got = Vec::new();
        for byte in &wire {
            d.push(std::slice::from_ref(byte));
            got.extend(all(&mut d));
        }
        assert_eq!(got, vec![a.to_vec(), b.to_vec()]);
        assert_eq!(d.buffered(), 0);
    }

    #[test]
    fn split_inside_the_header_and_the_body() {
        let body = vec![b'y'; 1000];
        let wire = encode(&body).unwrap();
        let mut d = FrameDecoder::new();
        d.push(&wire[..2]);
        assert_eq!(d.next_frame().unwrap(), None);
        d.push(&wire[2..500]);
        assert_eq!(d.next_frame().unwrap(), None);
        d.push(&wire[500..]);
        assert_eq!(d.next_frame().unwrap(), Some(body));
        assert_eq!(d.next_frame().unwrap(), None);
    }

    #[test]
    fn several_frames_in_one_chunk_and_a_partial_tail() {
        let frames: Vec<Vec<u8>> = (0..5).map(|i| format!("{{\"n\":{i}}}").into_bytes()).collect();
        let mut wire: Vec<u8> = frames.iter().flat_map(|f| encode(f).unwrap()).collect();
        let tail = encode(b"tail").unwrap();
        wire.extend_from_slice(&tail[..5]);
        let mut d = FrameDecoder::new();
        d.push(&wire);
        assert_eq!(all(&mut d), frames);
        assert_eq!(d.buffered(), 5);
        d.push(&tail[5..]);
        assert_eq!(all(&mut d), vec![b"tail".to_vec()]);
    }

    #[test]
    fn zero_length_frame_is_a_frame() {
        let mut d = FrameDecoder::new();
        d.push(&encode(b"").unwrap());
        assert_eq!(d.next_frame().unwrap(), Some(Vec::new()));
        assert_eq!(d.next_frame().unwrap(), None);
    }

    #[test]
    fn the_limit_itself_is_allowed() {
        let body = vec![b'z'; MAX_FRAME_BYTES];
        let mut d = FrameDecoder::new();
        d.push(&encode(&body).unwrap());
        assert_eq!(d.next_frame().unwrap().map(|f| f.len()), Some(MAX_FRAME_BYTES));
    }

    #[test]
    fn oversized_is_refused_when_encoding() {
        let body = vec![b'z'; MAX_FRAME_BYTES + 1];
        assert_eq!(encode(&body), Err(FramingError::TooLarge(MAX_FRAME_BYTES + 1)));
    }

    #[test]
    fn oversized_length_prefix_fails_before_the_body_arrives() {
        let mut d = FrameDecoder::new();
        d.push(&encode(b"ok").unwrap());
        d.push(&((MAX_FRAME_BYTES as u32) + 1).to_be_bytes());
        assert_eq!(d.next_frame().unwrap(), Some(b"ok".to_vec()));
        assert_eq!(d.next_frame(), Err(FramingError::TooLarge(MAX_FRAME_BYTES + 1)));
        let mut d = FrameDecoder::new();
        d.push(&u32::MAX.to_be_bytes());
        assert_eq!(d.next_frame(), Err(FramingError::TooLarge(u32::MAX as usize)));
    }

    #[test]
    fn long_streams_do_not_grow_the_buffer_without_bound() {
        let wire = encode(&[b'a'; 1000]).unwrap();
        let mut d = FrameDecoder::new();
        for _ in 0..1000 {
            d.push(&wire[..600]);
            d.push(&wire[600..]);
            assert!(d.next_frame().unwrap().is_some());
        }
        assert!(d.buf.capacity() < 4 * 64 * 1024, "capacity {}", d.buf.capacity());
    }
}
