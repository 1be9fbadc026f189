//! The SIP side of a leg that runs a scenario: a call that came in, or a call ivory placed (a
//! campaign's destination) once answered. Both give the leg the same events and the same hang-up.

use ivory_sip::{CallEvent, CallInfo, InboundCall, OutboundCall, OutboundEvent, SipError};

pub(crate) enum LegDialog {
    Inbound(InboundCall),
    /// An answered outbound call, with the facts a scenario sees (`from`, `to`, `callId`).
    Outbound {
        call: OutboundCall,
        info: CallInfo,
    },
}

impl LegDialog {
    pub(crate) fn info(&self) -> &CallInfo {
        match self {
            LegDialog::Inbound(call) => call.info(),
            LegDialog::Outbound { info, .. } => info,
        }
    }

    /// The next in-dialog event; `None` once the dialog is gone. Cancel-safe.
    pub(crate) async fn next_event(&mut self) -> Option<CallEvent> {
        match self {
            LegDialog::Inbound(call) => call.next_event().await,
            LegDialog::Outbound { call, .. } => loop {
                match call.next_event().await? {
                    OutboundEvent::RemoteHangup => return Some(CallEvent::RemoteHangup),
                    OutboundEvent::Ended { reason } => return Some(CallEvent::Ended { reason }),
                    OutboundEvent::Offer { sdp, responder } => {
                        return Some(CallEvent::Offer { sdp, responder });
                    }
                    OutboundEvent::InfoDigit(digit) => return Some(CallEvent::InfoDigit(digit)),
                    // Progress events belong to before the answer; a failure cannot follow it.
                    OutboundEvent::Trying
                    | OutboundEvent::Ringing
                    | OutboundEvent::EarlyMedia { .. }
                    | OutboundEvent::Answered { .. } => {}
                    OutboundEvent::Failed { reason, .. } => {
                        return Some(CallEvent::Ended { reason });
                    }
                }
            },
        }
    }

    pub(crate) async fn hangup(&self) -> Result<(), SipError> {
        match self {
            LegDialog::Inbound(call) => call.hangup().await,
            LegDialog::Outbound { call, .. } => call.hangup().await,
        }
    }
}
