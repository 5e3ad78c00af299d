//! An upgraded WebSocket over the node's TCP stream: [`WsReader`] reads messages, [`WsWriter`]
//! writes frames. Both share the stream and the queue of frames waiting to be written.
//!
//! What an idle socket holds: the stream's registration and this small shared state. Reads go
//! into a buffer on the reading function's stack, never into a buffer kept per socket
//! ([`Decoder`] keeps only the bytes of a frame a read cut short). Writes queue references to
//! the payloads (an event's frame is encoded once and shared by every socket that gets it),
//! headers inline, and go out with one vectored write for many frames: nothing is copied into
//! a per-socket write buffer.
//!
//! The reader answers the protocol's own frames itself (pong for ping, the closing handshake,
//! failing the connection on a framing error), through the same queue, so frames never
//! interleave within a frame.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::net::TcpStream;

use super::codec::{DecodeError, Decoder, Header, Incoming, close_payload};
use crate::connection::{DirectWrite, Encoded};

/// Bytes read per `read` call, on the stack of the reading function.
const READ_CHUNK: usize = 8 * 1024;
/// Frames fed but not flushed are written out once their payloads reach this many bytes.
const HIGH_WATER: usize = 64 * 1024;
/// Most frames one vectored write carries (two slices each; the kernel takes 1,024).
const FRAMES_PER_WRITE: usize = 64;
/// How long the reader waits to get its closing frame out when it ends the connection.
const CLOSE_FLUSH: Duration = Duration::from_secs(1);

/// A whole message from the client.
#[derive(Debug, PartialEq, Eq)]
pub struct Message {
    /// Text (else binary).
    pub text: bool,
    /// The payload.
    pub payload: Vec<u8>,
}

/// Why reading ended.
#[derive(Debug, PartialEq, Eq)]
pub enum End {
    /// The client closed (its close was answered), or the stream ended.
    Closed,
    /// The client broke the framing or sent too much; the connection was failed with the close
    /// code that says so.
    Failed(DecodeError),
}

/// One frame waiting to be written: its header inline, its payload shared.
struct Chunk {
    header: Header,
    payload: Bytes,
}

impl Chunk {
    fn len(&self) -> usize {
        self.header.as_bytes().len() + self.payload.len()
    }
}

/// Frames waiting to be written.
#[derive(Default)]
struct Outbox {
    queue: VecDeque<Chunk>,
    /// Bytes of the front frame already written.
    offset: usize,
    /// Payload bytes queued.
    queued: usize,
    /// A close frame was queued: nothing more is.
    closed: bool,
}

struct Shared {
    stream: TcpStream,
    out: Mutex<Outbox>,
}

impl Shared {
    fn outbox(&self) -> std::sync::MutexGuard<'_, Outbox> {
        self.out.lock().expect("ws outbox lock")
    }

    /// Writes what the kernel takes now; `Ok(true)` once the queue is empty.
    fn write_now(&self) -> io::Result<bool> {
        let mut out = self.outbox();
        while !out.queue.is_empty() {
            let mut slices: Vec<IoSlice<'_>> = Vec::with_capacity(FRAMES_PER_WRITE * 2);
            let mut skip = out.offset;
            for c in out.queue.iter().take(FRAMES_PER_WRITE) {
                let head = c.header.as_bytes();
                if skip < head.len() {
                    slices.push(IoSlice::new(&head[skip..]));
                    if !c.payload.is_empty() {
                        slices.push(IoSlice::new(&c.payload));
                    }
                } else if skip - head.len() < c.payload.len() {
                    slices.push(IoSlice::new(&c.payload[skip - head.len()..]));
                }
                skip = 0;
            }
            let written = match self.stream.try_write_vectored(&slices) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(e),
            };
            drop(slices);
            out.advance(written);
        }
        Ok(true)
    }

    /// Writes everything queued, waiting for the socket as long as it takes (callers bound it).
    async fn flush(&self) -> io::Result<()> {
        loop {
            if self.write_now()? {
                return Ok(());
            }
            self.stream.writable().await?;
        }
    }

    /// Queues a frame unless the socket was closed.
    fn queue(&self, header: Header, payload: Bytes) -> io::Result<()> {
        let mut out = self.outbox();
        if out.closed {
            return Err(io::Error::new(io::ErrorKind::BrokenPipe, "the WebSocket was closed"));
        }
        out.queued += payload.len();
        out.queue.push_back(Chunk { header, payload });
        Ok(())
    }

    /// Queues the close frame (the first close wins); false if one was queued already.
    fn queue_close(&self, code: u16, reason: &str) -> bool {
        let mut out = self.outbox();
        if out.closed {
            return false;
        }
        out.closed = true;
        let payload = Bytes::from(close_payload(code, reason));
        out.queued += payload.len();
        out.queue.push_back(Chunk { header: Header::close(payload.len()), payload });
        true
    }

    /// Writes the close (bounded), then ends this side of the stream: the client reads to the
    /// close frame, then the end.
    async fn finish_close(&self) {
        let _ = tokio::time::timeout(CLOSE_FLUSH, self.flush()).await;
        let _ = socket2::SockRef::from(&self.stream).shutdown(std::net::Shutdown::Write);
    }
}

