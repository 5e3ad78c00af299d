//! RFC 6455 framing for the server side, without IO: [`Decoder`] turns the bytes a client sent
//! into messages and control frames, [`Header`] is what precedes a frame the server sends.
//!
//! The decoder holds no buffer while a connection is idle: a frame that arrived whole is
//! unmasked straight from the bytes read into the payload it becomes, and only a frame cut by a
//! read (or a fragmented message) keeps its bytes until the rest arrives.
//! No extensions are negotiated, so every reserved bit must be zero.

/// Frame opcodes (RFC 6455 §5.2).
mod op {
    pub const CONTINUATION: u8 = 0x0;
    pub const TEXT: u8 = 0x1;
    pub const BINARY: u8 = 0x2;
    pub const CLOSE: u8 = 0x8;
    pub const PING: u8 = 0x9;
    pub const PONG: u8 = 0xA;
}

/// The longest payload a control frame may carry.
const MAX_CONTROL_PAYLOAD: usize = 125;

/// What a client sent, frame by frame as the protocol above sees it.
#[derive(Debug, PartialEq, Eq)]
pub enum Incoming {
    /// A whole message (its fragments joined); text is valid UTF-8.
    Message {
        /// Text (opcode 1) or binary (opcode 2).
        text: bool,
        /// The unmasked payload.
        payload: Vec<u8>,
    },
    /// A ping, to be answered with a pong carrying the same payload.
    Ping(Vec<u8>),
    /// A pong (unsolicited or not): nothing to do.
    Pong,
    /// The client's close, with its status code if it gave one.
    Close(Option<u16>),
}

/// Why the client's bytes cannot be read on: each fails the connection with its close code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// A message or frame over the limit (close 1009).
    #[error("a message over {0} bytes")]
    TooLarge(usize),
    /// A frame that breaks the framing rules (close 1002).
    #[error("protocol error: {0}")]
    Protocol(&'static str),
    /// Text that is not UTF-8 (close 1007).
    #[error("text that is not UTF-8")]
    InvalidUtf8,
}

impl DecodeError {
    /// The close code that fails the connection (RFC 6455 §7.4.1).
    pub fn close_code(self) -> u16 {
        match self {
            DecodeError::TooLarge(_) => 1009,
            DecodeError::Protocol(_) => 1002,
            DecodeError::InvalidUtf8 => 1007,
        }
    }
}

/// A fragmented message being put together.
#[derive(Debug)]
struct Partial {
    text: bool,
    payload: Vec<u8>,
    /// Bytes of `payload` known to be valid UTF-8 (text only): later fragments are checked from
    /// here, so a character split between fragments is not taken for an error.
    valid_to: usize,
}

/// The reading half of the framing: bytes in, [`Incoming`] out.
#[derive(Debug)]
pub struct Decoder {
    /// The longest message (and so frame payload) accepted.
    max_message: usize,
    /// Bytes of a frame that a read cut short (empty between frames).
    cut: Vec<u8>,
    /// A fragmented message waiting for its last fragment.
    partial: Option<Partial>,
    /// Set once an error was returned: the connection is failed, nothing more is decoded.
    failed: bool,
}

impl Decoder {
    /// A decoder accepting messages of up to `max_message` bytes.
    pub fn new(max_message: usize) -> Self {
        Decoder { max_message, cut: Vec::new(), partial: None, failed: false }
    }

    /// Bytes the decoder holds (a cut frame and a fragmented message).
    pub fn held(&self) -> usize {
        self.cut.capacity() + self.partial.as_ref().map_or(0, |p| p.payload.capacity())
    }

