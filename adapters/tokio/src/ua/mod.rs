//! The user agent: a handle to a task that owns the sans-IO core's
//! [`UserAgent`](sipwire_core::ua::UserAgent) and its UDP socket.
//!
//! Every handle ([`UserAgent`], [`Call`], [`IncomingCall`], [`Registration`]) only sends
//! commands to that task and reads what it reports, so cancelling a future never leaves the
//! protocol half done: the task keeps running the core, which finishes each transaction
//! (CANCEL, BYE, retransmissions, timers) on its own. Dropping a [`Call`] hangs it up,
//! dropping an [`IncomingCall`] declines it (603), dropping a [`Registration`] removes the
//! binding, and when the last handle is gone the task hangs up what is left and stops.

mod call;
mod driver;
mod registration;

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use sipwire_core::transaction::TimerConfig;
use sipwire_core::transport::Transport;
use sipwire_core::ua::{EndReason, UaError};
use tokio::sync::{mpsc, oneshot, Mutex};

pub use call::{Call, CallEvent, IncomingCall};
pub use registration::Registration;

use crate::media::MediaConfig;
use driver::Command;

/// Events a call or a registration keeps for the application; past this, while nobody
/// reads them, newer ones are dropped (the end of a call is never lost: it is also kept
/// with the call, see [`Call::end_reason`]).
const EVENTS: usize = 64;

/// Who the user agent is and where it listens.
#[derive(Clone, Debug)]
pub struct Config {
    /// The address to bind, UDP and TCP (port 0: any free port, the same for both).
    pub bind: SocketAddr,
    /// The transport of our requests (§18.1): UDP, or TCP (then our Contact says
    /// `transport=tcp`, so requests to us come over TCP too). Either way the user agent
    /// takes requests over both, on the same port.
    pub transport: Transport,
    /// The address written in Via and Contact; `None`: the bound one, which must then not be
    /// a wildcard (0.0.0.0 or ::).
    pub advertise: Option<SocketAddr>,
    /// Our user name: the AOR is `sip:user@domain`.
    pub user: String,
    /// Our domain.
    pub domain: String,
    /// The display name written in From.
    pub display_name: Option<String>,
    /// An outbound proxy (§8.1.2): every request out of a dialog goes there.
    pub outbound_proxy: Option<SocketAddr>,
    /// Our media: the RTP address and port, and the codecs offered and accepted.
    pub media: MediaConfig,
    /// Calls at once (a call beyond is answered 486 Busy Here, or refused locally).
    pub calls: usize,
    /// Transactions at once (a request beyond is answered 503).
    pub transactions: usize,
    /// The largest message, in bytes.
    pub max_message: usize,
    /// T1, T2, T4 and the other timers of §17.
    pub timers: TimerConfig,
    /// Seeds tags, Call-IDs and branches (`None`: from the clock).
    pub seed: Option<u64>,
    /// DNS servers for RFC 3263 lookups of names in URIs (empty: the system's
    /// configuration, /etc/resolv.conf).
    pub dns_servers: Vec<SocketAddr>,
    /// Whether calls may come in: they wait (up to 16) for
    /// [`UserAgent::next_incoming`]; more are answered 486 Busy Here. `false`: every
    /// incoming call is declined with 480 Temporarily Unavailable at once.
    pub incoming: bool,
}

impl Config {
    /// `sip:user@domain` on 127.0.0.1, any free port, default media.
    pub fn new(user: &str, domain: &str) -> Config {
        Config {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            transport: Transport::Udp,
            advertise: None,
            user: user.to_owned(),
            domain: domain.to_owned(),
            display_name: None,
            outbound_proxy: None,
            media: MediaConfig::default(),
            calls: 8,
            transactions: 64,
            max_message: 4096,
            timers: TimerConfig::default(),
            seed: None,
            incoming: true,
            dns_servers: Vec::new(),
        }
    }
}

