//! Binding the listeners and starting the SIP layer: rsipstack's endpoint, the dispatcher
//! (`dispatcher.rs`), the registrar, the trunk registrations, and the [`Dialer`] for calls out.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use rsipstack::EndpointBuilder;
use rsipstack::dialog::dialog_layer::DialogLayer;
use rsipstack::transport::TransportLayer;
use rsipstack::transport::tcp_listener::TcpListenerConnection;
use rsipstack::transport::udp::UdpConnection;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::SipError;
use crate::call::InboundCall;
use crate::dispatcher::Dispatcher;
use crate::outbound::Dialer;
use crate::registrar::{Registrar, RegistrarCore, RegistrarPolicy, UserAccount, random_secret};
use crate::screen::allowed_methods;
use crate::screening_socket::ScreeningSocket;
use crate::trunk::{TrunkConfig, TrunkState};
use crate::trunk_registration::{TrunkStates, spawn_registrations};

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
///
/// `users` turns the registrar on (REGISTER is answered, and listed in `Allow`); `trunks` are
/// the carriers calls go out through, registered with when `register` is set, and whose `allow`
/// networks restrict inbound INVITEs (see [`crate::trunk`]).
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
    /// Softphone accounts that may REGISTER; empty turns the registrar off.
    pub users: Vec<UserAccount>,
    /// The digest realm of the registrar's challenges.
    pub realm: String,
    /// Carrier trunks.
    pub trunks: Vec<TrunkConfig>,
}

impl Default for SipConfig {
    /// UDP and TCP on 127.0.0.1:5060, no users, no trunks.
    fn default() -> Self {
        let address = SocketAddr::from(([127, 0, 0, 1], 5060));
        Self {
            listeners: vec![
                Listener {
                    transport: TransportKind::Udp,
                    address,
                },
                Listener {
                    transport: TransportKind::Tcp,
                    address,
                },
            ],
            public_address: None,
            user_agent: format!("ivory/{}", env!("CARGO_PKG_VERSION")),
            loopback_only: false,
            pending_calls: 256,
            users: Vec::new(),
            realm: "ivory".into(),
            trunks: Vec::new(),
        }
    }
}

/// The running SIP layer. Dropping it does not stop it: call [`SipEndpoint::shutdown`].
pub struct SipEndpoint {
    cancel: CancellationToken,
    listeners: Vec<Listener>,
    dialer: Dialer,
    registrar: Registrar,
    trunk_states: TrunkStates,
    dialog_layer: Arc<DialogLayer>,
}

impl SipEndpoint {
    /// Binds every listener, starts rsipstack and the dispatcher, and returns the stream of new calls.
    pub async fn bind(config: SipConfig) -> Result<(Self, mpsc::Receiver<InboundCall>), SipError> {
        let cancel = CancellationToken::new();
        let transport_layer = TransportLayer::new(cancel.child_token());
        let registrar = Registrar::new(RegistrarCore::new(
            config.realm.clone(),
            &config.users,
            random_secret(),
            RegistrarPolicy::default(),
        ));
        let allow = allowed_methods(registrar.is_enabled());
        let mut bound = Vec::new();
        for listener in &config.listeners {
            let address =
                bind_listener(&transport_layer, listener, &config, allow, &cancel).await?;
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
            dialog_layer: dialog_layer.clone(),
            calls: calls_tx,
            public_address: config.public_address,
            listeners: bound.clone(),
            registrar: registrar.clone(),
            trunks: config.trunks.clone(),
            allow,
        };
        let endpoint_inner = endpoint.inner.clone();
        tokio::spawn(async move { endpoint.serve().await });
        tokio::spawn(dispatcher.run(incoming));
        for listener in bound.iter().filter(|l| l.transport == TransportKind::Tcp) {
            wait_until_accepting(listener.address).await?;
        }
        let trunk_states = TrunkStates::new(&config.trunks);
        spawn_registrations(
            &endpoint_inner,
            &config.trunks,
            &bound,
            config.public_address,
            &trunk_states,
            &cancel,
        );
        let dialer = Dialer::new(dialog_layer.clone(), bound.clone(), config.public_address);
        Ok((
            Self {
                cancel,
                listeners: bound,
                dialer,
                registrar,
                trunk_states,
                dialog_layer,
            },
            calls_rx,
        ))
    }

    /// Places outbound calls; clone it freely.
    pub fn dialer(&self) -> Dialer {
        self.dialer.clone()
    }

    /// The softphone registrar (its bindings); clone it freely.
    pub fn registrar(&self) -> Registrar {
        self.registrar.clone()
    }

    /// Every configured trunk's registration state, in configuration order.
    pub fn trunk_states(&self) -> Vec<(String, TrunkState)> {
        self.trunk_states.snapshot()
    }

    /// How many dialogs (inbound and outbound, early or confirmed) rsipstack holds: returns to
    /// zero once every call has ended and been dropped.
    pub fn live_dialogs(&self) -> usize {
        self.dialog_layer.len()
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
    allow: &'static str,
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
            let screening =
                ScreeningSocket::new(socket, config.loopback_only).with_allowed_methods(allow);
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