    /// Decodes `input` (the bytes of one read), appending what it completes to `out`. An error
    /// fails the connection: the frames before it are in `out`, nothing after it is read.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<Incoming>) -> Result<(), DecodeError> {
        if self.failed {
            return Err(DecodeError::Protocol("the connection has failed"));
        }
        let result = if self.cut.is_empty() {
            let taken = self.frames(input, out)?;
            // A frame this read cut short (its header, when whole, was checked against the
            // limit already, so at most one message's bytes wait here).
            self.cut.extend_from_slice(&input[taken..]);
            Ok(())
        } else {
            let mut cut = std::mem::take(&mut self.cut);
            cut.extend_from_slice(input);
            let taken = self.frames(&cut, out);
            match taken {
                Ok(taken) => {
                    cut.drain(..taken);
                    if !cut.is_empty() {
                        self.cut = cut;
                    }
                    Ok(())
                }
                Err(e) => Err(e),
            }
        };
        if result.is_err() {
            self.failed = true;
            self.cut = Vec::new();
            self.partial = None;
        }
        result
    }

    /// Decodes the whole frames at the start of `buf`; answers how many bytes they took.
    fn frames(&mut self, buf: &[u8], out: &mut Vec<Incoming>) -> Result<usize, DecodeError> {
        let mut at = 0;
        while let Some(head) = parse_header(&buf[at..], self.max_message)? {
            let end = at + head.len + head.payload;
            if end > buf.len() {
                break;
            }
            let mut payload = buf[at + head.len..end].to_vec();
            unmask(&mut payload, head.mask);
            at = end;
            self.frame(head, payload, out)?;
        }
        Ok(at)
    }

    /// Applies one whole frame.
    fn frame(&mut self, head: FrameHead, payload: Vec<u8>, out: &mut Vec<Incoming>) -> Result<(), DecodeError> {
        match head.opcode {
            op::PING => out.push(Incoming::Ping(payload)),
            op::PONG => out.push(Incoming::Pong),
            op::CLOSE => out.push(Incoming::Close(close_code(&payload)?)),
            op::TEXT | op::BINARY => {
                if self.partial.is_some() {
                    return Err(DecodeError::Protocol("a new message before the last one's final fragment"));
                }
                let text = head.opcode == op::TEXT;
                if head.fin {
                    if text && std::str::from_utf8(&payload).is_err() {
                        return Err(DecodeError::InvalidUtf8);
                    }
                    out.push(Incoming::Message { text, payload });
                } else {
                    let mut p = Partial { text, payload, valid_to: 0 };
                    check_utf8(&mut p, false)?;
                    self.partial = Some(p);
                }
            }
            op::CONTINUATION => {
                let Some(mut p) = self.partial.take() else {
                    return Err(DecodeError::Protocol("a continuation frame outside a fragmented message"));
                };
                if p.payload.len() + payload.len() > self.max_message {
                    return Err(DecodeError::TooLarge(self.max_message));
                }
                p.payload.extend_from_slice(&payload);
                check_utf8(&mut p, head.fin)?;
                if head.fin {
                    out.push(Incoming::Message { text: p.text, payload: p.payload });
                } else {
                    self.partial = Some(p);
                }
            }
            _ => return Err(DecodeError::Protocol("an unknown opcode")),
        }
        Ok(())
    }
}

/// Checks a text message's new bytes; a character cut at the end waits for the next fragment,
/// unless this was the last (`fin`).
fn check_utf8(p: &mut Partial, fin: bool) -> Result<(), DecodeError> {
    if !p.text {
        return Ok(());
    }
    match std::str::from_utf8(&p.payload[p.valid_to..]) {
        Ok(_) => {
            p.valid_to = p.payload.len();
            Ok(())
        }
        // Cut short, not wrong: at most three bytes of a character still to come.
        Err(e) if e.error_len().is_none() && !fin => {
            p.valid_to += e.valid_up_to();
            Ok(())
        }
        Err(_) => Err(DecodeError::InvalidUtf8),
    }
}

/// A close frame's status code, checked (RFC 6455 §7.4), and its reason checked for UTF-8.
fn close_code(payload: &[u8]) -> Result<Option<u16>, DecodeError> {
    match payload.len() {
        0 => Ok(None),
        1 => Err(DecodeError::Protocol("a close frame with a one-byte payload")),
        _ => {
            let code = u16::from_be_bytes([payload[0], payload[1]]);
            let valid = matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999);
            if !valid {
                return Err(DecodeError::Protocol("a close code no endpoint may send"));
            }
            std::str::from_utf8(&payload[2..]).map_err(|_| DecodeError::InvalidUtf8)?;
            Ok(Some(code))
        }
    }
}

/// A client frame's header.
#[derive(Clone, Copy, Debug)]
struct FrameHead {
    fin: bool,
    opcode: u8,
    mask: [u8; 4],
    /// Header bytes.
    len: usize,
    /// Payload bytes.
    payload: usize,
}

