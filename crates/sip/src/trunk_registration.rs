//! Keeping trunk registrations alive over rsipstack's REGISTER client: one task per trunk with
//! `register = true`. REGISTER (rsipstack answers 401/407 with the trunk's credentials and
//! retransmits over UDP), then refresh at 80 % of the expiry the carrier granted; after a failure
//! retry after 1, 2, 4 … 60 s ([`crate::trunk::retry_delay`]). Each outcome is logged and stored
//! in the shared [`TrunkStates`]. The tasks stop with the endpoint; no un-REGISTER is sent then
//! (the binding expires at the carrier).

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rsipstack::dialog::authenticate::Credential;
use rsipstack::dialog::registration::Registration;
use rsipstack::sip::{StatusCodeKind, Uri};
use rsipstack::transaction::endpoint::EndpointInnerRef;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::endpoint::{Listener, TransportKind};
use crate::trunk::{TrunkConfig, TrunkState, refresh_delay, retry_delay};

/// Every trunk's registration state, in configuration order.
#[derive(Debug, Clone, Default)]
pub(crate) struct TrunkStates {
    states: Arc<Mutex<Vec<(String, TrunkState)>>>,
}

impl TrunkStates {
    pub(crate) fn new(trunks: &[TrunkConfig]) -> Self {
        Self {
            states: Arc::new(Mutex::new(
                trunks
                    .iter()
                    .map(|trunk| (trunk.name.clone(), TrunkState::Unregistered))
                    .collect(),
            )),
        }
    }

    pub(crate) fn snapshot(&self) -> Vec<(String, TrunkState)> {
        self.states
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn set(&self, name: &str, state: TrunkState) {
        let mut states = self
            .states
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(entry) = states.iter_mut().find(|(trunk, _)| trunk == name) {
            entry.1 = state;
        }
    }
}

/// Starts the registration task of every trunk that registers.
pub(crate) fn spawn_registrations(
    endpoint: &EndpointInnerRef,
    trunks: &[TrunkConfig],
    listeners: &[Listener],
    public_address: Option<IpAddr>,
    states: &TrunkStates,
    cancel: &CancellationToken,
) {
    for trunk in trunks.iter().filter(|trunk| trunk.register) {
        let task = RegistrationTask {
            trunk: trunk.clone(),
            endpoint: endpoint.clone(),
            contact: public_address.and_then(|ip| public_contact(trunk, ip, listeners)),
            states: states.clone(),
        };
        let cancel = cancel.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = task.run() => {}
                _ = cancel.cancelled() => {}
            }
        });
    }
}

/// With a configured public address, the Contact names it (rsipstack would name the socket's).
fn public_contact(
    trunk: &TrunkConfig,
    ip: IpAddr,
    listeners: &[Listener],
) -> Option<rsipstack::sip::typed::Contact> {
    let listener = listeners.iter().find(|l| l.transport == trunk.transport)?;
    let host = match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    };
    let user = trunk.username.as_deref().unwrap_or("ivory");
    let transport = match trunk.transport {
        TransportKind::Udp => "",
        TransportKind::Tcp => ";transport=tcp",
    };
    let uri =
        Uri::try_from(format!("sip:{user}@{host}:{}{transport}", listener.address.port()).as_str())
            .ok()?;
    Some(rsipstack::sip::typed::Contact {
        display_name: None,
        uri,
        params: vec![],
    })
}

struct RegistrationTask {
    trunk: TrunkConfig,
    endpoint: EndpointInnerRef,
    contact: Option<rsipstack::sip::typed::Contact>,
    states: TrunkStates,
}

impl RegistrationTask {
    async fn run(self) {
        let name = self.trunk.name.clone();
        let server = match Uri::try_from(self.trunk.server_uri().as_str()) {
            Ok(server) => server,
            Err(error) => {
                warn!(trunk = %name, %error, "trunk host is not a valid SIP URI; not registering");
                self.fail(format!("invalid server URI: {error}"), Duration::MAX);
                return;
            }
        };
        let credential = self
            .trunk
            .credentials()
            .map(|(username, password)| Credential {
                username,
                password,
                realm: None,
                auth_username: None,
            });
        let mut registration = Registration::new(self.endpoint.clone(), credential);
        registration.contact = self.contact.clone();
        let requested = self.trunk.register_expires_seconds.max(1);
        let mut failures: u32 = 0;
        loop {
            let outcome = registration.register(server.clone(), Some(requested)).await;
            let delay = match outcome {
                Ok(response) if response.status_code.kind() == StatusCodeKind::Successful => {
                    failures = 0;
                    let granted = registration
                        .granted_expires
                        .filter(|granted| *granted > 0)
                        .unwrap_or(requested);
                    let expires_at = Instant::now() + Duration::from_secs(u64::from(granted));
                    info!(trunk = %name, granted_seconds = granted, "trunk registered");
                    self.states
                        .set(&name, TrunkState::Registered { expires_at });
                    refresh_delay(granted)
                }
                Ok(response) => {
                    failures = failures.saturating_add(1);
                    let delay = retry_delay(failures);
                    let reason = format!(
                        "{} {}",
                        u16::from(response.status_code.clone()),
                        response
                            .wire_reason
                            .clone()
                            .unwrap_or_else(|| response.status_code.text().to_string())
                    );
                    warn!(trunk = %name, %reason, retry_in = ?delay, "trunk registration refused");
                    self.fail(reason, delay);
                    delay
                }
                Err(error) => {
                    failures = failures.saturating_add(1);
                    let delay = retry_delay(failures);
                    warn!(trunk = %name, %error, retry_in = ?delay, "trunk registration failed");
                    self.fail(error.to_string(), delay);
                    delay
                }
            };
            tokio::time::sleep(delay).await;
        }
    }

    fn fail(&self, reason: String, delay: Duration) {
        let now = Instant::now();
        let retry_at = now.checked_add(delay).unwrap_or(now);
        self.states
            .set(&self.trunk.name, TrunkState::Failed { reason, retry_at });
    }
}
