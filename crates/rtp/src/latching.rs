//! Symmetric RTP (RFC 4961 usage, "comedia"): send to where the peer's media really comes from.
//!
//! Behind NAT the address in SDP is often unreachable; the source of the peer's packets is not.
//! The first valid RTP packet latches onto its source at once. After that, a different source
//! takes over only after [`RELATCH_PACKETS`] consecutive packets from it, so a stray or spoofed
//! packet cannot steal the stream; packets from a not-yet-latched source are not used as media.
//! [`RemoteLatch::set_remote`] (a re-INVITE moved the media) re-arms the immediate latch.

use std::net::SocketAddr;

/// Consecutive packets from a new source needed to move an established latch.
pub const RELATCH_PACKETS: u8 = 3;

#[derive(Debug, Clone)]
pub(crate) struct RemoteLatch {
    remote: Option<SocketAddr>,
    latched: bool,
    candidate: Option<(SocketAddr, u8)>,
}

impl RemoteLatch {
    pub(crate) fn new(remote: Option<SocketAddr>) -> Self {
        RemoteLatch {
            remote,
            latched: false,
            candidate: None,
        }
    }

    pub(crate) fn remote(&self) -> Option<SocketAddr> {
        self.remote
    }

    pub(crate) fn set_remote(&mut self, remote: SocketAddr) {
        self.remote = Some(remote);
        self.latched = false;
        self.candidate = None;
    }

    /// Records a valid RTP packet from `source`; returns whether it belongs to the media stream.
    pub(crate) fn observe(&mut self, source: SocketAddr) -> bool {
        if self.remote == Some(source) || !self.latched {
            self.remote = Some(source);
            self.latched = true;
            self.candidate = None;
            return true;
        }
        let count = match self.candidate {
            Some((candidate, count)) if candidate == source => count.saturating_add(1),
            _ => 1,
        };
        if count >= RELATCH_PACKETS {
            self.remote = Some(source);
            self.candidate = None;
            true
        } else {
            self.candidate = Some((source, count));
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(port: u16) -> SocketAddr {
        SocketAddr::from(([192, 0, 2, 1], port))
    }

    #[test]
    fn first_packet_latches_then_changes_need_three_in_a_row() {
        let mut latch = RemoteLatch::new(Some(address(4000)));
        assert!(latch.observe(address(5000)));
        assert_eq!(latch.remote(), Some(address(5000)));
        // A stray packet, then the real source again: nothing moves.
        assert!(!latch.observe(address(6000)));
        assert!(latch.observe(address(5000)));
        assert!(!latch.observe(address(6000)));
        assert!(!latch.observe(address(6000)));
        assert_eq!(latch.remote(), Some(address(5000)));
        assert!(latch.observe(address(6000)));
        assert_eq!(latch.remote(), Some(address(6000)));
    }

    #[test]
    fn interleaved_strangers_never_take_over() {
        let mut latch = RemoteLatch::new(None);
        assert!(latch.observe(address(5000)));
        for _ in 0..10 {
            assert!(!latch.observe(address(7000)));
            assert!(!latch.observe(address(8000)));
        }
        assert_eq!(latch.remote(), Some(address(5000)));
    }

    #[test]
    fn set_remote_rearms_the_immediate_latch() {
        let mut latch = RemoteLatch::new(None);
        assert!(latch.observe(address(5000)));
        latch.set_remote(address(9000));
        assert_eq!(latch.remote(), Some(address(9000)));
        assert!(latch.observe(address(9100)));
        assert_eq!(latch.remote(), Some(address(9100)));
    }
}
