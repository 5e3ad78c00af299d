//! A WebSocket client reduced to what a load generator needs: the upgrade, masked text frames
//! out, and the raw byte stream in. Server frames are unmasked, so a text payload appears
//! verbatim in the stream and deliveries can be counted by finding a marker in the bytes,
//! without parsing frames (or JSON) per delivery.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// An upgraded connection and the bytes that arrived with the upgrade's response.
pub struct RawWs {
    /// The socket.
    pub stream: TcpStream,
    /// Bytes read past the response head (already frames).
    pub pending: Vec<u8>,
}

impl RawWs {
    /// Connects to `addr` and upgrades `path` (with its query), with the socket's receive
    /// buffer set to `rcvbuf` bytes if given (before connecting, so the window offered is small
    /// from the start).
    pub async fn connect(addr: SocketAddr, path: &str, rcvbuf: Option<u32>) -> Result<RawWs> {
        let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
        if let Some(n) = rcvbuf {
            socket.set_recv_buffer_size(n)?;
        }
        let mut stream = socket.connect(addr).await.with_context(|| format!("connecting to {addr}"))?;
        stream.set_nodelay(true)?;
        let head = format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).await?;
        let mut buf = Vec::with_capacity(1024);
        let end = loop {
            if let Some(i) = memchr::memmem::find(&buf, b"\r\n\r\n") {
                break i + 4;
            }
            if buf.len() > 16 * 1024 {
                bail!("upgrade response head over 16 KiB");
            }
            let mut chunk = [0u8; 1024];
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                bail!("closed during the upgrade");
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let status = String::from_utf8_lossy(&buf[..buf.iter().position(|b| *b == b'\r').unwrap_or(0)]).into_owned();
        if !status.contains(" 101 ") {
            bail!("upgrade refused: {status}");
        }
        Ok(RawWs { stream, pending: buf[end..].to_vec() })
    }

    /// Sends one text frame.
    pub async fn send_text(&mut self, text: &str) -> Result<()> {
        self.stream.write_all(&client_text(text.as_bytes())).await?;
        Ok(())
    }

    /// Reads until the stream holds `pattern`; drops everything read up to and including it.
    pub async fn wait_for(&mut self, pattern: &[u8], timeout: Duration) -> Result<()> {
        self.read_until(pattern, timeout).await.map(drop)
    }

    /// Reads until the stream holds `pattern`; answers the bytes before it and drops it.
    pub async fn read_until(&mut self, pattern: &[u8], timeout: Duration) -> Result<Vec<u8>> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(i) = memchr::memmem::find(&self.pending, pattern) {
                let before = self.pending[..i].to_vec();
                self.pending.drain(..i + pattern.len());
                return Ok(before);
            }
            let mut chunk = [0u8; 4096];
            let n = tokio::time::timeout_at(deadline, self.stream.read(&mut chunk))
                .await
                .with_context(|| format!("waiting for {:?}", String::from_utf8_lossy(pattern)))??;
            if n == 0 {
                bail!("closed while waiting for {:?}", String::from_utf8_lossy(pattern));
            }
            self.pending.extend_from_slice(&chunk[..n]);
        }
    }
}

/// A client's text frame: FIN, opcode 1, masked (with a zero key: valid, and the payload
/// stays as is).
pub fn client_text(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 14);
    out.push(0x81);
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
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(payload);
    out
}

/// A server's text frame (unmasked).
pub fn server_text(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 10);
    out.push(0x81);
    match payload.len() {
        n if n < 126 => out.push(n as u8),
        n if n <= u16::MAX as usize => {
            out.push(126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(payload);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_have_the_rfc_6455_headers() {
        assert_eq!(client_text(b"3"), vec![0x81, 0x81, 0, 0, 0, 0, b'3']);
        assert_eq!(&server_text(&[b'a'; 200])[..4], &[0x81, 126, 0, 200]);
        assert_eq!(&client_text(&[b'a'; 70_000])[..10], &[0x81, 0x80 | 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70]);
    }
}
