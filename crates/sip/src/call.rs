//! One inbound call as the engine sees it: the INVITE's facts ([`CallInfo`]), the answer/reject/hang-up
//! operations, and the dialog's life as [`CallEvent`]s.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use rsipstack::dialog::dialog::{
    DialogState, DialogStateReceiver, TerminatedReason, TransactionHandle,
};
use rsipstack::dialog::dialog_layer::DialogLayer;
use rsipstack::dialog::invite_dialog::InviteDialog;
use rsipstack::sip::prelude::HeadersExt;
use rsipstack::sip::{Header, Method, StatusCode, Uri};
use rsipstack::transaction::transaction::Transaction;
use tokio::sync::mpsc;
use tracing::debug;

use crate::SipError;
use crate::dtmf_info::parse_info_digit;
use crate::endpoint::{Listener, TransportKind};

/// The facts of an incoming INVITE that routing, SDP and the call log need.
#[derive(Debug, Clone)]
pub struct CallInfo {
    pub call_id: String,
    /// User part of the From URI (the caller's number or name), "" when absent.
    pub from_user: String,
    /// The whole From URI.
    pub from_uri: String,
    /// User part of the To URI.
    pub to_user: String,
    /// User part of the Request-URI: the dialled number that routing matches.
    pub request_user: String,
    /// Where the INVITE came from.
    pub remote: SocketAddr,
    pub transport: TransportKind,
    /// The address to put in Contact and SDP: the configured public address; else the listener's
    /// address when it is not a wildcard; else the address the caller put in the Request-URI (it
    /// reached us there); else the loopback address.
    pub local_ip: IpAddr,
    /// The port of the listener the INVITE arrived on.
    pub local_port: u16,
}

pub(crate) fn call_info(
    tx: &Transaction,
    public_address: Option<IpAddr>,
    listeners: &[Listener],
) -> Result<CallInfo, String> {
    let request = &tx.original;
    let call_id = request
        .call_id_header()
        .map_err(|e| format!("Call-ID: {e}"))?
        .value()
        .to_string();
    let from_uri = request
        .from_header()
        .map_err(|e| format!("From: {e}"))?
        .uri()
        .map_err(|e| format!("From URI: {e}"))?;
    let to_uri = request
        .to_header()
        .map_err(|e| format!("To: {e}"))?
        .uri()
        .map_err(|e| format!("To URI: {e}"))?;
    let (remote, transport) =
        transaction_source(tx).ok_or_else(|| "no source address".to_string())?;
    let local = tx
        .connection
        .as_ref()
        .and_then(|c| c.get_addr().get_socketaddr().ok());
    let listener = listeners
        .iter()
        .find(|l| l.transport == transport && Some(l.address.port()) == local.map(|a| a.port()))
        .or_else(|| listeners.iter().find(|l| l.transport == transport))
        .or(listeners.first());
    let local_port = listener.map(|l| l.address.port()).unwrap_or(5060);
    let request_uri_ip = request
        .uri
        .host_with_port
        .host
        .to_string()
        .trim_matches(['[', ']'])
        .parse()
        .ok();
    let local_ip = public_address
        .or(listener
            .map(|l| l.address.ip())
            .filter(|ip| !ip.is_unspecified()))
        .or(request_uri_ip)
        .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
    Ok(CallInfo {
        call_id,
        from_user: from_uri.user().unwrap_or_default().to_string(),
        from_uri: from_uri.to_string(),
        to_user: to_uri.user().unwrap_or_default().to_string(),
        request_user: request.uri.user().unwrap_or_default().to_string(),
        remote,
        transport,
        local_ip,
        local_port,
    })
}

/// Where a request came from, and over which transport.
pub(crate) fn transaction_source(tx: &Transaction) -> Option<(SocketAddr, TransportKind)> {
    let transport = match tx.connection.as_ref().map(|c| c.transport()) {
        Some(rsipstack::sip::Transport::Udp) | None => TransportKind::Udp,
        Some(_) => TransportKind::Tcp,
    };
    let remote = tx
        .connection
        .as_ref()
        .and_then(|c| c.get_remote_addr())
        .and_then(|addr| addr.get_socketaddr().ok())?;
    Some((remote, transport))
}

