//! Outbound calls: [`Dialer::call`] sends an INVITE with the caller's SDP offer and returns at
//! once; the call's progress arrives as [`OutboundEvent`]s from [`OutboundCall::next_event`].
//!
//! rsipstack runs the INVITE client transaction (`do_invite_async`): retransmissions, digest
//! answers to 401 and 407 (MD5 and SHA-256; one answer per challenge, more only for
//! `stale=true`), the ACK of a 2xx and of its retransmissions, CANCEL deferred until a
//! provisional response (RFC 3261 §9.1), and ACK + BYE for a 2xx that crosses our CANCEL. One
//! small task per call merges the dialog's states and the transaction's outcome into events:
//!
//! - `Trying` (100), `Ringing` (first 18x without SDP), `EarlyMedia` (each new 18x SDP),
//! - `Answered` once (a retransmitted 200 OK is re-ACKed by rsipstack and reported nothing),
//! - `Failed { status, reason }` for a final non-2xx (486, 603, 487 after our CANCEL, a 401/407 we
//!   could not answer ...), `408` when no final response came (also when the target cannot be
//!   reached: rsipstack retries a refused TCP connection or a failed DNS lookup until Timer B,
//!   32 s), `503` when sending fails outright (a stream that broke); `Failed` is the last event
//!   of an unanswered call;
//! - after `Answered`: `Offer` (re-INVITE/UPDATE from the callee), `InfoDigit`, then
//!   `RemoteHangup` (their BYE) or `Ended` (our BYE, a timeout), the last event.
//!
//! Dropping an [`OutboundCall`] that has not ended cancels it (before an answer) or hangs it up.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

mod driver;

use rsipstack::dialog::authenticate::Credential;
use rsipstack::dialog::dialog_layer::DialogLayer;
use rsipstack::dialog::invitation::InviteOption;
use rsipstack::dialog::invite_dialog::InviteDialog;
use rsipstack::sip::uri::ParamsExt;
use rsipstack::sip::{Header, HostWithPort, Transport, Uri};
use rsipstack::transport::SipAddr;
use tokio::sync::mpsc;
use tracing::{debug, info};

use self::driver::Driver;
use crate::SipError;
use crate::call::OfferResponder;
use crate::endpoint::{Listener, TransportKind};

/// What to call, and as whom.
#[derive(Debug, Clone, Default)]
pub struct OutboundRequest {
    /// The Request-URI: `sip:user@host[:port][;transport=tcp]`.
    pub target: String,
    /// The From user (caller id).
    pub from_user: String,
    pub from_display: Option<String>,
    /// The From host; default: the local address the call leaves from.
    pub from_domain: Option<String>,
    /// (username, password) for 401/407 challenges.
    pub credentials: Option<(String, String)>,
    /// Our SDP offer (empty for an offer-less INVITE).
    pub sdp_offer: String,
    /// Extra headers, e.g. `("X-Campaign", "42")`.
    pub headers: Vec<(String, String)>,
    /// Send to this address instead of the target's host: a registered softphone's source
    /// address.
    pub destination: Option<SocketAddr>,
    /// The transport to use; `None`: the target's `transport` parameter (UDP without one).
    pub transport: Option<TransportKind>,
}

/// What happens to an outbound call, in order; see the module docs.
#[derive(Debug)]
pub enum OutboundEvent {
    Trying,
    Ringing,
    EarlyMedia {
        sdp: Vec<u8>,
    },
    Answered {
        sdp: Vec<u8>,
    },
    Failed {
        status: u16,
        reason: String,
    },
    RemoteHangup,
    Offer {
        sdp: Vec<u8>,
        responder: OfferResponder,
    },
    InfoDigit(char),
    Ended {
        reason: String,
    },
}

/// Places outbound calls; cheap to clone.
#[derive(Clone)]
pub struct Dialer {
    inner: Arc<DialerInner>,
}

struct DialerInner {
    dialog_layer: Arc<DialogLayer>,
    listeners: Vec<Listener>,
    public_address: Option<IpAddr>,
}

impl std::fmt::Debug for Dialer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dialer")
            .field("listeners", &self.inner.listeners)
            .finish_non_exhaustive()
    }
}

impl Dialer {
    pub(crate) fn new(
        dialog_layer: Arc<DialogLayer>,
        listeners: Vec<Listener>,
        public_address: Option<IpAddr>,
    ) -> Self {
        Self {
            inner: Arc::new(DialerInner {
                dialog_layer,
                listeners,
                public_address,
            }),
        }
    }

