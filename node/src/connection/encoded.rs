//! A server frame serialised once. An event that goes to a thousand sockets is encoded once per
//! node and the same bytes are shared by every connection (a reference count, no copy): the
//! QUIC framing's 4-byte length prefix followed by the JSON, so the WebSocket sink sends the
//! JSON part as a text message and the QUIC sink the whole.

use bytes::{BufMut, Bytes, BytesMut};
use parley_shared::protocol::ServerFrame;
use parley_shared::protocol::framing::HEADER_BYTES;

/// A frame's bytes: length prefix, then JSON.
#[derive(Clone, Debug)]
pub struct Encoded(Bytes);

impl Encoded {
    /// Serialises `frame`.
    pub fn new(frame: &ServerFrame) -> Encoded {
        let mut buf = BytesMut::with_capacity(256);
        buf.put_u32(0);
        serde_json::to_writer((&mut buf).writer(), frame).expect("server frames serialise");
        // A frame over u32::MAX bytes cannot exist: frames are bounded far below that.
        let len = (buf.len() - HEADER_BYTES) as u32;
        buf[..HEADER_BYTES].copy_from_slice(&len.to_be_bytes());
        Encoded(buf.freeze())
    }

    /// The JSON text (valid UTF-8: serde_json writes nothing else).
    pub fn json(&self) -> Bytes {
        self.0.slice(HEADER_BYTES..)
    }

    /// Bytes of the JSON.
    pub fn json_len(&self) -> usize {
        self.0.len() - HEADER_BYTES
    }

    /// The QUIC wire form: length prefix and JSON.
    pub fn framed(&self) -> Bytes {
        self.0.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parley_shared::protocol::RequestId;
    use parley_shared::protocol::framing::FrameDecoder;

    #[test]
    fn one_encoding_serves_both_transports() {
        let frame = ServerFrame::Pong { id: RequestId::Num(7) };
        let e = Encoded::new(&frame);
        assert_eq!(&e.json()[..], frame.to_json().as_bytes());
        assert_eq!(e.json_len(), frame.to_json().len());
        let mut d = FrameDecoder::new();
        d.push(&e.framed());
        assert_eq!(d.next_frame().unwrap().as_deref(), Some(frame.to_json().as_bytes()));
    }
}
