//! ivory's SIP user agent, over rsipstack.
//!
//! The rest of ivory sees only this crate's API: it binds the listeners ([`SipEndpoint::bind`]),
//! hands each new INVITE to the engine as an [`InboundCall`], and turns what happens in the call's
//! dialog into [`CallEvent`]s. rsipstack does transports, transactions, timers and dialogs; this crate
//! adds what rsipstack lacks (see `../shared/DEPENDENCIES.md`):
//!
//! - [`screen`]: every UDP datagram is screened *before* rsipstack parses it
//!   ([`screening_socket`]): malformed requests get `400`, unknown methods `501`, a message without
//!   Content-Length keeps its body, trailing octets are cut, malformed responses are dropped. rsipstack
//!   would silently drop or mis-parse these.
//! - [`sdp`]: offer/answer for G.711 (PCMU, PCMA) and `telephone-event`.
//! - [`dtmf_info`]: digits carried in SIP INFO (`application/dtmf-relay`, `application/dtmf`).
//! - [`invite_policy`]: 420 for unknown `Require` tags, 415 for a non-SDP body, 406 for an `Accept`
//!   without SDP.
//! - out-of-dialog policy: OPTIONS → 200, BYE/INFO for unknown dialogs → 481, other methods → 405.
//! - [`outbound`]: calls out ([`Dialer::call`] → [`OutboundCall`] and its [`OutboundEvent`]s), digest
//!   answers to 401/407 by rsipstack.
//! - [`registrar`]: softphones REGISTER with digest auth ([`digest`]); [`Registrar::lookup`] finds
//!   where a user can be reached.
//! - [`trunk`]: carrier trunks, their registration ([`SipEndpoint::trunk_states`]) and the inbound
//!   source policy (403 for an INVITE from outside every trunk's `allow` networks, when any trunk
//!   lists some, unless the source is a registered softphone).
//!
//! Run loop: `SipEndpoint::bind` spawns the rsipstack endpoint, one dispatcher task and one
//! registration task per trunk with `register = true`; the caller receives `InboundCall`s from the
//! returned channel and owns each call from then on (one task per call, which calls
//! [`InboundCall::next_event`] in its loop). Outbound calls come from [`SipEndpoint::dialer`]; each
//! has a small driver task, and its owner loops on [`OutboundCall::next_event`]. Decisions that
//! need no socket (screening, SDP, INFO parsing, digest, registrar, source policy, registration
//! schedule) are plain functions tested without sockets. [`digest_compat`] works around
//! rsipstack's spelling of the SHA-256 digest algorithm.
//!
//! Out of scope: TLS (and so `sips:` targets), RFC 4028 session timers, per-trunk codecs,
//! authenticating INVITEs from softphones (they are admitted by source address, see [`trunk`]).
//! TCP messages are not screened (rsipstack frames them itself).
#![forbid(unsafe_code)]

pub mod call;
pub mod digest;
pub mod digest_compat;
mod dispatcher;
pub mod dtmf_info;
pub mod endpoint;
pub mod error;
pub mod invite_policy;
pub mod network;
pub mod outbound;
mod register_handling;
pub mod registrar;
pub mod screen;
pub mod screening_socket;
pub mod sdp;
pub mod trunk;
mod trunk_registration;

pub use call::{CallEvent, CallInfo, InboundCall, OfferResponder};
pub use endpoint::{Listener, SipConfig, SipEndpoint, TransportKind};
pub use error::SipError;
pub use network::IpNetwork;
pub use outbound::{Dialer, OutboundCall, OutboundControl, OutboundEvent, OutboundRequest};
pub use registrar::{Binding, Registrar, UserAccount};
pub use trunk::{SourceVerdict, TrunkConfig, TrunkState, inbound_source_policy};
