//! Dialling out from a call: the `dial`/`dialToMany` actions (and the 46elks `connect` and Wazo
//! `dial` destinations, which compile to them), and the bridge that connects the caller with the
//! first callee who answers.
//!
//! # What happens
//!
//! 1. Every dial string is planned ([`crate::outbound_routing`]): a number goes out through its
//!    trunk, `user:NAME` rings every current binding of that softphone at once, a `sip:` URI is
//!    called directly. A string that cannot be planned counts as a FAILED target and is noted in
//!    the call log.
//! 2. `parallel`: every target rings at once, and the first answer wins; the others get CANCEL
//!    (or BYE, for a 200 OK that crossed it). Sequential: one target (all bindings of a user
//!    together) after the other, each for `ringTimeout`.
//! 3. While it rings the caller hears a ringback tone made here, until a callee sends early media
//!    (183 with SDP): then the caller hears that callee's audio instead, through the bridge.
//! 4. On answer both legs' media slots are bridged ([`crate::media_worker`]): each sends what the
//!    other hears, decoded and encoded again, so a PCMU caller talks to a PCMA callee. Digits
//!    cross in the form each side negotiated: RFC 4733 (or SIP INFO) from one side is re-sent as
//!    RFC 4733 to the other, or as a tone to a side without telephone-event; in-band tones cross
//!    inside the audio.
//! 5. The bridge ends when either side hangs up, the callee's RTP stops, or `maximumCallDuration`
//!    passes. If the caller is still there, the scenario goes on with `dialStatus` and
//!    `dialSipCode`; if the caller left, the callee is hung up and the scenario's `onHangup` runs.
//!
//! # Statuses ([`status_for`])
//!
//! ANSWERED (200) once a callee answered, whatever ended the bridge. Otherwise the most telling
//! outcome among the targets: BUSY (486, 600) before DECLINED (603) before NO_ANSWER (the ring
//! timeout, 408, 480, 487) before FAILED (anything else, routing failures, no reply). For a ring
//! timeout the code is 408.
//!
//! Every callee leg is listed in the caller's call-log line (`legs`): target, Call-ID, final SIP
//! code, how long it was connected, and its RTP counters.

mod attempt;
mod ringback;
mod run;

pub(crate) use run::DialRequest;

use ivory_scenario::DialStatus;
use ivory_sip::sdp::{AudioCodec, LocalMedia};
use ivory_sip::{Dialer, Registrar, TrunkConfig};

use crate::outbound_routing::{
    CallerId, DialPlan, DialTarget, OutboundRoute, RoutingContext, RoutingError, parse_target,
    plan_dial,
};

/// The telephone-event payload type of our offers.
const TELEPHONE_EVENT_PAYLOAD_TYPE: u8 = 101;

/// What dialling out needs: the SIP layer's dialer and registrar, and the trunks and routes.
#[derive(Debug, Clone)]
pub struct Outbound {
    pub dialer: Dialer,
    pub registrar: Registrar,
    pub trunks: Vec<TrunkConfig>,
    pub routes: Vec<OutboundRoute>,
}

impl Outbound {
    /// The INVITEs for a dial string ([`crate::outbound_routing`]), a registered user's current
    /// bindings looked up here.
    pub(crate) fn plan(
        &self,
        text: &str,
        caller: CallerId<'_>,
    ) -> Result<Vec<DialPlan>, RoutingError> {
        let target = parse_target(text)?;
        let bindings = match &target {
            DialTarget::User(name) if self.registrar.is_user(name) => {
                Some(self.registrar.lookup(name))
            }
            _ => None,
        };
        plan_dial(
            &target,
            &RoutingContext {
                trunks: &self.trunks,
                routes: &self.routes,
                caller,
                user_bindings: bindings.as_deref(),
            },
        )
    }

    /// Our side of the media for a call per `plan` on `rtp_port`, and the SDP offer for it.
    pub(crate) fn offer(&self, plan: &DialPlan, rtp_port: u16) -> (LocalMedia, String) {
        let local = LocalMedia {
            address: self
                .dialer
                .local_ip_for(&plan.request_uri, plan.destination),
            rtp_port,
            session_id: rand::random::<u32>().into(),
            session_version: 1,
            codecs: vec![AudioCodec::Pcmu, AudioCodec::Pcma],
        };
        let offer = ivory_sip::sdp::make_offer(&local, TELEPHONE_EVENT_PAYLOAD_TYPE);
        (local, offer)
    }
}

/// How one target ended, for [`status_for`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TargetEnd {
    /// A final response with this code.
    Rejected(u16),
    /// Still ringing when the ring timeout passed.
    RingTimeout,
    /// Not dialled: no route, not registered, a bad dial string, no RTP port.
    NotDialled,
}

impl TargetEnd {
    fn status(self) -> DialStatus {
        match self {
            TargetEnd::Rejected(486 | 600) => DialStatus::Busy,
            TargetEnd::Rejected(603) => DialStatus::Declined,
            TargetEnd::Rejected(408 | 480 | 487) | TargetEnd::RingTimeout => DialStatus::NoAnswer,
            TargetEnd::Rejected(_) | TargetEnd::NotDialled => DialStatus::Failed,
        }
    }

    fn sip_code(self) -> Option<u16> {
        match self {
            TargetEnd::Rejected(code) => Some(code),
            TargetEnd::RingTimeout => Some(408),
            TargetEnd::NotDialled => None,
        }
    }
}

/// The status and SIP code of a dial in which nobody answered; see the module docs.
pub(crate) fn status_for(ends: &[TargetEnd]) -> (DialStatus, Option<u16>) {
    let rank = |status: DialStatus| match status {
        DialStatus::Busy => 0,
        DialStatus::Declined => 1,
        DialStatus::NoAnswer => 2,
        _ => 3,
    };
    ends.iter()
        .min_by_key(|end| rank(end.status()))
        .map_or((DialStatus::Failed, None), |end| {
            (end.status(), end.sip_code())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_telling_outcome_wins() {
        use TargetEnd::*;
        assert_eq!(status_for(&[]), (DialStatus::Failed, None));
        assert_eq!(status_for(&[NotDialled]), (DialStatus::Failed, None));
        assert_eq!(
            status_for(&[Rejected(503)]),
            (DialStatus::Failed, Some(503))
        );
        assert_eq!(
            status_for(&[RingTimeout, Rejected(503)]),
            (DialStatus::NoAnswer, Some(408))
        );
        assert_eq!(
            status_for(&[Rejected(480), Rejected(603)]),
            (DialStatus::Declined, Some(603))
        );
        assert_eq!(
            status_for(&[Rejected(603), Rejected(486), RingTimeout]),
            (DialStatus::Busy, Some(486))
        );
        assert_eq!(status_for(&[Rejected(600)]), (DialStatus::Busy, Some(600)));
        assert_eq!(
            status_for(&[Rejected(487)]),
            (DialStatus::NoAnswer, Some(487))
        );
    }
}
