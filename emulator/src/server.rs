//! The accept loop. It is hand-rolled (rather than `axum::serve`) so that a fault rule can
//! break a connection the way a real network does: no response at all, or a TCP reset.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
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

/// Set by a handler to make its connection die instead of answering.
#[derive(Clone, Default)]
pub(crate) struct ConnKill(Arc<AtomicBool>);

impl ConnKill {
    pub(crate) fn kill(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    fn is_killed(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

const READ_BUFFER_MAX: usize = 2 << 20;

pub(crate) async fn serve(listener: TcpListener, app: Router, mut stop: watch::Receiver<bool>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let kill = ConnKill::default();
                let io = TokioIo::new(KillableStream { inner: stream, kill: kill.clone() });
                let app = app.clone();
                let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
                    req.extensions_mut().insert(kill.clone());
                    app.clone().oneshot(req.map(axum::body::Body::new))
                });
                let mut conn_stop = stop.clone();
                connections.spawn(async move {
                    // Large reads mean fewer, larger body chunks: fewer wake-ups of the
                    // threads that write and hash them.
                    let conn = hyper::server::conn::http1::Builder::new()
                        .max_buf_size(READ_BUFFER_MAX)
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

struct KillableStream {
    inner: TcpStream,
    kill: ConnKill,
}

impl KillableStream {
    fn check(&self) -> io::Result<()> {
        if self.kill.is_killed() {
            // Linger 0: closing sends a reset, as a crashed server or middlebox would.
            let _ = socket2::SockRef::from(&self.inner).set_linger(Some(std::time::Duration::ZERO));
            return Err(io::Error::new(io::ErrorKind::ConnectionReset, "connection killed by a fault rule"));
        }
        Ok(())
    }
}

impl AsyncRead for KillableStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        self.check()?;
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for KillableStream {
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