impl DirectWrite for Shared {
    fn idle(&self) -> bool {
        let out = self.outbox();
        out.queue.is_empty() && !out.closed
    }

    fn queue(&self, frame: &Encoded) {
        // A closed socket takes nothing more; its reader ends the connection.
        let _ = Shared::queue(self, Header::text(frame.json_len()), frame.json());
    }

    fn write_now(&self) -> io::Result<bool> {
        Shared::write_now(self)
    }

    fn full(&self) -> bool {
        self.outbox().queued >= HIGH_WATER
    }
}

impl Outbox {
    /// Drops what a write took from the front.
    fn advance(&mut self, mut n: usize) {
        while n > 0 {
            let Some(front) = self.queue.front() else { break };
            let left = front.len() - self.offset;
            if n < left {
                self.offset += n;
                return;
            }
            n -= left;
            self.queued -= front.payload.len();
            self.offset = 0;
            self.queue.pop_front();
        }
        if self.queue.is_empty() && self.queue.capacity() > FRAMES_PER_WRITE {
            // A burst's queue is not kept by an idle socket.
            self.queue = VecDeque::new();
        }
    }
}

/// hyper's task for the upgrade request waited for the socket to be readable, and tokio keeps
/// that task's waker in the socket's read slot until the socket next turns readable: for a
/// client that sends nothing, for the socket's life. The waker keeps the finished task's memory
/// (~1.8 KiB, more than the rest of an idle socket's state together) alive. A poll with a no-op
/// waker takes its place; this reader waits through `readable()`, which does not use the slot.
fn release_http_waker(stream: &TcpStream) {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let _ = stream.poll_read_ready(&mut cx);
}

/// Splits an upgraded stream (and the bytes the upgrade read past the request) into its halves,
/// accepting messages of up to `max_message` bytes.
pub fn split(stream: TcpStream, pre_read: Bytes, max_message: usize) -> (WsReader, WsWriter) {
    // A view into hyper's read buffer (8 KiB or more) keeps all of it alive, even when empty:
    // copy out what it holds and let the buffer go.
    let pre_read = if pre_read.is_empty() { Bytes::new() } else { Bytes::copy_from_slice(&pre_read) };
    release_http_waker(&stream);
    let shared = Arc::new(Shared { stream, out: Mutex::new(Outbox::default()) });
    let reader = WsReader {
        shared: shared.clone(),
        decoder: Decoder::new(max_message),
        ready: VecDeque::new(),
        pre_read,
        failed: None,
    };
    (reader, WsWriter { shared })
}

/// The reading half.
pub struct WsReader {
    shared: Arc<Shared>,
    decoder: Decoder,
    /// Decoded but not yet handed out.
    ready: VecDeque<Incoming>,
    /// Bytes the HTTP layer read past the upgrade request: frames, read first.
    pre_read: Bytes,
    /// The framing error that ends the socket, once the frames before it were handed out.
    failed: Option<DecodeError>,
}