/// Parses the header at the start of `b`; `None` until all of it arrived.
fn parse_header(b: &[u8], max_message: usize) -> Result<Option<FrameHead>, DecodeError> {
    if b.len() < 2 {
        return Ok(None);
    }
    let (b0, b1) = (b[0], b[1]);
    if b0 & 0x70 != 0 {
        return Err(DecodeError::Protocol("reserved bits set without an extension"));
    }
    let fin = b0 & 0x80 != 0;
    let opcode = b0 & 0x0F;
    if b1 & 0x80 == 0 {
        return Err(DecodeError::Protocol("an unmasked frame from a client"));
    }
    let (payload, mut len) = match b1 & 0x7F {
        126 => {
            if b.len() < 4 {
                return Ok(None);
            }
            (u64::from(u16::from_be_bytes([b[2], b[3]])), 4)
        }
        127 => {
            if b.len() < 10 {
                return Ok(None);
            }
            let n = u64::from_be_bytes(b[2..10].try_into().expect("eight bytes"));
            if n >> 63 != 0 {
                return Err(DecodeError::Protocol("a 64-bit length with its top bit set"));
            }
            (n, 10)
        }
        n => (u64::from(n), 2),
    };
    if opcode >= op::CLOSE {
        if !fin {
            return Err(DecodeError::Protocol("a fragmented control frame"));
        }
        if payload > MAX_CONTROL_PAYLOAD as u64 {
            return Err(DecodeError::Protocol("a control frame over 125 bytes"));
        }
    }
    if payload > max_message as u64 {
        return Err(DecodeError::TooLarge(max_message));
    }
    if b.len() < len + 4 {
        return Ok(None);
    }
    let mask = b[len..len + 4].try_into().expect("four bytes");
    len += 4;
    Ok(Some(FrameHead { fin, opcode, mask, len, payload: payload as usize }))
}

/// Unmasks a client payload in place (RFC 6455 §5.3).
fn unmask(payload: &mut [u8], mask: [u8; 4]) {
    let word = u64::from_ne_bytes([mask[0], mask[1], mask[2], mask[3], mask[0], mask[1], mask[2], mask[3]]);
    let mut chunks = payload.chunks_exact_mut(8);
    for c in &mut chunks {
        let v = u64::from_ne_bytes(c.try_into().expect("eight bytes")) ^ word;
        c.copy_from_slice(&v.to_ne_bytes());
    }
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b ^= mask[i % 4];
    }
}

/// The header of a server frame (unmasked, final): at most 10 bytes, kept inline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    bytes: [u8; 10],
    len: u8,
}

impl Header {
    /// A text frame's header for a payload of `payload` bytes.
    pub fn text(payload: usize) -> Header {
        Header::new(op::TEXT, payload)
    }

    /// A binary frame's header.
    pub fn binary(payload: usize) -> Header {
        Header::new(op::BINARY, payload)
    }

    /// A pong's header.
    pub fn pong(payload: usize) -> Header {
        Header::new(op::PONG, payload)
    }

    /// A close frame's header.
    pub fn close(payload: usize) -> Header {
        Header::new(op::CLOSE, payload)
    }

    fn new(opcode: u8, payload: usize) -> Header {
        let mut bytes = [0u8; 10];
        bytes[0] = 0x80 | opcode;
        let len = match payload {
            n if n < 126 => {
                bytes[1] = n as u8;
                2
            }
            n if n <= u16::MAX as usize => {
                bytes[1] = 126;
                bytes[2..4].copy_from_slice(&(n as u16).to_be_bytes());
                4
            }
            n => {
                bytes[1] = 127;
                bytes[2..10].copy_from_slice(&(n as u64).to_be_bytes());
                10
            }
        };
        Header { bytes, len }
    }

    /// The header's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }
}