pub(crate) fn contact_uri(info: &CallInfo) -> Uri {
    let host = match info.local_ip {
        IpAddr::V4(ip) => ip.to_string(),
        IpAddr::V6(ip) => format!("[{ip}]"),
    };
    let transport = match info.transport {
        TransportKind::Udp => "",
        TransportKind::Tcp => ";transport=tcp",
    };
    let text = format!("sip:ivory@{host}:{}{transport}", info.local_port);
    // The text is built from an IP literal and a port, which always form a valid SIP URI.
    Uri::try_from(text.as_str()).unwrap_or_default()
}

/// What happens in a call's dialog, in order.
#[derive(Debug)]
pub enum CallEvent {
    /// The caller acknowledged our 200 OK: media may flow both ways.
    Confirmed,
    /// The caller cancelled before the call was answered (a 487 has been sent).
    Cancelled,
    /// The caller hung up (a BYE, already answered 200).
    RemoteHangup,
    /// A re-INVITE (or UPDATE) with a new offer: answer it through the responder.
    Offer {
        sdp: Vec<u8>,
        responder: OfferResponder,
    },
    /// A DTMF digit carried in SIP INFO (already answered 200).
    InfoDigit(char),
    /// The dialog ended for another reason (our own BYE, a missing ACK, a transport failure).
    Ended { reason: String },
}

/// Answers one re-INVITE/UPDATE offer.
#[derive(Debug)]
pub struct OfferResponder {
    handle: TransactionHandle,
}

impl OfferResponder {
    /// 200 OK with our SDP answer.
    pub async fn answer(self, sdp: String) -> Result<(), SipError> {
        let headers = vec![Header::ContentType("application/sdp".into())];
        self.handle
            .respond(StatusCode::OK, Some(headers), Some(sdp.into_bytes()))
            .await
            .map_err(|_| SipError::DialogGone)
    }

    /// A final error response (e.g. 488 when the new offer cannot be accepted).
    pub async fn reject(self, status: u16) -> Result<(), SipError> {
        self.handle
            .reply(StatusCode::from(status))
            .await
            .map_err(|_| SipError::DialogGone)
    }
}

/// An incoming call, owned by one engine task.
///
/// A small task per call turns rsipstack's dialog states into [`CallEvent`]s and answers the in-dialog
/// requests that need no decision (INFO, OPTIONS); so [`InboundCall::next_event`] is a plain channel
/// receive, safe to use in `tokio::select!`.
pub struct InboundCall {
    info: CallInfo,
    offer: Vec<u8>,
    dialog: InviteDialog,
    events: mpsc::UnboundedReceiver<CallEvent>,
    dialog_layer: Arc<DialogLayer>,
}

impl std::fmt::Debug for InboundCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InboundCall")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

impl InboundCall {
    pub(crate) fn new(
        info: CallInfo,
        offer: Vec<u8>,
        dialog: InviteDialog,
        states: DialogStateReceiver,
        dialog_layer: Arc<DialogLayer>,
    ) -> Self {
        let (events_tx, events) = mpsc::unbounded_channel();
        let translator = StateTranslator {
            call_id: info.call_id.clone(),
            dialog_layer: dialog_layer.clone(),
            confirmed: false,
        };
        tokio::spawn(translator.run(states, events_tx));
        Self {
            info,
            offer,
            dialog,
            events,
            dialog_layer,
        }
    }

    pub fn info(&self) -> &CallInfo {
        &self.info
    }

    /// The SDP body of the INVITE (empty for an offer-less INVITE).
    pub fn offer(&self) -> &[u8] {
        &self.offer
    }

    /// Sends 180 Ringing.
    pub fn ring(&self) -> Result<(), SipError> {
        Ok(self.dialog.ringing(None, None)?)
    }

    /// Sends 200 OK with our SDP answer.
    pub fn answer(&self, sdp: String) -> Result<(), SipError> {
        let headers = vec![Header::ContentType("application/sdp".into())];
        Ok(self.dialog.accept(Some(headers), Some(sdp.into_bytes()))?)
    }

    /// Sends a final error response to the INVITE (404, 488, 503, ...).
    pub fn reject(&self, status: u16) -> Result<(), SipError> {
        Ok(self.dialog.reject(Some(StatusCode::from(status)), None)?)
    }

    /// Hangs up an answered call (BYE).
    pub async fn hangup(&self) -> Result<(), SipError> {
        Ok(self.dialog.bye().await?)
    }

    /// The next thing that happened in the dialog; `None` once the dialog has gone.
    /// Cancel-safe.
    pub async fn next_event(&mut self) -> Option<CallEvent> {
        self.events.recv().await
    }
}