/// What a call offers in its INVITE.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Offer {
    /// An offer written from [`Config::media`].
    #[default]
    Auto,
    /// This session description.
    Sdp(Vec<u8>),
    /// No offer: the 2xx carries the peer's and the ACK our answer (RFC 3261 §13.2.1).
    None,
}

/// Why an operation failed.
#[non_exhaustive]
#[derive(Debug)]
pub enum Error {
    /// The socket could not be bound or used.
    Io(std::io::Error),
    /// The configuration cannot work; the message says what to change.
    Config(String),
    /// The core refused the command.
    Ua(UaError),
    /// The request was answered with this final status (a rejected call, a refused
    /// re-INVITE, a failed REGISTER, an OPTIONS error; 408: no answer).
    Status(u16),
    /// The call ended first.
    Ended(EndReason),
    /// The offer could not be answered (no common codec): the call was refused with 488.
    NotAcceptable,
    /// The user agent's task has stopped.
    Closed,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "socket: {e}"),
            Error::Config(m) => write!(f, "configuration: {m}"),
            Error::Ua(e) => write!(f, "{e}"),
            Error::Status(code) => write!(f, "answered {code}"),
            Error::Ended(reason) => write!(f, "the call ended ({reason:?})"),
            Error::NotAcceptable => f.write_str("no common codec (answered 488)"),
            Error::Closed => f.write_str("the user agent has stopped"),
        }
    }
}

impl std::error::Error for Error {}

impl From<UaError> for Error {
    fn from(e: UaError) -> Self {
        Error::Ua(e)
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e)
    }
}

/// What the user agent holds right now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status {
    /// Calls in any state (ringing, up, ending).
    pub calls: usize,
    /// Transactions in the core's table (they outlive their calls by their timers: §17).
    pub transactions: usize,
    /// The endpoint's counters.
    pub stats: sipwire_core::endpoint::Stats,
}

/// The incoming calls as a [`Stream`](futures_core::Stream) (see
/// [`UserAgent::next_incoming`]).
pub struct IncomingCalls {
    ua: UserAgent,
    next: Option<Pin<Box<dyn Future<Output = Option<IncomingCall>> + Send>>>,
}

impl futures_core::Stream for IncomingCalls {
    type Item = IncomingCall;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<IncomingCall>> {
        let ua = self.ua.clone();
        let next = self
            .next
            .get_or_insert_with(|| Box::pin(async move { ua.next_incoming().await }));
        let call = std::task::ready!(next.as_mut().poll(cx));
        self.next = None;
        Poll::Ready(call)
    }
}

/// A SIP user agent on tokio over UDP and TCP: register, place and receive calls, send
/// OPTIONS. Cheap to clone; the task behind it runs until the last handle (of any kind) is dropped.
///
/// ```no_run
/// # async fn demo() -> Result<(), sipwire_tokio::Error> {
/// use sipwire_tokio::{Config, Offer, UserAgent};
/// let ua = UserAgent::bind(Config::new("alice", "example.com")).await?;
/// let mut call = ua.call("sip:bob@127.0.0.1:5062", Offer::Auto).await?;
/// let media = call.answered().await?;
/// println!("talking, {}", media.codec.name);
/// call.hangup().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct UserAgent {
    commands: mpsc::UnboundedSender<Command>,
    shared: Arc<Shared>,
}

struct Shared {
    local: SocketAddr,
    aor: String,
    incoming: Mutex<mpsc::Receiver<IncomingCall>>,
}

impl UserAgent {
    /// Binds the UDP socket and starts the user agent's task on the current tokio runtime.
    pub async fn bind(config: Config) -> Result<UserAgent, Error> {
        let (commands, rx) = mpsc::unbounded_channel();
        let (driver, incoming, local, aor) =
            driver::Driver::bind(config, rx, commands.downgrade()).await?;
        tokio::spawn(driver.run());
        Ok(UserAgent {
            commands,
            shared: Arc::new(Shared {
                local,
                aor,
                incoming: Mutex::new(incoming),
            }),
        })
    }

