//! TCP connections the gateway can close with a WebSocket Close frame of its own, or
//! abort.
//!
//! jsonrpsee writes WebSocket frames from a task of its own that holds the socket;
//! when the client stops reading, that task waits forever on a full socket, keeping
//! every queued answer alive, and dropping jsonrpsee's connection future does not
//! end it. jsonrpsee also has no way to send a Close frame with a code. So
//! [`crate::serve`] wraps each accepted stream in a [`KillableStream`] whose
//! [`KillSwitch`] (reachable from the request as `ConnectInfo<ConnKill>`) shares the
//! socket with the gateway:
//!
//! - once a WebSocket upgrade is answered, it follows the outgoing frames
//!   ([`Outgoing`]), so it knows where one ends and counts the message bytes that
//!   left ([`OutboundBytes`]);
//! - [`KillSwitch::close`] stops jsonrpsee at the next frame boundary (reads and
//!   writes park), writes a Close frame, half-closes, and reads what the client
//!   still sends until it closes too, all within a deadline, so a reader that never
//!   reads cannot hold the server;
//! - [`KillSwitch::kill`] makes every pending and later read or write fail:
//!   jsonrpsee's tasks then end, and the socket and its answers are freed.

use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use futures::task::AtomicWaker;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use crate::frames::{Outgoing, close_frame};
use crate::outbox::OutboundBytes;

/// Reads of the client's last bytes per poll while closing, so one busy socket
/// cannot keep a runtime thread.
const DRAIN_READS_PER_POLL: usize = 16;

/// One TCP connection, shared by its stream (driven by hyper and jsonrpsee) and the
/// gateway, which may close or abort it.
#[derive(Debug)]
pub(crate) struct KillSwitch {
    killed: AtomicBool,
    /// jsonrpsee's reader and writer, parked while closing; woken by [`Self::kill`].
    read: AtomicWaker,
    write: AtomicWaker,
    /// The closer, waiting for jsonrpsee to reach a frame boundary.
    boundary: AtomicWaker,
    io: Mutex<Io>,
}

#[derive(Debug)]
struct Io {
    /// `None` once killed or once hyper dropped the connection: the socket is
    /// closed then, whoever still holds the switch (a request's extensions do).
    stream: Option<TcpStream>,
    outgoing: Outgoing,
    /// Counted down as data frames leave; set when a WebSocket is upgraded.
    outbound: Option<Arc<OutboundBytes>>,
    closing: Option<Closing>,
}

#[derive(Debug)]
struct Closing {
    frame: Vec<u8>,
    written: usize,
    /// Let the counted messages out first (see `CloseReason::drains_first`).
    drain: bool,
}

impl Io {
    fn stream(&mut self) -> io::Result<Pin<&mut TcpStream>> {
        self.stream.as_mut().map(Pin::new).ok_or_else(killed)
    }

    /// Whether the Close frame may go now: at a frame boundary, with nothing counted
    /// left to write when draining.
    fn may_close(&self, closing: &Closing) -> bool {
        let drained = !closing.drain
            || self
                .outbound
                .as_ref()
                .is_none_or(|outbound| outbound.pending() == 0);
        self.outgoing.at_boundary() && drained
    }
}

