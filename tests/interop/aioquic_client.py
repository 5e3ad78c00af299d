#!/usr/bin/env python3
"""An independent QUIC client for a Parley node, on aioquic (no Rust, no quinn, no rustls).

    aioquic_client.py HOST PORT TOKEN CONVERSATION_ID [--cert-sha256 HEX]

Connects with ALPN parley/1 (TLS 1.3), opens one bidirectional stream, sends the `auth` frame,
then exchanges ready, sync/synced, ping/pong and send/reply (+ the event of its own message),
with every frame a 4-byte big-endian length and the JSON bytes. Prints each frame it receives as
one JSON line on stdout, then {"interop":"ok"}; on any failure prints the reason on stderr and
exits 1. With --cert-sha256 it accepts only the certificate with that SHA-256 (the value the node
prints); the chain is not checked against a CA since the node's certificate is self-signed.
"""

import argparse
import asyncio
import hashlib
import json
import ssl
import struct
import sys
import uuid

from aioquic.asyncio import connect
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import ConnectionTerminated, HandshakeCompleted, StreamDataReceived

ALPN = "parley/1"
MAX_FRAME = 64 * 1024
TIMEOUT = 10.0


class Failure(Exception):
    pass


class ParleyProtocol(QuicConnectionProtocol):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.frames = asyncio.Queue()
        self.buf = b""
        self.alpn = None
        self.stream_id = None

    def quic_event_received(self, event):
        if isinstance(event, HandshakeCompleted):
            self.alpn = event.alpn_protocol
        elif isinstance(event, StreamDataReceived) and event.stream_id == self.stream_id:
            self.buf += event.data
            while len(self.buf) >= 4:
                (length,) = struct.unpack(">I", self.buf[:4])
                if length > MAX_FRAME:
                    self.frames.put_nowait(Failure(f"node announced a {length}-byte frame"))
                    return
                if len(self.buf) < 4 + length:
                    break
                body, self.buf = self.buf[4 : 4 + length], self.buf[4 + length :]
                self.frames.put_nowait(json.loads(body))
            if event.end_stream:
                self.frames.put_nowait(Failure("node finished the stream"))
        elif isinstance(event, ConnectionTerminated):
            self.frames.put_nowait(
                Failure(f"connection closed: code {event.error_code:#x} {event.reason_phrase!r}")
            )

    def open_stream(self):
        self.stream_id = self._quic.get_next_available_stream_id(is_unidirectional=False)

    def send_frame(self, frame):
        body = json.dumps(frame, separators=(",", ":")).encode()
        self._quic.send_stream_data(self.stream_id, struct.pack(">I", len(body)) + body)
        self.transmit()

    def peer_cert_sha256(self):
        # aioquic keeps the peer's certificate (a `cryptography` object) on its TLS context.
        cert = self._quic.tls._peer_certificate
        from cryptography.hazmat.primitives.serialization import Encoding

        return hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()

    async def next_frame(self):
        item = await asyncio.wait_for(self.frames.get(), TIMEOUT)
        if isinstance(item, Failure):
            raise item
        print(json.dumps(item, separators=(",", ":")), flush=True)
        return item

    async def wait_for(self, what, pred):
        while True:
            frame = await self.next_frame()
            if pred(frame):
                return frame
            if frame.get("type") == "error":
                raise Failure(f"error frame while waiting for {what}: {frame}")


async def run(args):
    config = QuicConfiguration(is_client=True, alpn_protocols=[ALPN], server_name="localhost")
    # Self-signed certificate: the chain cannot be verified against a CA; the fingerprint is
    # pinned below instead.
    config.verify_mode = ssl.CERT_NONE
    async with connect(
        args.host, args.port, configuration=config, create_protocol=ParleyProtocol, wait_connected=True
    ) as client:
        if client.alpn != ALPN:
            raise Failure(f"negotiated ALPN {client.alpn!r}, expected {ALPN}")
        if args.cert_sha256:
            got = client.peer_cert_sha256()
            if got != args.cert_sha256.lower():
                raise Failure(f"certificate SHA-256 {got} does not match the pinned {args.cert_sha256}")
        client.open_stream()
        client.send_frame({"type": "auth", "token": args.token})
        ready = await client.next_frame()
        if ready.get("type") != "ready":
            raise Failure(f"first frame is not ready: {ready}")

        client.send_frame({"type": "sync", "id": "s1", "cursors": {args.conversation_id: 0}})
        await client.wait_for("synced", lambda f: f.get("type") == "synced" and f.get("id") == "s1")

        client.send_frame({"type": "ping", "id": 7})
        await client.wait_for("pong", lambda f: f.get("type") == "pong" and f.get("id") == 7)

        cmid = str(uuid.uuid4())
        client.send_frame(
            {
                "type": "send",
                "id": "m1",
                "conversation_id": args.conversation_id,
                "client_msg_id": cmid,
                "text": "hello from aioquic",
            }
        )
        # The reply and the event of our own message arrive in either order: the event travels
        # through NOTIFY and the node's fan-out, the reply through the commit.
        reply, event = None, None
        while reply is None or event is None:
            frame = await client.next_frame()
            if frame.get("type") == "error":
                raise Failure(f"error frame while waiting for the reply and the event: {frame}")
            if frame.get("type") == "reply" and frame.get("id") == "m1":
                reply = frame
            elif frame.get("type") == "event" and frame.get("event", {}).get("client_msg_id") == cmid:
                event = frame
        if reply.get("ok") is not True or reply.get("event", {}).get("client_msg_id") != cmid:
            raise Failure(f"send failed: {reply}")
        if event.get("seq") != reply["event"]["seq"] or event.get("conversation_id") != args.conversation_id:
            raise Failure(f"the event {event} does not match the reply {reply}")
        client.close(error_code=0x1000, reason_phrase="done")
    print(json.dumps({"interop": "ok"}), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("token")
    p.add_argument("conversation_id")
    p.add_argument("--cert-sha256", help="accept only the certificate with this SHA-256 (hex)")
    args = p.parse_args()
    try:
        asyncio.run(asyncio.wait_for(run(args), 30))
    except Exception as e:  # noqa: BLE001 - any failure is the test's failure
        print(f"aioquic_client: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
