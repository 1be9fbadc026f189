//! A UDP socket for rsipstack that screens every datagram first (see [`crate::screen`]).
//!
//! rsipstack reads datagrams through its `platform::net::UdpSocket` trait; this type implements it
//! over a tokio socket. Datagrams that need an answer rsipstack would not give (400, 501) are answered
//! here and never reach rsipstack; fixable ones are rewritten in place; the rest pass unchanged.
//! It also renames the SHA-256 digest algorithm both ways (see [`crate::digest_compat`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tracing::{debug, warn};

use crate::digest_compat;
use crate::screen::{ALLOWED_METHODS, Screening, screen_datagram_allowing};

/// Counters of what screening did, for logs and metrics.
#[derive(Debug, Default)]
pub struct ScreeningStats {
    pub passed: AtomicU64,
    pub rewritten: AtomicU64,
    pub answered: AtomicU64,
    pub dropped: AtomicU64,
}

/// The screening socket handed to rsipstack.
pub struct ScreeningSocket {
    socket: tokio::net::UdpSocket,
    /// When set, nothing is ever sent to a non-loopback address (tests replaying torture messages whose
    /// Via headers name hosts on the Internet).
    loopback_only: bool,
    /// The `Allow` list of 501 answers.
    allow: &'static str,
    stats: Arc<ScreeningStats>,
}

impl ScreeningSocket {
    pub fn new(socket: tokio::net::UdpSocket, loopback_only: bool) -> Self {
        Self {
            socket,
            loopback_only,
            allow: ALLOWED_METHODS,
            stats: Arc::default(),
        }
    }

    /// Sets the `Allow` list 501 answers carry (see [`crate::screen::allowed_methods`]).
    pub fn with_allowed_methods(mut self, allow: &'static str) -> Self {
        self.allow = allow;
        self
    }

    pub fn stats(&self) -> Arc<ScreeningStats> {
        self.stats.clone()
    }

    async fn send_guarded(&self, datagram: &[u8], to: SocketAddr) -> std::io::Result<usize> {
        if self.loopback_only && !to.ip().is_loopback() {
            warn!(%to, "loopback-only mode: not sending to a non-loopback address");
            return Ok(datagram.len());
        }
        self.socket.send_to(datagram, to).await
    }
}

fn is_keep_alive(datagram: &[u8]) -> bool {
    datagram.iter().all(u8::is_ascii_whitespace)
}

#[async_trait::async_trait]
impl rsipstack::platform::net::UdpSocket for ScreeningSocket {
    async fn recv_from(&self, buf: &mut [u8]) -> rsipstack::Result<(usize, SocketAddr)> {
        loop {
            let (len, from) = self.socket.recv_from(buf).await?;
            let datagram = &buf[..len];
            // rsipstack answers CRLF keep-alives itself.
            if is_keep_alive(datagram) {
                return Ok((len, from));
            }
            match screen_datagram_allowing(datagram, self.allow) {
                Screening::Pass => {
                    self.stats.passed.fetch_add(1, Ordering::Relaxed);
                    match digest_compat::incoming(datagram) {
                        Some(renamed) if renamed.len() <= buf.len() => {
                            buf[..renamed.len()].copy_from_slice(&renamed);
                            return Ok((renamed.len(), from));
                        }
                        _ => return Ok((len, from)),
                    }
                }
                Screening::Rewrite(fixed) if fixed.len() <= buf.len() => {
                    let fixed = digest_compat::incoming(&fixed)
                        .filter(|renamed| renamed.len() <= buf.len())
                        .unwrap_or(fixed);
                    self.stats.rewritten.fetch_add(1, Ordering::Relaxed);
                    buf[..fixed.len()].copy_from_slice(&fixed);
                    return Ok((fixed.len(), from));
                }
                Screening::Rewrite(fixed) => {
                    self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                    debug!(%from, len = fixed.len(), "rewritten datagram too large, dropped");
                }
                Screening::Reply(response) => {
                    self.stats.answered.fetch_add(1, Ordering::Relaxed);
                    debug!(%from, "malformed request answered by screening");
                    if let Err(error) = self.send_guarded(&response, from).await {
                        warn!(%from, %error, "cannot send screening response");
                    }
                }
                Screening::Drop(reason) => {
                    self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                    debug!(%from, ?reason, "datagram dropped by screening");
                }
            }
        }
    }

    async fn send_to(&self, buf: &[u8], addr: SocketAddr) -> rsipstack::Result<usize> {
        if let Some(renamed) = digest_compat::outgoing(buf) {
            self.send_guarded(&renamed, addr).await?;
            // Report the size rsipstack handed over, as if sent unchanged.
            return Ok(buf.len());
        }
        Ok(self.send_guarded(buf, addr).await?)
    }

    fn local_addr(&self) -> rsipstack::Result<SocketAddr> {
        Ok(self.socket.local_addr()?)
    }
}