    /// The address in our Via and Contact.
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local
    }

    /// Our address-of-record, `sip:user@domain`.
    pub fn aor(&self) -> &str {
        &self.shared.aor
    }

    async fn ask<R>(&self, make: impl FnOnce(oneshot::Sender<R>) -> Command) -> Result<R, Error> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(make(tx)).map_err(|_| Error::Closed)?;
        rx.await.map_err(|_| Error::Closed)
    }

    /// Registers our AOR with `registrar` for `expires` seconds (§10.2), and keeps it
    /// refreshed. Returns when the first REGISTER is answered: the registration (its events
    /// report refreshes and failures; dropping it removes the binding), or the failure (and
    /// then nothing more is sent).
    pub async fn register(
        &self,
        registrar: SocketAddr,
        expires: u32,
    ) -> Result<Registration, Error> {
        let (events_tx, events) = mpsc::channel(EVENTS);
        let granted = self
            .ask(|reply| Command::Register {
                registrar,
                expires,
                events: events_tx,
                reply,
            })
            .await??;
        Ok(Registration::new(self.commands.clone(), events, granted))
    }

    /// Registers our AOR with the registrar of our domain, found by RFC 3263 (NAPTR, SRV,
    /// A/AAAA for `sip:domain`, §10.2.6), failing over to the next server on a timeout or
    /// 503; otherwise as [`register`](Self::register).
    pub async fn register_domain(&self, expires: u32) -> Result<Registration, Error> {
        let (events_tx, events) = mpsc::channel(EVENTS);
        let granted = self
            .ask(|reply| Command::RegisterDomain {
                expires,
                events: events_tx,
                reply,
            })
            .await??;
        Ok(Registration::new(self.commands.clone(), events, granted))
    }

    /// Calls `target` (a SIP URI; a host name is found by RFC 3263, trying the next server
    /// when one does not answer or answers 503). Returns once the INVITE is on its way; the call's events
    /// (ringing, answered, ended) come from [`Call::next_event`] or [`Call::answered`].
    pub async fn call(&self, target: &str, offer: Offer) -> Result<Call, Error> {
        let (events_tx, events) = mpsc::channel(EVENTS);
        let (id, info) = self
            .ask(|reply| Command::Call {
                target: target.to_owned(),
                offer,
                events: events_tx,
                reply,
            })
            .await??;
        Ok(Call::new(id, self.commands.clone(), events, info))
    }

    /// The next incoming call (they wait here from the start, without ringing until
    /// [`IncomingCall::ring`]); `None` once the task has stopped. See [`Config::incoming`].
    pub async fn next_incoming(&self) -> Option<IncomingCall> {
        self.shared.incoming.lock().await.recv().await
    }

    /// The incoming calls as a stream (each item as [`next_incoming`](Self::next_incoming)
    /// gives it).
    pub fn incoming(&self) -> IncomingCalls {
        IncomingCalls {
            ua: self.clone(),
            next: None,
        }
    }

    /// What the user agent holds: calls, transactions, counters.
    pub async fn status(&self) -> Result<Status, Error> {
        self.ask(|reply| Command::Status { reply }).await
    }

    /// Stops the user agent: hangs up every call, removes the registration's binding,
    /// waits (at most five seconds) for those to be answered, and returns when the task has
    /// stopped. Every handle's later requests fail with [`Error::Closed`]. Call this before
    /// the runtime ends: a runtime that stops first drops the task mid-way.
    pub async fn shutdown(&self) {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::Shutdown { reply: tx }).is_ok() {
            let _ = rx.await;
        }
    }

    /// Sends OPTIONS to `target` (§11) and returns the final status (408: no answer).
    pub async fn options(&self, target: &str) -> Result<u16, Error> {
        self.ask(|reply| Command::Options {
            target: target.to_owned(),
            reply,
        })
        .await?
    }
}
