//! The accept loop. It is hand-rolled (rather than `axum::serve`) so that a fault rule can
//! break a connection the way a real network does: no response at all, or a TCP reset.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tower::ServiceExt;

/// A handler's hold on its own connection: to make it die instead of answering, or to tune
/// how its socket wakes the reader.
#[derive(Clone, Default)]
pub(crate) struct Conn(Arc<ConnState>);

#[derive(Default)]
struct ConnState {
    killed: AtomicBool,
    low_water: AtomicUsize,
    /// The connection's task while its read waits for the socket. A new mark takes effect
    /// only at its next read, and a raised mark keeps it from being woken: lowering the mark
    /// wakes it, so that bytes already in below the old mark are read now.
    reader: futures_util::task::AtomicWaker,
}

impl Conn {
    pub(crate) fn kill(&self) {
        self.0.killed.store(true, Ordering::SeqCst);
    }

    fn is_killed(&self) -> bool {
        self.0.killed.load(Ordering::SeqCst)
    }

    /// From the next read on, the reader is woken only once `bytes` have arrived (or the
    /// peer stops sending): one large read instead of dozens of small ones. Only for bytes
    /// that are sure to come, such as the rest of a body with a known length: the kernel does
    /// not wake the reader for less. Linux only, where lowering the mark re-checks readiness
    /// (elsewhere that is not promised, and a body's tail could wait forever). Lowering it
    /// takes effect at once, even for a reader already waiting.
    pub(crate) fn set_receive_low_water(&self, bytes: usize) {
        if cfg!(target_os = "linux") {
            let before = self.0.low_water.swap(bytes.max(1), Ordering::SeqCst);
            if bytes.max(1) < before {
                self.0.reader.wake();
            }
        }
    }

    fn receive_low_water(&self) -> usize {
        self.0.low_water.load(Ordering::SeqCst).max(1)
    }
}

/// The most body bytes a connection holds that a handler has not seen: hyper's read buffer
/// and the one chunk in flight to the handler.
pub(crate) const UNSEEN_BODY_MAX: u64 = 2 * READ_BUFFER_MAX as u64;
/// Each body chunk keeps its whole read buffer alive until it is written and hashed, so this
/// times the chunks queued per connection is what a PUT holds: at 2 MiB eight parallel part
/// PUTs took the emulator to 185 MB and paid for touching it afresh (+50 % CPU); 1 MiB keeps
/// it near 55 MB, and single PUTs are as fast.
const READ_BUFFER_MAX: usize = 1 << 20;

const ACCEPT_BACKOFF: std::time::Duration = std::time::Duration::from_millis(50);
// Longer than clients keep idle connections (the SDK: 60 s), so that none is closed under a
// request being sent on it.
const HEADER_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(90);

pub(crate) async fn serve(listener: TcpListener, app: Router, mut stop: watch::Receiver<bool>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else {
                    // Out of descriptors, say: retrying at once would spin a core until one
                    // frees up (hyper's own server pauses the same way).
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let conn = Conn::default();
                let io = TokioIo::new(ConnStream { inner: stream, conn: conn.clone(), low_water: 1 });
                let app = app.clone();
                let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
                    req.extensions_mut().insert(conn.clone());
                    app.clone().oneshot(req.map(axum::body::Body::new))
                });
                let mut conn_stop = stop.clone();
                connections.spawn(async move {
                    // Large reads mean fewer, larger body chunks: fewer wake-ups of the
                    // threads that write and hash them.
                    let conn = hyper::server::conn::http1::Builder::new()
                        .max_buf_size(READ_BUFFER_MAX)
                        // A client that never finishes its headers lets go of its connection.
                        .timer(hyper_util::rt::TokioTimer::new())
                        .header_read_timeout(HEADER_READ_TIMEOUT)
                        .serve_connection(io, service);
                    tokio::select! {
                        _ = conn => {}
                        _ = conn_stop.changed() => {}
                    }
                });
                while connections.try_join_next().is_some() {}
            }
            _ = stop.changed() => break,
        }
    }
    connections.shutdown().await;
}

struct ConnStream {
    inner: TcpStream,
    conn: Conn,
    /// The SO_RCVLOWAT in force on `inner`.
    low_water: usize,
}

impl ConnStream {
    fn check(&self) -> io::Result<()> {
        if self.conn.is_killed() {
            // Linger 0: closing sends a reset, as a crashed server or middlebox would.
            let _ = socket2::SockRef::from(&self.inner).set_linger(Some(std::time::Duration::ZERO));
            return Err(io::Error::new(io::ErrorKind::ConnectionReset, "connection killed by a fault rule"));
        }
        Ok(())
    }
}

impl AsyncRead for ConnStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        self.check()?;
        let this = self.get_mut();
        loop {
            let wanted = this.conn.receive_low_water();
            if wanted != this.low_water {
                // Linux re-checks readiness when the mark changes, so lowering it cannot strand
                // bytes that already arrived.
                set_receive_low_water(&this.inner, wanted)?;
                this.low_water = wanted;
            }
            let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
            if polled.is_ready() {
                return polled;
            }
            // Registered before looking at the mark again: a mark lowered after this look
            // wakes this task (`set_receive_low_water`).
            this.conn.0.reader.register(cx.waker());
            if this.conn.receive_low_water() == this.low_water {
                return Poll::Pending;
            }
        }
    }
}

fn set_receive_low_water(socket: &TcpStream, bytes: usize) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let value = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    // SAFETY: a valid socket descriptor and a pointer to a c_int of the size given.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVLOWAT,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
}

impl AsyncWrite for ConnStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.check()?;
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.check()?;
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.check()?;
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
