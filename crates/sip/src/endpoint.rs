//! Binding the listeners and dispatching what arrives: new INVITEs become [`InboundCall`]s,
//! in-dialog requests go to their dialog, out-of-dialog requests get ivory's policy answer.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use rsipstack::EndpointBuilder;
use rsipstack::dialog::dialog_layer::DialogLayer;
use rsipstack::sip::prelude::HeadersExt;
use rsipstack::sip::{Header, Method, StatusCode};
use rsipstack::transaction::TransactionReceiver;
use rsipstack::transaction::transaction::Transaction;
use rsipstack::transport::TransportLayer;
use rsipstack::transport::tcp_listener::TcpListenerConnection;
use rsipstack::transport::udp::UdpConnection;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::SipError;
use crate::call::{self, InboundCall};
use crate::screen::ALLOWED_METHODS;
use crate::screening_socket::ScreeningSocket;

/// A SIP transport ivory listens on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    Udp,
    Tcp,
}

impl TransportKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TransportKind::Udp => "udp",
            TransportKind::Tcp => "tcp",
        }
    }
}

/// One listening address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listener {
    pub transport: TransportKind,
    pub address: SocketAddr,
}

/// What the SIP layer needs to start.
#[derive(Debug, Clone)]
pub struct SipConfig {
    pub listeners: Vec<Listener>,
    /// The address put in Contact and SDP; when `None`, see [`CallInfo::local_ip`](crate::CallInfo).
    pub public_address: Option<IpAddr>,
    pub user_agent: String,
    /// Never send anything to a non-loopback address (test mode for torture-message replays).
    pub loopback_only: bool,
    /// How many new calls may wait for the engine before INVITEs are answered 503.
    pub pending_calls: usize,
}

/// The running SIP layer. Dropping it does not stop it: call [`SipEndpoint::shutdown`].
pub struct SipEndpoint {
    cancel: CancellationToken,
    listeners: Vec<Listener>,
}

impl SipEndpoint {
    /// Binds every listener, starts rsipstack and the dispatcher, and returns the stream of new calls.
    pub async fn bind(config: SipConfig) -> Result<(Self, mpsc::Receiver<InboundCall>), SipError> {
        let cancel = CancellationToken::new();
        let transport_layer = TransportLayer::new(cancel.child_token());
        let mut bound = Vec::new();
        for listener in &config.listeners {
            let address = bind_listener(&transport_layer, listener, &config, &cancel).await?;
            bound.push(Listener {
                transport: listener.transport,
                address,
            });
        }
        let endpoint = EndpointBuilder::new()
            .with_cancel_token(cancel.clone())
            .with_transport_layer(transport_layer)
            .with_user_agent(&config.user_agent)
            .build();
        let incoming = endpoint.incoming_transactions()?;
        let dialog_layer = Arc::new(DialogLayer::new(endpoint.inner.clone()));
        let (calls_tx, calls_rx) = mpsc::channel(config.pending_calls.max(1));
        let dispatcher = Dispatcher {
            dialog_layer,
            calls: calls_tx,
            public_address: config.public_address,
            listeners: bound.clone(),
        };
        tokio::spawn(async move { endpoint.serve().await });
        tokio::spawn(dispatcher.run(incoming));
        for listener in bound.iter().filter(|l| l.transport == TransportKind::Tcp) {
            wait_until_accepting(listener.address).await?;
        }
        Ok((
            Self {
                cancel,
                listeners: bound,
            },
            calls_rx,
        ))
    }

    /// The addresses actually bound (port 0 resolved for UDP).
    pub fn listeners(&self) -> &[Listener] {
        &self.listeners
    }

    /// Stops the transports and the endpoint.
    pub fn shutdown(&self) {
        self.cancel.cancel();
    }
}

async fn bind_listener(
    transport_layer: &TransportLayer,
    listener: &Listener,
    config: &SipConfig,
    cancel: &CancellationToken,
) -> Result<SocketAddr, SipError> {
    let bind_error = |source| SipError::Bind {
        transport: listener.transport.as_str(),
        address: listener.address,
        source,
    };
    let external = |port: u16| config.public_address.map(|ip| SocketAddr::new(ip, port));
    match listener.transport {
        TransportKind::Udp => {
            let socket = std::net::UdpSocket::bind(listener.address).map_err(bind_error)?;
            socket.set_nonblocking(true).map_err(bind_error)?;
            let socket = tokio::net::UdpSocket::from_std(socket).map_err(bind_error)?;
            let local = socket.local_addr().map_err(bind_error)?;
            let screening = ScreeningSocket::new(socket, config.loopback_only);
            let connection = UdpConnection::from_socket(
                Arc::new(screening),
                external(local.port()),
                Some(cancel.child_token()),
            )
            .await?;
            transport_layer.add_transport(connection.into());
            Ok(local)
        }
        TransportKind::Tcp => {
            // rsipstack binds the TCP listener lazily inside its serve loop and only logs a failure;
            // bind once here so that a busy port is a clear start-up error.
            let probe = std::net::TcpListener::bind(listener.address).map_err(bind_error)?;
            let local = probe.local_addr().map_err(bind_error)?;
            drop(probe);
            let connection = TcpListenerConnection::new(local, external(local.port())).await?;
            transport_layer.add_transport(connection.into());
            Ok(local)
        }
    }
}

/// rsipstack binds TCP listeners inside its serve task; wait until the port accepts so that "bound"
/// means "a client can connect now".
async fn wait_until_accepting(address: SocketAddr) -> Result<(), SipError> {
    let target = if address.ip().is_unspecified() {
        let loopback = match address {
            SocketAddr::V4(_) => IpAddr::from([127, 0, 0, 1]),
            SocketAddr::V6(_) => IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
        };
        SocketAddr::new(loopback, address.port())
    } else {
        address
    };
    let mut last_error = None;
    for _ in 0..100 {
        match tokio::net::TcpStream::connect(target).await {
            Ok(_) => return Ok(()),
            Err(error) => last_error = Some(error),
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    Err(SipError::Bind {
        transport: "tcp",
        address,
        source: last_error.unwrap_or_else(|| std::io::Error::other("listener never accepted")),
    })
}

struct Dispatcher {
    dialog_layer: Arc<DialogLayer>,
    calls: mpsc::Sender<InboundCall>,
    public_address: Option<IpAddr>,
    listeners: Vec<Listener>,
}

impl Dispatcher {
    async fn run(self, mut incoming: TransactionReceiver) {
        while let Some(tx) = incoming.recv().await {
            self.dispatch(tx).await;
        }
        debug!("SIP dispatcher stopped");
    }

    async fn dispatch(&self, mut tx: Transaction) {
        let method = tx.original.method;
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
                    Header::Allow(ALLOWED_METHODS.into()),
                    Header::Accept("application/sdp".into()),
                ];
                reply(&mut tx, StatusCode::OK, headers).await;
            }
            Method::Bye | Method::Info | Method::Cancel => {
                reply(&mut tx, StatusCode::CallTransactionDoesNotExist, vec![]).await;
            }
            _ => {
                let headers = vec![Header::Allow(ALLOWED_METHODS.into())];
                reply(&mut tx, StatusCode::MethodNotAllowed, headers).await;
            }
        }
    }

    async fn new_call(&self, mut tx: Transaction) {
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
    let headers = (!headers.is_empty()).then_some(headers);
    if let Err(error) = tx
        .reply_with(status, headers.unwrap_or_default(), None)
        .await
    {
        debug!(%error, "cannot send a reply");
    }
}
