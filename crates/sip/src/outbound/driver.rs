//! The task behind each [`OutboundCall`](super::OutboundCall): merges the dialog's states and
//! the INVITE transaction's outcome into [`OutboundEvent`]s (see the parent module's docs for
//! their order), and removes the dialog from the layer when the call is over.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rsipstack::dialog::dialog::{DialogState, DialogStateReceiver, TerminatedReason};
use rsipstack::dialog::dialog_layer::DialogLayer;
use rsipstack::dialog::invitation::InviteAsyncResult;
use rsipstack::dialog::invite_dialog::InviteDialog;
use rsipstack::sip::{Response, StatusCodeKind};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{debug, info};

use super::OutboundEvent;
use crate::call::{InDialog, RequestState, answer_request};

pub(super) struct Driver {
    pub(super) call_id: String,
    pub(super) dialog: InviteDialog,
    pub(super) dialog_layer: Arc<DialogLayer>,
    pub(super) events: mpsc::UnboundedSender<OutboundEvent>,
    pub(super) finished: Arc<AtomicBool>,
    pub(super) answered: bool,
    pub(super) ringing: bool,
    pub(super) trying: bool,
    pub(super) early_sdp: Option<Vec<u8>>,
}

impl Driver {
    pub(super) async fn run(
        mut self,
        mut states: DialogStateReceiver,
        outcome: JoinHandle<InviteAsyncResult>,
    ) {
        let mut outcome = Some(outcome);
        let mut final_response: Option<Response> = None;
        let mut terminated: Option<TerminatedReason> = None;
        loop {
            tokio::select! {
                result = async { outcome.as_mut().expect("polled only while pending").await },
                    if outcome.is_some() =>
                {
                    outcome = None;
                    match result {
                        Ok(Ok((_, response))) => final_response = response,
                        Ok(Err(error)) => {
                            // Sending failed (no route, connection refused): no dialog came to be.
                            debug!(call_id = %self.call_id, %error, "INVITE could not be sent");
                            if terminated.is_none() && !self.answered {
                                self.emit(OutboundEvent::Failed {
                                    status: 503,
                                    reason: format!("transport failure: {error}"),
                                });
                                break;
                            }
                        }
                        Err(error) => debug!(call_id = %self.call_id, %error, "INVITE task failed"),
                    }
                    if let Some(reason) = terminated.take() {
                        self.finish(reason, final_response.take());
                        break;
                    }
                    if !self.answered && final_response.is_none() {
                        self.emit(OutboundEvent::Failed {
                            status: 408,
                            reason: "Request Timeout".into(),
                        });
                        break;
                    }
                }
                state = states.recv() => {
                    let Some(state) = state else { break };
                    if let Some(reason) = self.translate(state).await {
                        if outcome.is_some() && !self.answered {
                            // The INVITE's final response comes with the outcome: wait for it.
                            terminated = Some(reason);
                            continue;
                        }
                        self.finish(reason, final_response.take());
                        break;
                    }
                }
            }
        }
        self.finished.store(true, Ordering::SeqCst);
        // rsipstack registers a confirmed dialog once the INVITE task ends: wait for it so the
        // dialog is removed after it was added.
        if let Some(outcome) = outcome {
            outcome.await.ok();
        }
        self.dialog_layer.remove_dialog(&self.dialog.id());
    }

    /// Emits the event for a state; returns the reason when the dialog terminated.
    async fn translate(&mut self, state: DialogState) -> Option<TerminatedReason> {
        let state = match answer_request(state).await {
            RequestState::Answered(None) => return None,
            RequestState::Answered(Some(InDialog::Offer { sdp, responder })) => {
                self.emit(OutboundEvent::Offer { sdp, responder });
                return None;
            }
            RequestState::Answered(Some(InDialog::Digit(digit))) => {
                self.emit(OutboundEvent::InfoDigit(digit));
                return None;
            }
            RequestState::NotARequest(state) => state,
        };
        match state {
            DialogState::Trying(_) if !self.trying => {
                self.trying = true;
                self.emit(OutboundEvent::Trying);
            }
            DialogState::Early(_, response) if !self.answered => self.early(response),
            DialogState::Confirmed(_, response) if !self.answered => {
                self.answered = true;
                info!(call_id = %self.call_id, "outbound call answered");
                self.emit(OutboundEvent::Answered { sdp: response.body });
            }
            DialogState::Terminated(_, reason) => return Some(reason),
            other => debug!(call_id = %self.call_id, state = %other, "dialog state"),
        }
        None
    }

