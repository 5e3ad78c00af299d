//! The do-nothing room server (`parley-bench --fanout-null-server`, run in its own process): a
//! message from any socket is framed once and the same bytes are written to every other socket,
//! queued frames coalesced into one write, then acknowledged with `ack`. No parsing, no storage:
//! what the generator measures against it is the generator's own ceiling.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::Result;
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

type Room = Arc<Mutex<HashMap<u64, mpsc::UnboundedSender<Bytes>>>>;

/// Listens on a free loopback port, prints `listening <port>`, serves until killed.
pub fn serve() -> Result<()> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(async {
        // std's (and so tokio's `bind`) backlog of 128 overflows under a connect storm.
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.bind(([127, 0, 0, 1], 0).into())?;
        let listener = socket.listen(4096)?;
        println!("listening {}", listener.local_addr()?.port());
        let room: Room = Arc::default();
        let ids = Arc::new(AtomicU64::new(0));
        loop {
            let (stream, _) = listener.accept().await?;
            let (room, id) = (room.clone(), ids.fetch_add(1, Ordering::Relaxed));
            tokio::spawn(async move {
                let _ = serve_socket(stream, id, room.clone()).await;
                room.lock().expect("room").remove(&id);
            });
        }
    })
}

async fn serve_socket(stream: TcpStream, id: u64, room: Room) -> Result<()> {
    stream.set_nodelay(true)?;
    let mut ws = tokio_tungstenite::accept_async(stream).await?;
    let (tx, mut rx) = mpsc::unbounded_channel::<Bytes>();
    room.lock().expect("room").insert(id, tx);
    let mut batch = Vec::new();
    loop {
        tokio::select! {
            m = ws.next() => match m {
                Some(Ok(Message::Text(t))) => {
                    let frame = Bytes::from(super::raw::server_text(t.as_bytes()));
                    for (other, q) in room.lock().expect("room").iter() {
                        if *other != id {
                            let _ = q.send(frame.clone());
                        }
                    }
                    ws.send(Message::text("ack")).await?;
                }
                Some(Ok(_)) => {}
                _ => return Ok(()),
            },
            Some(first) = rx.recv() => {
                batch.clear();
                batch.extend_from_slice(&first);
                while let Ok(more) = rx.try_recv() {
                    batch.extend_from_slice(&more);
                }
                // Below tungstenite, which has nothing of its own buffered: it writes only when
                // this task sends through it, and each such send is flushed.
                ws.get_mut().write_all(&batch).await?;
            }
        }
    }
}