struct StateTranslator {
    call_id: String,
    dialog_layer: Arc<DialogLayer>,
    confirmed: bool,
}

impl StateTranslator {
    async fn run(
        mut self,
        mut states: DialogStateReceiver,
        events: mpsc::UnboundedSender<CallEvent>,
    ) {
        while let Some(state) = states.recv().await {
            let terminated = matches!(state, DialogState::Terminated(..));
            if let Some(event) = self.translate(state).await
                && events.send(event).is_err()
            {
                break;
            }
            if terminated {
                break;
            }
        }
    }

    async fn translate(&mut self, state: DialogState) -> Option<CallEvent> {
        let state = match answer_request(state).await {
            RequestState::Answered(None) => return None,
            RequestState::Answered(Some(InDialog::Offer { sdp, responder })) => {
                return Some(CallEvent::Offer { sdp, responder });
            }
            RequestState::Answered(Some(InDialog::Digit(digit))) => {
                return Some(CallEvent::InfoDigit(digit));
            }
            RequestState::NotARequest(state) => state,
        };
        match state {
            DialogState::Confirmed(..) if !self.confirmed => {
                self.confirmed = true;
                Some(CallEvent::Confirmed)
            }
            DialogState::Terminated(id, reason) => {
                self.dialog_layer.remove_dialog(&id);
                Some(match reason {
                    TerminatedReason::UacCancel => CallEvent::Cancelled,
                    TerminatedReason::UacBye => CallEvent::RemoteHangup,
                    TerminatedReason::UasBye => CallEvent::Ended {
                        reason: "local-bye".into(),
                    },
                    TerminatedReason::Timeout => CallEvent::Ended {
                        reason: "timeout".into(),
                    },
                    other => CallEvent::Ended {
                        reason: format!("{other:?}"),
                    },
                })
            }
            other => {
                debug!(call_id = %self.call_id, state = %other, "dialog state");
                None
            }
        }
    }
}

/// What an in-dialog request brings to the call's owner.
pub(crate) enum InDialog {
    /// A re-INVITE or UPDATE with an offer, to answer through the responder.
    Offer {
        sdp: Vec<u8>,
        responder: OfferResponder,
    },
    /// A digit from an INFO (already answered 200).
    Digit(char),
}

/// The outcome of [`answer_request`]. Lives for one match only, so the large variant stays
/// unboxed.
#[allow(clippy::large_enum_variant)]
pub(crate) enum RequestState {
    /// An in-dialog request: answered here, or handed over as an [`InDialog`].
    Answered(Option<InDialog>),
    /// A lifecycle state, for the caller to translate.
    NotARequest(DialogState),
}

/// The in-dialog request policy shared by inbound and outbound calls: re-INVITE/UPDATE go to the
/// owner, INFO digits are answered 200 (415 for a body that is not a digit), OPTIONS 200, and
/// REFER/NOTIFY/MESSAGE/PUBLISH 405.
pub(crate) async fn answer_request(state: DialogState) -> RequestState {
    let outcome = match state {
        DialogState::Updated(_, request, handle) => match request.method {
            Method::Invite | Method::Update => Some(InDialog::Offer {
                sdp: request.body,
                responder: OfferResponder { handle },
            }),
            _ => {
                handle.reply(StatusCode::OK).await.ok();
                None
            }
        },
        DialogState::Info(_, request, handle) => {
            let content_type = request.header_value("Content-Type").unwrap_or_default();
            let digit = parse_info_digit(&content_type, &request.body);
            let status = if digit.is_some() || request.body.is_empty() {
                StatusCode::OK
            } else {
                StatusCode::UnsupportedMediaType
            };
            handle.reply(status).await.ok();
            digit.map(InDialog::Digit)
        }
        DialogState::Options(_, _, handle) => {
            handle.reply(StatusCode::OK).await.ok();
            None
        }
        DialogState::Refer(_, _, handle)
        | DialogState::Notify(_, _, handle)
        | DialogState::Message(_, _, handle)
        | DialogState::Publish(_, _, handle) => {
            handle.reply(StatusCode::MethodNotAllowed).await.ok();
            None
        }
        other => return RequestState::NotARequest(other),
    };
    RequestState::Answered(outcome)
}

impl Drop for InboundCall {
    fn drop(&mut self) {
        self.dialog_layer.remove_dialog(&self.dialog.id());
    }
}