    /// The address to write in the SDP offer (`c=`) and Contact of a call to `target`: the
    /// configured public address; else the listener's address when it is not a wildcard; else
    /// the local address the system routes towards the target (or towards the Internet when the
    /// target is a host name).
    pub fn local_ip_for(&self, target: &str, destination: Option<SocketAddr>) -> IpAddr {
        let transport = Uri::try_from(target)
            .ok()
            .map_or(TransportKind::Udp, |uri| transport_of(&uri));
        self.local_address(transport, destination_ip(target, destination))
            .ip()
    }

    /// Sends the INVITE and returns at once. Errors only for a target that is not a SIP URI or a
    /// request rsipstack cannot build; everything later is an [`OutboundEvent`].
    pub fn call(&self, request: OutboundRequest) -> Result<OutboundCall, SipError> {
        let invalid = |reason: String| SipError::InvalidTarget {
            target: request.target.clone(),
            reason,
        };
        let scheme = request.target.split_once(':').map(|(scheme, _)| scheme);
        if !scheme.is_some_and(|s| s.eq_ignore_ascii_case("sip") || s.eq_ignore_ascii_case("sips"))
        {
            return Err(invalid("not a sip: or sips: URI".into()));
        }
        let callee = Uri::try_from(request.target.as_str()).map_err(|e| invalid(e.to_string()))?;
        if callee.host_with_port.host.to_string().is_empty() {
            return Err(invalid("no host".into()));
        }
        let transport = request.transport.unwrap_or_else(|| transport_of(&callee));
        let local = self.local_address(
            transport,
            destination_ip(&request.target, request.destination),
        );
        let local_host = host_text(local.ip());
        let from_user = if request.from_user.is_empty() {
            "ivory"
        } else {
            request.from_user.as_str()
        };
        let from_host = request.from_domain.clone().unwrap_or(local_host.clone());
        let caller = Uri::try_from(format!("sip:{from_user}@{from_host}").as_str())
            .map_err(|e| invalid(format!("From: {e}")))?;
        let transport_parameter = match transport {
            TransportKind::Udp => "",
            TransportKind::Tcp => ";transport=tcp",
        };
        // A Contact with a transport parameter is sent as written: over TCP it names our
        // listener, not the connection's ephemeral port.
        let contact = Uri::try_from(
            format!(
                "sip:ivory@{local_host}:{}{transport_parameter}",
                local.port()
            )
            .as_str(),
        )
        .map_err(|e| invalid(format!("Contact: {e}")))?;
        let destination = request.destination.map(|address| SipAddr {
            r#type: Some(match transport {
                TransportKind::Udp => Transport::Udp,
                TransportKind::Tcp => Transport::Tcp,
            }),
            addr: HostWithPort::from(address),
        });
        let has_offer = !request.sdp_offer.is_empty();
        let headers: Vec<Header> = request
            .headers
            .iter()
            .map(|(name, value)| Header::Other(name.clone(), value.clone()))
            .collect();
        let option = InviteOption {
            caller_display_name: request.from_display.clone(),
            caller,
            callee,
            destination,
            content_type: has_offer.then(|| "application/sdp".to_string()),
            offer: has_offer.then(|| request.sdp_offer.clone().into_bytes()),
            contact,
            credential: request
                .credentials
                .as_ref()
                .map(|(username, password)| Credential {
                    username: username.clone(),
                    password: password.clone(),
                    realm: None,
                    auth_username: None,
                }),
            headers: (!headers.is_empty()).then_some(headers),
            ..Default::default()
        };
        let dialog_layer = self.inner.dialog_layer.clone();
        let (state_sender, states) = dialog_layer.new_dialog_state_channel();
        let (dialog, outcome) = dialog_layer.do_invite_async(option, state_sender)?;
        let call_id = dialog.id().call_id.clone();
        info!(%call_id, target = %request.target, "outbound call");
        let (events_tx, events) = mpsc::unbounded_channel();
        let finished = Arc::new(AtomicBool::new(false));
        let driver = Driver {
            call_id: call_id.clone(),
            dialog: dialog.clone(),
            dialog_layer: dialog_layer.clone(),
            events: events_tx,
            finished: finished.clone(),
            answered: false,
            ringing: false,
            trying: false,
            early_sdp: None,
        };
        tokio::spawn(driver.run(states, outcome));
        Ok(OutboundCall {
            call_id,
            dialog,
            events,
            finished,
        })
    }

    fn local_address(&self, transport: TransportKind, towards: Option<IpAddr>) -> SocketAddr {
        let listeners = &self.inner.listeners;
        let listener = listeners
            .iter()
            .find(|l| l.transport == transport)
            .or(listeners.first());
        let port = listener.map_or(5060, |l| l.address.port());
        let ip = self
            .inner
            .public_address
            .or(listener
                .map(|l| l.address.ip())
                .filter(|ip| !ip.is_unspecified()))
            .unwrap_or_else(|| route_source(towards));
        SocketAddr::new(ip, port)
    }
}

