//! Dispatching what arrives: new INVITEs become [`InboundCall`]s (after the source policy and
//! the INVITE checks), in-dialog requests go to their dialog (inbound or outbound), REGISTER goes
//! to the registrar when users are configured, and other out-of-dialog requests get ivory's
//! policy answer: OPTIONS 200, BYE/INFO/CANCEL 481, anything else 405 with `Allow`.

use std::net::IpAddr;
use std::sync::Arc;

use rsipstack::dialog::dialog_layer::DialogLayer;
use rsipstack::sip::prelude::HeadersExt;
use rsipstack::sip::{Header, Method, StatusCode};
use rsipstack::transaction::TransactionReceiver;
use rsipstack::transaction::transaction::Transaction;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use crate::call::{self, InboundCall};
use crate::endpoint::Listener;
use crate::register_handling::handle_register;
use crate::registrar::Registrar;
use crate::trunk::{SourceVerdict, TrunkConfig, inbound_source_policy};

pub(crate) struct Dispatcher {
    pub(crate) dialog_layer: Arc<DialogLayer>,
    pub(crate) calls: mpsc::Sender<InboundCall>,
    pub(crate) public_address: Option<IpAddr>,
    pub(crate) listeners: Vec<Listener>,
    pub(crate) registrar: Registrar,
    pub(crate) trunks: Vec<TrunkConfig>,
    /// The `Allow` list (see [`crate::screen::allowed_methods`]).
    pub(crate) allow: &'static str,
}

impl Dispatcher {
    pub(crate) async fn run(self, mut incoming: TransactionReceiver) {
        while let Some(tx) = incoming.recv().await {
            self.dispatch(tx).await;
        }
        debug!("SIP dispatcher stopped");
    }

    async fn dispatch(&self, mut tx: Transaction) {
        let method = tx.original.method;
        if method == Method::Register && self.registrar.is_enabled() {
            self.register(tx);
            return;
        }
        let in_dialog = has_to_tag(&tx);
        if in_dialog || method == Method::Ack {
            match self.dialog_layer.match_dialog(&tx) {
                Some(mut dialog) => {
                    tokio::spawn(async move {
                        if let Err(error) = dialog.handle(&mut tx).await {
                            debug!(%error, "in-dialog request handling ended with an error");
                        }
                    });
                }
                None if method == Method::Ack => {}
                None => reply(&mut tx, StatusCode::CallTransactionDoesNotExist, vec![]).await,
            }
            return;
        }
        match method {
            Method::Invite => self.new_call(tx).await,
            Method::Options => {
                let headers = vec![
                    Header::Allow(self.allow.into()),
                    Header::Accept("application/sdp".into()),
                ];
                reply(&mut tx, StatusCode::OK, headers).await;
            }
            Method::Bye | Method::Info | Method::Cancel => {
                reply(&mut tx, StatusCode::CallTransactionDoesNotExist, vec![]).await;
            }
            _ => {
                let headers = vec![Header::Allow(self.allow.into())];
                reply(&mut tx, StatusCode::MethodNotAllowed, headers).await;
            }
        }
    }

    fn register(&self, mut tx: Transaction) {
        let registrar = self.registrar.clone();
        tokio::spawn(async move {
            let Some((source, transport)) = call::transaction_source(&tx) else {
                reply(&mut tx, StatusCode::BadRequest, vec![]).await;
                return;
            };
            handle_register(&registrar, &mut tx, source, transport).await;
        });
    }

    async fn new_call(&self, mut tx: Transaction) {
        if let Some((source, _)) = call::transaction_source(&tx) {
            let registered = self.registrar.is_registered_source(source.ip());
            match inbound_source_policy(source.ip(), &self.trunks, registered) {
                SourceVerdict::Refused => {
                    warn!(%source, "INVITE from outside every trunk network: 403");
                    reply(&mut tx, StatusCode::Forbidden, vec![]).await;
                    return;
                }
                SourceVerdict::Trunk(trunk) => debug!(%source, %trunk, "INVITE from a trunk"),
                SourceVerdict::RegisteredUser | SourceVerdict::Open => {}
            }
        }
        if let Some(refusal) = invite_refusal(&tx.original) {
            debug!(status = refusal.status, "INVITE refused by policy");
            let headers = refusal
                .headers
                .into_iter()
                .map(|(name, value)| Header::Other(name.to_string(), value))
                .collect();
            reply(&mut tx, StatusCode::from(refusal.status), headers).await;
            return;
        }
        let info = match call::call_info(&tx, self.public_address, &self.listeners) {
            Ok(info) => info,
            Err(reason) => {
                warn!(%reason, "INVITE refused");
                reply(&mut tx, StatusCode::BadRequest, vec![]).await;
                return;
            }
        };
        let permit = match self.calls.clone().try_reserve_owned() {
            Ok(permit) => permit,
            Err(_) => {
                warn!(call_id = %info.call_id, "engine saturated: 503");
                reply(&mut tx, StatusCode::ServiceUnavailable, vec![]).await;
                return;
            }
        };
        let (state_sender, states) = self.dialog_layer.new_dialog_state_channel();
        let contact = call::contact_uri(&info);
        let dialog = match self.dialog_layer.get_or_create_server_invite(
            &tx,
            state_sender,
            None,
            Some(contact),
        ) {
            Ok(dialog) => dialog,
            Err(error) => {
                warn!(%error, "cannot create a dialog for an INVITE");
                reply(&mut tx, StatusCode::ServerInternalError, vec![]).await;
                return;
            }
        };
        info!(call_id = %info.call_id, to = %info.request_user, from = %info.from_user, "incoming call");
        let call = InboundCall::new(
            info,
            tx.original.body.clone(),
            dialog.clone(),
            states,
            self.dialog_layer.clone(),
        );
        permit.send(call);
        let mut dialog = dialog;
        tokio::spawn(async move {
            if let Err(error) = dialog.handle(&mut tx).await {
                debug!(%error, "INVITE transaction ended with an error");
            }
        });
    }
}

fn invite_refusal(request: &rsipstack::sip::Request) -> Option<crate::invite_policy::Refusal> {
    let values = |name: &str| -> Vec<String> {
        request
            .headers
            .iter()
            .filter(|h| h.name().eq_ignore_ascii_case(name))
            .map(|h| h.value().to_string())
            .collect()
    };
    let require = values("Require");
    let accept = values("Accept");
    let content_type = values("Content-Type");
    let headers = crate::invite_policy::InviteHeaders {
        require: require.iter().map(String::as_str).collect(),
        content_type: content_type.first().map(String::as_str),
        accept: accept.iter().map(String::as_str).collect(),
        has_body: !request.body.is_empty(),
    };
    crate::invite_policy::check_invite(&headers)
}

fn has_to_tag(tx: &Transaction) -> bool {
    tx.original
        .to_header()
        .ok()
        .and_then(|to| to.tag().ok().flatten())
        .is_some()
}

async fn reply(tx: &mut Transaction, status: StatusCode, headers: Vec<Header>) {
    if let Err(error) = tx.reply_with(status, headers, None).await {
        debug!(%error, "cannot send a reply");
    }
}