    fn early(&mut self, response: Response) {
        if !response.body.is_empty() {
            if self.early_sdp.as_ref() != Some(&response.body) {
                self.early_sdp = Some(response.body.clone());
                self.emit(OutboundEvent::EarlyMedia { sdp: response.body });
            }
        } else if !self.ringing {
            self.ringing = true;
            self.emit(OutboundEvent::Ringing);
        }
    }

    /// The last event, from how the dialog terminated and the INVITE's final response.
    fn finish(&mut self, reason: TerminatedReason, final_response: Option<Response>) {
        let event = if self.answered {
            match reason {
                TerminatedReason::UasBye => OutboundEvent::RemoteHangup,
                TerminatedReason::UacBye => OutboundEvent::Ended {
                    reason: "local-bye".into(),
                },
                TerminatedReason::Timeout => OutboundEvent::Ended {
                    reason: "timeout".into(),
                },
                other => OutboundEvent::Ended {
                    reason: format!("{other:?}"),
                },
            }
        } else {
            failure(&reason, final_response.as_ref())
        };
        info!(call_id = %self.call_id, event = ?event, "outbound call ended");
        self.emit(event);
    }

    fn emit(&self, event: OutboundEvent) {
        // The owner may have dropped the call; the driver still runs to the end of the dialog.
        self.events.send(event).ok();
    }
}

/// The `Failed` event of an unanswered call.
fn failure(reason: &TerminatedReason, final_response: Option<&Response>) -> OutboundEvent {
    if matches!(reason, TerminatedReason::UacCancel) {
        return OutboundEvent::Failed {
            status: 487,
            reason: "Request Terminated".into(),
        };
    }
    let from_response = final_response
        .filter(|response| response.status_code.kind() != StatusCodeKind::Successful)
        .map(|response| {
            (
                u16::from(response.status_code.clone()),
                reason_phrase(response),
            )
        });
    let (status, text) = from_response.unwrap_or_else(|| match reason {
        TerminatedReason::Timeout => (408, "Request Timeout".into()),
        TerminatedReason::UasBusy | TerminatedReason::UacBusy => (486, "Busy Here".into()),
        TerminatedReason::UasDecline => (603, "Decline".into()),
        TerminatedReason::UasOther(code)
        | TerminatedReason::UacOther(code)
        | TerminatedReason::ProxyError(code) => (u16::from(code.clone()), code.to_string()),
        other => (500, format!("{other:?}")),
    });
    OutboundEvent::Failed {
        status,
        reason: text,
    }
}

fn reason_phrase(response: &Response) -> String {
    response
        .wire_reason
        .clone()
        .unwrap_or_else(|| response.status_code.text().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsipstack::sip::StatusCode;

    fn response(code: u16, reason: Option<&str>) -> Response {
        Response {
            status_code: StatusCode::from(code),
            wire_reason: reason.map(str::to_string),
            ..Default::default()
        }
    }

    fn failed(event: OutboundEvent) -> (u16, String) {
        match event {
            OutboundEvent::Failed { status, reason } => (status, reason),
            other => panic!("expected Failed, got {other:?}"),
        }
    }

    #[test]
    fn failures_carry_the_final_status() {
        let busy = response(486, Some("Busy Here"));
        assert_eq!(
            failed(failure(
                &TerminatedReason::UasOther(StatusCode::from(486)),
                Some(&busy)
            )),
            (486, "Busy Here".into())
        );
        let challenge = response(407, None);
        assert_eq!(
            failed(failure(
                &TerminatedReason::ProxyAuthRequired,
                Some(&challenge)
            ))
            .0,
            407
        );
        // Our CANCEL wins, even over a 200 OK that crossed it.
        let ok = response(200, None);
        assert_eq!(
            failed(failure(&TerminatedReason::UacCancel, Some(&ok))),
            (487, "Request Terminated".into())
        );
        assert_eq!(failed(failure(&TerminatedReason::Timeout, None)).0, 408);
        assert_eq!(
            failed(failure(
                &TerminatedReason::UasOther(StatusCode::from(603)),
                None
            ))
            .0,
            603
        );
    }
}