/// One outbound call, owned by one task.
pub struct OutboundCall {
    call_id: String,
    dialog: InviteDialog,
    events: mpsc::UnboundedReceiver<OutboundEvent>,
    finished: Arc<AtomicBool>,
}

impl std::fmt::Debug for OutboundCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboundCall")
            .field("call_id", &self.call_id)
            .finish_non_exhaustive()
    }
}

impl OutboundCall {
    pub fn call_id(&self) -> &str {
        &self.call_id
    }

    /// The next thing that happened; `None` after the last event. Cancel-safe.
    pub async fn next_event(&mut self) -> Option<OutboundEvent> {
        self.events.recv().await
    }

    /// Cancels the call before it is answered (CANCEL; deferred until the first provisional
    /// response if none came yet). The call then ends with `Failed { status: 487 }`; a 200 OK
    /// crossing the CANCEL is ACKed and ended with BYE. After a final response: nothing.
    pub async fn cancel(&self) -> Result<(), SipError> {
        Ok(self.dialog.cancel().await?)
    }

    /// Ends the call: BYE once answered, CANCEL before. Returns when the BYE or CANCEL is
    /// answered (or its transaction timed out, 32 s): run it beside the event loop, not in it,
    /// when that matters.
    pub async fn hangup(&self) -> Result<(), SipError> {
        Ok(self.dialog.hangup().await?)
    }

    /// A handle that cancels or hangs up this call from another task, while this one reads its
    /// events.
    pub fn control(&self) -> OutboundControl {
        OutboundControl {
            dialog: self.dialog.clone(),
        }
    }
}

/// Cancels or hangs up an [`OutboundCall`] from elsewhere; cheap to clone.
#[derive(Clone)]
pub struct OutboundControl {
    dialog: InviteDialog,
}

impl std::fmt::Debug for OutboundControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboundControl").finish_non_exhaustive()
    }
}

impl OutboundControl {
    /// As [`OutboundCall::cancel`].
    pub async fn cancel(&self) -> Result<(), SipError> {
        Ok(self.dialog.cancel().await?)
    }

    /// As [`OutboundCall::hangup`].
    pub async fn hangup(&self) -> Result<(), SipError> {
        Ok(self.dialog.hangup().await?)
    }
}

impl Drop for OutboundCall {
    fn drop(&mut self) {
        if self.finished.load(Ordering::SeqCst) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let dialog = self.dialog.clone();
        runtime.spawn(async move {
            if let Err(error) = dialog.hangup().await {
                debug!(%error, "hang-up of a dropped outbound call failed");
            }
        });
    }
}

fn transport_of(uri: &Uri) -> TransportKind {
    match uri.transport() {
        Some(Transport::Tcp) => TransportKind::Tcp,
        _ => TransportKind::Udp,
    }
}

/// The IP a call goes to, when known without DNS.
fn destination_ip(target: &str, destination: Option<SocketAddr>) -> Option<IpAddr> {
    destination.map(|address| address.ip()).or_else(|| {
        let uri = Uri::try_from(target).ok()?;
        uri.host_with_port
            .host
            .to_string()
            .trim_matches(['[', ']'])
            .parse()
            .ok()
    })
}

/// The local address the system would send from towards `towards` (a UDP "connect" sends
/// nothing); loopback when there is no route.
fn route_source(towards: Option<IpAddr>) -> IpAddr {
    let target = towards.unwrap_or(IpAddr::from([192, 0, 2, 1]));
    let bind: SocketAddr = match target {
        IpAddr::V4(_) => SocketAddr::from(([0, 0, 0, 0], 0)),
        IpAddr::V6(_) => SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, 0)),
    };
    std::net::UdpSocket::bind(bind)
        .and_then(|socket| {
            socket.connect(SocketAddr::new(target, 5060))?;
            socket.local_addr()
        })
        .map(|address| address.ip())
        .unwrap_or(IpAddr::from([127, 0, 0, 1]))
}

fn host_text(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_and_hosts() {
        let given: SocketAddr = "192.0.2.5:5070".parse().expect("address");
        assert_eq!(
            destination_ip("sip:a@example.com", Some(given)),
            Some(given.ip())
        );
        assert_eq!(
            destination_ip("sip:a@198.51.100.2:5060", None),
            Some("198.51.100.2".parse().expect("ip"))
        );
        assert_eq!(destination_ip("sip:a@example.com", None), None);
        assert_eq!(host_text("::1".parse().expect("ip")), "[::1]");
        assert!(route_source(Some("127.0.0.1".parse().expect("ip"))).is_loopback());
    }
}