impl KillSwitch {
    fn new(stream: TcpStream) -> Self {
        Self {
            killed: AtomicBool::new(false),
            read: AtomicWaker::new(),
            write: AtomicWaker::new(),
            boundary: AtomicWaker::new(),
            io: Mutex::new(Io {
                stream: Some(stream),
                outgoing: Outgoing::Http,
                outbound: None,
                closing: None,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Io> {
        // Every critical section is a few non-blocking calls; a panic in one cannot
        // leave the state worse than the I/O error it would have been.
        self.io.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Aborts the connection: the socket is closed, and every read and write fails
    /// from now on.
    pub(crate) fn kill(&self) {
        self.killed.store(true, Ordering::Release);
        drop(self.lock().stream.take());
        self.read.wake();
        self.write.wake();
        self.boundary.wake();
    }

    /// A WebSocket upgrade is being answered: what this connection writes next is
    /// the `101` answer, then frames. Browsers and our clients open a fresh
    /// connection per WebSocket, so nothing of an earlier answer is still unwritten.
    pub(crate) fn arm(&self, outbound: Option<Arc<OutboundBytes>>) {
        let mut io = self.lock();
        io.outgoing = Outgoing::upgrading();
        io.outbound = outbound;
    }

    /// The upgrade was not answered with `101` after all: plain HTTP again.
    pub(crate) fn disarm(&self) {
        let mut io = self.lock();
        io.outgoing = Outgoing::Http;
        io.outbound = None;
    }

    /// Closes the WebSocket with a Close frame of `code` and `reason`: jsonrpsee
    /// is stopped at the next frame boundary (or, with `drain`, once what it was
    /// counted to write is out), the frame is written and the stream half-closed, and
    /// the client's last bytes are read until it closes its side. Whatever is not done
    /// within `wait` is cut: the connection is killed in every case.
    pub(crate) async fn close(&self, code: u16, reason: &str, drain: bool, wait: Duration) {
        let frames = {
            let mut io = self.lock();
            if io.closing.is_none() {
                io.closing = Some(Closing {
                    frame: close_frame(code, reason),
                    written: 0,
                    drain,
                });
            }
            io.outgoing.in_frames()
        };
        if frames {
            let send = async {
                if poll_fn(|cx| self.poll_send_close(cx)).await.is_ok() {
                    // The client reads our frames up to the end, then end of stream.
                    let _ = poll_fn(|cx| self.lock().stream()?.poll_shutdown(cx)).await;
                }
            };
            // Reading on meanwhile: a client blocked writing to a full socket would
            // never get to read the Close frame; its end of stream means it is done.
            let read_to_end = poll_fn(|cx| self.poll_read_to_end(cx));
            let _ = tokio::time::timeout(wait, futures::future::join(send, read_to_end)).await;
        }
        self.kill();
    }

    fn poll_send_close(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.boundary.register(cx.waker());
        if self.killed.load(Ordering::Acquire) {
            return Poll::Ready(Err(killed()));
        }
        let mut io = self.lock();
        let io = &mut *io;
        let Some(closing) = io.closing.as_ref() else {
            return Poll::Ready(Ok(()));
        };
        if closing.written == 0 && !io.may_close(closing) {
            // jsonrpsee's next write past the boundary wakes us.
            return Poll::Pending;
        }
        let Some(closing) = io.closing.as_mut() else {
            return Poll::Ready(Ok(()));
        };
        while closing.written < closing.frame.len() {
            let rest = &closing.frame[closing.written..];
            let Some(stream) = io.stream.as_mut() else {
                return Poll::Ready(Err(killed()));
            };
            let written = ready!(Pin::new(stream).poll_write(cx, rest))?;
            if written == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            closing.written += written;
        }
        Poll::Ready(Ok(()))
    }

    fn poll_read_to_end(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut io = self.lock();
        let Ok(mut stream) = io.stream() else {
            return Poll::Ready(());
        };
        let mut scratch = [0_u8; 4096];
        for _ in 0..DRAIN_READS_PER_POLL {
            let mut buf = ReadBuf::new(&mut scratch);
            match stream.as_mut().poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) if buf.filled().is_empty() => return Poll::Ready(()),
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(_)) => return Poll::Ready(()),
                Poll::Pending => return Poll::Pending,
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// `Err` once killed; registers `waker` so a kill wakes whoever waits.
    fn check(&self, waker: &AtomicWaker, cx: &Context<'_>) -> io::Result<()> {
        waker.register(cx.waker());
        if self.killed.load(Ordering::Acquire) {
            return Err(killed());
        }
        Ok(())
    }
}

fn killed() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionAborted, "closed by the gateway")
}

/// The kill switch of the connection a request came over.
#[derive(Debug, Clone)]
pub(crate) struct ConnKill(pub(crate) Arc<KillSwitch>);

/// A [`TcpListener`] whose streams can be closed or aborted.
#[derive(Debug)]
pub(crate) struct KillableListener(pub(crate) TcpListener);

#[derive(Debug)]
pub(crate) struct KillableStream {
    switch: Arc<KillSwitch>,
}

impl Listener for KillableListener {
    type Io = KillableStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (inner, addr) = Listener::accept(&mut self.0).await;
        let stream = KillableStream {
            switch: Arc::new(KillSwitch::new(inner)),
        };
        (stream, addr)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Listener::local_addr(&self.0)
    }
}

impl Connected<IncomingStream<'_, KillableListener>> for ConnKill {
    fn connect_info(stream: IncomingStream<'_, KillableListener>) -> Self {
        Self(Arc::clone(&stream.io().switch))
    }
}

impl AsyncRead for KillableStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let switch = &self.switch;
        switch.check(&switch.read, cx)?;
        let mut io = switch.lock();
        if io.closing.is_some() {
            // The gateway reads the rest itself; jsonrpsee gets no more calls.
            return Poll::Pending;
        }
        io.stream()?.poll_read(cx, buf)
    }
}

impl AsyncWrite for KillableStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let switch = &self.switch;
        switch.check(&switch.write, cx)?;
        let mut io = switch.lock();
        let io = &mut *io;
        let mut len = buf.len();
        if let Some(closing) = &io.closing {
            if closing.written > 0 || io.may_close(closing) {
                // The Close frame goes (or went) next: jsonrpsee writes no more.
                switch.boundary.wake();
                return Poll::Pending;
            }
            // Up to the end of the current frame only, so the Close frame can
            // follow it.
            if let Some(to_boundary) = io.outgoing.bytes_to_boundary() {
                len = len.min(usize::try_from(to_boundary).unwrap_or(usize::MAX));
            }
        }
        let written = ready!(io.stream()?.poll_write(cx, &buf[..len]))?;
        let data = io.outgoing.observe(&buf[..written]);
        if data > 0
            && let Some(outbound) = &io.outbound
        {
            outbound.written(data);
        }
        if io.closing.is_some() && io.outgoing.at_boundary() {
            switch.boundary.wake();
        }
        Poll::Ready(Ok(written))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let switch = &self.switch;
        switch.check(&switch.write, cx)?;
        switch.lock().stream()?.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let switch = &self.switch;
        let mut io = switch.lock();
        if io.closing.is_some() && !switch.killed.load(Ordering::Acquire) {
            // The gateway half-closes once its Close frame is out.
            switch.write.register(cx.waker());
            return Poll::Pending;
        }
        io.stream()?.poll_shutdown(cx)
    }
}

impl Drop for KillableStream {
    fn drop(&mut self) {
        // hyper is done with the connection: close the socket now, not when the last
        // holder of the switch lets go of it.
        drop(self.switch.lock().stream.take());
    }
}