impl WsReader {
    /// The next message, or why the socket ended (after which it is done).
    pub async fn next(&mut self) -> Result<Message, End> {
        loop {
            while let Some(item) = self.ready.pop_front() {
                match item {
                    Incoming::Message { text, payload } => return Ok(Message { text, payload }),
                    Incoming::Ping(payload) => self.pong(payload),
                    Incoming::Pong => {}
                    Incoming::Close(code) => {
                        // Answered with the same code (RFC 6455 §5.5.1), unless the node closed
                        // first; either way the closing handshake is done.
                        if self.shared.queue_close(code.unwrap_or(1000), "") {
                            // Boxed, like every rare await here: this future is what an idle
                            // socket's reader holds, and the closing flush's timer is most of it.
                            Box::pin(self.shared.finish_close()).await;
                        }
                        return Err(End::Closed);
                    }
                }
            }
            // Everything decoded before a framing error was handed out: now fail the socket.
            if let Some(e) = self.failed.take() {
                if self.shared.queue_close(e.close_code(), &e.to_string()) {
                    Box::pin(self.shared.finish_close()).await;
                }
                return Err(End::Failed(e));
            }
            let read = if self.pre_read.is_empty() {
                self.shared.stream.readable().await.and_then(|()| self.read_now())
            } else {
                let pre = std::mem::take(&mut self.pre_read);
                self.feed(&pre).map(|()| true)
            };
            match read {
                Ok(true) => {}
                Ok(false) | Err(_) if self.ready.is_empty() && self.failed.is_none() => return Err(End::Closed),
                // What arrived before the end is handed out first; the next read ends it again.
                Ok(false) | Err(_) => {}
            }
        }
    }

    /// Reads what the socket holds now into a buffer on this function's stack and decodes it;
    /// false when the stream ended.
    fn read_now(&mut self) -> io::Result<bool> {
        let mut buf = [0u8; READ_CHUNK];
        loop {
            match self.shared.stream.try_read(&mut buf) {
                Ok(0) => return Ok(false),
                Ok(n) => {
                    self.feed(&buf[..n])?;
                    if n < buf.len() || self.failed.is_some() {
                        return Ok(true);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
                Err(e) => return Err(e),
            }
        }
    }

    fn feed(&mut self, bytes: &[u8]) -> io::Result<()> {
        let mut out = Vec::new();
        let result = self.decoder.feed(bytes, &mut out);
        self.ready.extend(out);
        if let Err(e) = result {
            self.failed = Some(e);
        }
        Ok(())
    }

    /// Answers a ping now if the socket takes it; otherwise it goes with the next flush.
    fn pong(&self, payload: Vec<u8>) {
        if self.shared.queue(Header::pong(payload.len()), Bytes::from(payload)).is_ok() {
            let _ = self.shared.write_now();
        }
    }
}

/// The writing half.
pub struct WsWriter {
    shared: Arc<Shared>,
}

impl WsWriter {
    /// Queues a text (or binary) message; writes out what is queued once it passes
    /// [`HIGH_WATER`] bytes.
    pub async fn feed(&mut self, text: bool, payload: Bytes) -> io::Result<()> {
        let header = if text { Header::text(payload.len()) } else { Header::binary(payload.len()) };
        self.shared.queue(header, payload)?;
        if self.shared.outbox().queued >= HIGH_WATER {
            self.shared.flush().await?;
        }
        Ok(())
    }

    /// The direct writer of this socket (for the hub, and for the connection's own events).
    pub fn direct(&self) -> Arc<dyn DirectWrite> {
        self.shared.clone()
    }

    /// Writes out everything queued.
    pub async fn flush(&mut self) -> io::Result<()> {
        self.shared.flush().await
    }

    /// The closing handshake from the node's side: the close frame (after what was queued),
    /// then the end of the stream. Nothing if the socket was closed already.
    pub async fn close(&mut self, code: u16, reason: &str) {
        if self.shared.queue_close(code, reason) {
            self.shared.finish_close().await;
        }
    }
}