/// A close frame's payload: the code, then a reason cut to fit a control frame (at a character
/// boundary).
pub fn close_payload(code: u16, reason: &str) -> Vec<u8> {
    let mut end = reason.len().min(MAX_CONTROL_PAYLOAD - 2);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let mut p = Vec::with_capacity(2 + end);
    p.extend_from_slice(&code.to_be_bytes());
    p.extend_from_slice(&reason.as_bytes()[..end]);
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: usize = 64 * 1024;

    /// A client frame: masked with a non-trivial key.
    fn client(b0: u8, payload: &[u8]) -> Vec<u8> {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        let mut out = vec![b0];
        match payload.len() {
            n if n < 126 => out.push(0x80 | n as u8),
            n if n <= u16::MAX as usize => {
                out.push(0x80 | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                out.push(0x80 | 127);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        out.extend_from_slice(&key);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        out
    }

    fn decode(bytes: &[u8]) -> Result<Vec<Incoming>, DecodeError> {
        let mut d = Decoder::new(MAX);
        let mut out = Vec::new();
        d.feed(bytes, &mut out).map(|()| out)
    }

    fn text(s: &str) -> Incoming {
        Incoming::Message { text: true, payload: s.as_bytes().to_vec() }
    }

    #[test]
    fn whole_frames_in_one_read_and_byte_by_byte_decode_alike() {
        let mut bytes = client(0x81, b"hello");
        bytes.extend(client(0x82, &[0u8, 1, 2, 255]));
        bytes.extend(client(0x89, b"p"));
        bytes.extend(client(0x81, &[b'x'; 300]));
        let want = vec![
            text("hello"),
            Incoming::Message { text: false, payload: vec![0, 1, 2, 255] },
            Incoming::Ping(b"p".to_vec()),
            Incoming::Message { text: true, payload: vec![b'x'; 300] },
        ];
        assert_eq!(decode(&bytes).unwrap(), want);
        let mut d = Decoder::new(MAX);
        let mut out = Vec::new();
        for b in &bytes {
            d.feed(std::slice::from_ref(b), &mut out).unwrap();
        }
        assert_eq!(out, want);
        assert_eq!(d.held(), 0, "nothing kept between frames once idle");
    }

    #[test]
    fn fragments_join_and_may_split_a_character() {
        let euro = "€".as_bytes(); // three bytes
        let mut bytes = client(0x01, &[b'a', euro[0]]);
        bytes.extend(client(0x89, b"")); // a ping between fragments is allowed
        bytes.extend(client(0x00, &euro[1..]));
        bytes.extend(client(0x80, b"z"));
        assert_eq!(decode(&bytes).unwrap(), vec![Incoming::Ping(vec![]), text("a€z")]);
    }

    #[test]
    fn broken_framing_fails_with_the_close_code_it_deserves() {
        let cases: Vec<(Vec<u8>, u16)> = vec![
            (vec![0x81, 0x05, b'h', b'e', b'l', b'l', b'o'], 1002), // unmasked
            (client(0xC1, b"x"), 1002),                             // RSV1
            (client(0x83, b"x"), 1002),                             // reserved opcode
            (client(0x09, b"x"), 1002),                             // fragmented ping
            (client(0x89, &[0u8; 126]), 1002),                      // control payload over 125
            (client(0x80, b"x"), 1002),                             // continuation with nothing to continue
            (client(0x81, &[0xff, 0xfe]), 1007),                    // invalid UTF-8
            (client(0x88, &[0x03]), 1002),                          // one-byte close payload
            (client(0x88, &1005u16.to_be_bytes()), 1002),           // close code never sent
            (client(0x88, &[0x03, 0xe8, 0xff]), 1007),              // close reason not UTF-8
        ];
        for (bytes, code) in cases {
            let err = decode(&bytes).unwrap_err();
            assert_eq!(err.close_code(), code, "{bytes:02x?}: {err}");
        }
        let mut two_starts = client(0x01, b"a");
        two_starts.extend(client(0x81, b"b"));
        assert_eq!(decode(&two_starts).unwrap_err().close_code(), 1002);
    }

    #[test]
    fn a_frame_over_the_limit_is_refused_from_its_header_alone() {
        let mut d = Decoder::new(1000);
        let mut out = Vec::new();
        // Only the header of a 1 MiB frame: refused before its payload is buffered.
        let head = &client(0x82, &vec![0u8; 1 << 20])[..14];
        assert_eq!(d.feed(head, &mut out), Err(DecodeError::TooLarge(1000)));
        assert_eq!(d.held(), 0);
        let mut d = Decoder::new(1000);
        let mut frags = client(0x02, &[0u8; 600]);
        frags.extend(client(0x80, &[0u8; 600]));
        assert_eq!(d.feed(&frags, &mut out), Err(DecodeError::TooLarge(1000)), "fragments add up");
    }

    #[test]
    fn close_codes_and_server_headers() {
        assert_eq!(decode(&client(0x88, b"")).unwrap(), vec![Incoming::Close(None)]);
        assert_eq!(decode(&client(0x88, &close_payload(1000, "bye"))).unwrap(), vec![Incoming::Close(Some(1000))]);
        assert_eq!(Header::text(5).as_bytes(), &[0x81, 5]);
        assert_eq!(Header::binary(200).as_bytes(), &[0x82, 126, 0, 200]);
        assert_eq!(Header::text(70_000).as_bytes(), &[0x81, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70]);
        let long = "é".repeat(100);
        let p = close_payload(1008, &long);
        assert!(p.len() <= 125 && std::str::from_utf8(&p[2..]).is_ok());
    }
}
