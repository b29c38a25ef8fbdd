//! The proxy / registrar / redirect server on tokio, for applications that embed it: the
//! same elements `sipwire serve` runs ([`Service`], from sipwire-mio, which are sans-IO
//! apart from their names), driven by one tokio task over UDP sockets.
//!
//! UDP only: a server that must also take TCP runs [`sipwire_mio::Server`] (on its own
//! threads) instead.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use sipwire_core::endpoint::Input;
use sipwire_core::transport::Transport;
use sipwire_mio::element::{Element, Service};
use sipwire_mio::{MemoryLocation, ServerConfig, SharedLocation};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tracing::debug;

use crate::clock::Clock;
use crate::dns::{Dns, RecordSet};

/// A bound server, ready to [`run`](Server::run).
pub struct Server {
    service: Service,
    /// RFC 3263 lookups for the proxy's next hops (`None`: no resolver could be made, and
    /// every lookup fails).
    dns: Option<Dns>,
    sockets: Vec<Arc<UdpSocket>>,
    addrs: Vec<SocketAddr>,
    location: SharedLocation,
}

impl Server {
    /// Binds `config.udp` (port 0: any free port) and builds the element `config.mode`
    /// names. `config.tcp` is not served here.
    pub async fn bind(config: &ServerConfig) -> io::Result<Server> {
        config.check().map_err(io::Error::other)?;
        let mut sockets = Vec::new();
        let mut addrs = Vec::new();
        for &addr in &config.udp {
            let s = UdpSocket::bind(addr).await?;
            addrs.push(s.local_addr()?);
            sockets.push(Arc::new(s));
        }
        let local = config
            .advertise
            .or(addrs.first().copied())
            .ok_or_else(|| io::Error::other("no UDP address to listen on"))?;
        let location = Arc::new(RwLock::new(MemoryLocation::new(config.bindings)));
        let service = Service::new(config, local, location.clone(), config.seed);
        let dns = Dns::from_servers(&config.dns_servers)
            .map_err(|e| tracing::warn!("DNS: the system's configuration: {e}"))
            .ok();
        Ok(Server {
            service,
            dns,
            sockets,
            addrs,
            location,
        })
    }

    /// The bound UDP addresses.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// The location service the registrar fills (to inspect or to pre-load).
    pub fn location(&self) -> SharedLocation {
        self.location.clone()
    }

    /// Serves until `shutdown` completes.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> io::Result<()> {
        let Server {
            mut service,
            dns,
            sockets,
            addrs,
            ..
        } = self;
        let clock = Clock::new();
        // One receiving task per socket; the element lives in this one.
        let (datagrams, mut received) = mpsc::channel::<(usize, SocketAddr, Vec<u8>)>(1024);
        let mut readers = Vec::new();
        for (i, s) in sockets.iter().enumerate() {
            let (s, tx) = (s.clone(), datagrams.clone());
            readers.push(tokio::spawn(async move {
                let mut buf = vec![0u8; 65_535];
                loop {
                    match s.recv_from(&mut buf).await {
                        Ok((n, from)) => {
                            if tx.send((i, from, buf[..n].to_vec())).await.is_err() {
                                return;
                            }
                        }
                        Err(e) => debug!("receive: {e}"),
                    }
                }
            }));
        }
        let (answers_tx, mut answers) = mpsc::unbounded_channel();
        tokio::pin!(shutdown);
        let far = || tokio::time::Instant::now() + std::time::Duration::from_secs(3600);
        loop {
            drain(&mut service, &sockets, &addrs, &clock, &dns, &answers_tx).await;
            let wake = service.poll_timeout().map_or_else(far, |t| clock.at(t));
            tokio::select! {
                () = &mut shutdown => break,
                Some((i, remote, bytes)) = received.recv() => {
                    let input = Input::Received {
                        transport: Transport::Udp,
                        local: addrs[i],
                        remote,
                        bytes: &bytes,
                    };
                    service.handle(clock.now(), input);
                }
                Some((id, records)) = answers.recv() => {
                    let now = clock.now();
                    records.with_answer(|a| service.dns_answer(now, id, a));
                }
                () = tokio::time::sleep_until(wake) => service.handle(clock.now(), Input::Timeout),
            }
        }
        for r in readers {
            r.abort();
        }
        Ok(())
    }
}

/// Sends what the element transmits, lets it act on what the core handed up, and starts
/// the lookups it waits for, until there is nothing left.
async fn drain(
    service: &mut Service,
    sockets: &[Arc<UdpSocket>],
    addrs: &[SocketAddr],
    clock: &Clock,
    dns: &Option<Dns>,
    answers: &mpsc::UnboundedSender<(u32, RecordSet)>,
) {
    loop {
        let mut failed = Vec::new();
        while let Some(t) = service.poll_transmit() {
            let socket = addrs
                .iter()
                .position(|a| *a == t.local)
                .or_else(|| addrs.iter().position(|a| a.is_ipv4() == t.remote.is_ipv4()))
                .and_then(|i| sockets.get(i));
            let sent = match (t.transport, socket) {
                (Transport::Udp, Some(s)) => s.send_to(t.bytes, t.remote).await.map(|_| ()),
                _ => Err(io::Error::other("no UDP socket for this message")),
            };
            if let Err(e) = sent {
                debug!(remote = %t.remote, error = %e, "send failed");
                failed.extend(t.tx);
            }
        }
        let now = clock.now();
        for tx in &failed {
            service.handle(now, Input::SendFailed { tx: *tx });
        }
        // RFC 3263 queries (NAPTR, SRV, A, AAAA), each its own task.
        while let Some(q) = service.poll_resolve() {
            let (dns, answers) = (dns.clone(), answers.clone());
            tokio::spawn(async move {
                let records = match &dns {
                    Some(d) => d.lookup(&q).await,
                    None => RecordSet::Failed,
                };
                let _ = answers.send((q.id, records));
            });
        }
        if !service.process_event(now) && failed.is_empty() {
            return;
        }
    }
}
