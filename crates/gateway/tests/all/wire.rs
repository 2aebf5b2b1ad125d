//! A hand-written WebSocket client for what jsonrpsee's client cannot do: hold a
//! socket without reading, and send raw frames.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// Opens `/rpc` as a WebSocket with `key`; returns the HTTP status line's code and,
/// on 101, the socket.
pub(crate) async fn upgrade(addr: SocketAddr, key: &str) -> (u16, Option<TcpStream>) {
    upgrade_with(addr, Some(key)).await
}

/// Opens `/rpc` as a WebSocket without an `Authorization` header, as a browser does.
pub(crate) async fn upgrade_keyless(addr: SocketAddr) -> (u16, Option<TcpStream>) {
    upgrade_with(addr, None).await
}

async fn upgrade_with(addr: SocketAddr, key: Option<&str>) -> (u16, Option<TcpStream>) {
    let mut socket = TcpStream::connect(addr).await.unwrap();
    let authorization = key
        .map(|key| format!("Authorization: Bearer {key}\r\n"))
        .unwrap_or_default();
    let handshake = format!(
        "GET /rpc HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         {authorization}\r\n"
    );
    socket.write_all(handshake.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    while !response.ends_with(b"\r\n\r\n") {
        response.push(socket.read_u8().await.unwrap());
    }
    let head = String::from_utf8_lossy(&response);
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    (status, (status == 101).then_some(socket))
}

/// One client-to-server text frame (clients must mask; a zero mask keeps the bytes).
pub(crate) fn masked_text_frame(payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![0x81];
    let len = payload.len();
    if len < 126 {
        frame.push(0x80 | len as u8);
    } else if len < 65_536 {
        frame.push(0x80 | 126);
        frame.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        frame.push(0x80 | 127);
        frame.extend_from_slice(&(len as u64).to_be_bytes());
    }
    frame.extend_from_slice(&[0, 0, 0, 0]);
    frame.extend_from_slice(payload);
    frame
}

/// One frame from the server.
#[derive(Debug)]
pub(crate) enum Frame {
    Text(String),
    /// A Close frame's code and reason.
    Close(u16, String),
    /// Ping, pong, binary.
    Other,
}

/// Reads the next frame; `None` at EOF or on a reset.
pub(crate) async fn read_frame(socket: &mut TcpStream) -> Option<Frame> {
    let head = socket.read_u8().await.ok()?;
    let len = match socket.read_u8().await.ok()? & 0x7f {
        126 => u64::from(socket.read_u16().await.ok()?),
        127 => socket.read_u64().await.ok()?,
        len => u64::from(len),
    };
    let mut payload = vec![0; usize::try_from(len).ok()?];
    socket.read_exact(&mut payload).await.ok()?;
    Some(match head & 0x0f {
        0x1 => Frame::Text(String::from_utf8(payload).ok()?),
        0x8 => {
            let code = u16::from_be_bytes([*payload.first()?, *payload.get(1)?]);
            Frame::Close(code, String::from_utf8_lossy(&payload[2..]).into_owned())
        }
        _ => Frame::Other,
    })
}

/// Reads the next text frame's payload, skipping pings; `None` once the socket is
/// closed (close frame, EOF or reset) or nothing arrives within `wait`.
pub(crate) async fn read_text(socket: &mut TcpStream, wait: Duration) -> Option<String> {
    tokio::time::timeout(wait, async {
        loop {
            match read_frame(socket).await? {
                Frame::Text(text) => return Some(text),
                Frame::Close(..) => return None,
                Frame::Other => {}
            }
        }
    })
    .await
    .ok()
    .flatten()
}

/// Reads frames until the server's Close frame; returns its code and reason and
/// how many text frames came before it. `None` when the socket ends without one
/// or nothing closes it within `wait`.
pub(crate) async fn read_close(
    socket: &mut TcpStream,
    wait: Duration,
) -> Option<(u16, String, usize)> {
    tokio::time::timeout(wait, async {
        let mut texts = 0;
        loop {
            match read_frame(socket).await? {
                Frame::Close(code, reason) => return Some((code, reason, texts)),
                Frame::Text(_) => texts += 1,
                Frame::Other => {}
            }
        }
    })
    .await
    .ok()
    .flatten()
}

/// Sends one call as a text frame.
pub(crate) async fn send_call(socket: &mut TcpStream, call: &serde_json::Value) {
    socket
        .write_all(&masked_text_frame(call.to_string().as_bytes()))
        .await
        .unwrap();
}
