//! RTP port pairs from the configured range: an even port for RTP and the next one for RTCP.
//!
//! A pair is taken round-robin from the range (so a just-freed pair is not reused at once, which would
//! let a late packet of the last call leak into the next one) and is given back when the
//! [`PortPair`] is dropped. A port the operating system refuses (in use by another program) is
//! skipped.
//!
//! The sockets are plain non-blocking `std` sockets: a media worker ([`crate::media_worker`]) reads
//! and writes them on its own thread at every 20 ms tick, without any runtime's readiness events.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::{Arc, Mutex};

use crate::EngineError;

/// The shared allocator.
#[derive(Debug, Clone)]
pub struct PortAllocator {
    inner: Arc<Mutex<PortState>>,
    bind_ip: IpAddr,
}

#[derive(Debug)]
struct PortState {
    first: u16,
    last: u16,
    next: u16,
    in_use: BTreeSet<u16>,
}

/// Two bound non-blocking sockets; the ports return to the pool on drop.
#[derive(Debug)]
pub struct PortPair {
    pub rtp: UdpSocket,
    pub rtcp: UdpSocket,
    pub rtp_port: u16,
    allocator: PortAllocator,
}

impl Drop for PortPair {
    fn drop(&mut self) {
        if let Ok(mut state) = self.allocator.inner.lock() {
            state.in_use.remove(&self.rtp_port);
        }
    }
}

impl PortAllocator {
    /// `first..=last`, both inclusive; the first even port at or above `first` starts the pairs.
    pub fn new(bind_ip: IpAddr, first: u16, last: u16) -> Result<Self, EngineError> {
        let first_even = first + (first % 2);
        if last <= first_even {
            return Err(EngineError::PortRange { first, last });
        }
        Ok(Self {
            inner: Arc::new(Mutex::new(PortState {
                first: first_even,
                last,
                next: first_even,
                in_use: BTreeSet::new(),
            })),
            bind_ip,
        })
    }

    /// How many pairs the range holds.
    pub fn capacity(&self) -> usize {
        self.inner
            .lock()
            .map(|s| usize::from((s.last - s.first).div_ceil(2)))
            .unwrap_or(0)
    }

    /// Binds the next free pair.
    pub fn allocate(&self) -> Result<PortPair, EngineError> {
        let attempts = self.capacity();
        for _ in 0..attempts {
            let Some(port) = self.reserve_next() else {
                break;
            };
            match self.bind_pair(port) {
                Ok((rtp, rtcp)) => {
                    return Ok(PortPair {
                        rtp,
                        rtcp,
                        rtp_port: port,
                        allocator: self.clone(),
                    });
                }
                Err(_) => self.release(port),
            }
        }
        Err(EngineError::NoFreePorts)
    }

    fn reserve_next(&self) -> Option<u16> {
        let mut state = self.inner.lock().ok()?;
        let pairs = (state.last - state.first).div_ceil(2);
        for _ in 0..pairs {
            let candidate = state.next;
            state.next = if candidate + 3 > state.last {
                state.first
            } else {
                candidate + 2
            };
            if candidate < state.last && state.in_use.insert(candidate) {
                return Some(candidate);
            }
        }
        None
    }

    fn release(&self, port: u16) {
        if let Ok(mut state) = self.inner.lock() {
            state.in_use.remove(&port);
        }
    }

    fn bind_pair(&self, port: u16) -> std::io::Result<(UdpSocket, UdpSocket)> {
        let bind = |port| -> std::io::Result<UdpSocket> {
            let socket = UdpSocket::bind(SocketAddr::new(self.bind_ip, port))?;
            socket.set_nonblocking(true)?;
            Ok(socket)
        };
        Ok((bind(port)?, bind(port + 1)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_even_distinct_and_returned() {
        let allocator =
            PortAllocator::new(IpAddr::from([127, 0, 0, 1]), 41001, 41010).expect("valid range");
        assert_eq!(allocator.capacity(), 4);
        let a = allocator.allocate().expect("first pair");
        let b = allocator.allocate().expect("second pair");
        assert_eq!(a.rtp_port % 2, 0);
        assert_ne!(a.rtp_port, b.rtp_port);
        let taken = a.rtp_port;
        drop(a);
        let c = allocator.allocate().expect("third pair");
        assert_ne!(c.rtp_port, taken, "a freed pair is not reused at once");
        assert!(PortAllocator::new(IpAddr::from([127, 0, 0, 1]), 5, 5).is_err());
    }
}
