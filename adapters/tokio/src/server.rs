//! The proxy / registrar / redirect server on tokio, for applications that embed it: the
//! same elements `sipwire serve` runs ([`Service`], from sipwire-mio, which are sans-IO
//! apart from their names), driven by one tokio task over UDP sockets and TCP connections
//! (one worker; [`sipwire_mio::Server`] spreads a server over several threads).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use sipwire_core::endpoint::Input;
use sipwire_core::transport::Transport;
use sipwire_mio::element::{Element, Service};
use sipwire_mio::{MemoryLocation, ServerConfig, SharedLocation};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::mpsc;
use tracing::debug;

use crate::clock::Clock;
use crate::dns::{Dns, RecordSet};
use crate::tcp::{Connections, StreamInput};

/// A bound server, ready to [`run`](Server::run).
pub struct Server {
    service: Service,
    /// RFC 3263 lookups for the proxy's next hops (`None`: no resolver could be made, and
    /// every lookup fails).
    dns: Option<Dns>,
    sockets: Vec<Arc<UdpSocket>>,
    addrs: Vec<SocketAddr>,
    listeners: Vec<TcpListener>,
    tcp_addrs: Vec<SocketAddr>,
    max_message: usize,
    location: SharedLocation,
}

impl Server {
    /// Binds `config.udp` and `config.tcp` (port 0: any free port; a TCP address with port
    /// 0 takes its UDP twin's port) and builds the element `config.mode` names.
    pub async fn bind(config: &ServerConfig) -> io::Result<Server> {
        config.check().map_err(io::Error::other)?;
        let mut sockets = Vec::new();
        let mut addrs = Vec::new();
        for &addr in &config.udp {
            let s = UdpSocket::bind(addr).await?;
            addrs.push(s.local_addr()?);
            sockets.push(Arc::new(s));
        }
        let mut listeners = Vec::new();
        let mut tcp_addrs = Vec::new();
        for &addr in &config.tcp {
            let mut want = addr;
            if want.port() == 0 {
                if let Some(twin) = addrs.iter().find(|u| u.ip() == addr.ip()) {
                    want.set_port(twin.port());
                }
            }
            let l = TcpListener::bind(want).await?;
            tcp_addrs.push(l.local_addr()?);
            listeners.push(l);
        }
        let local = config
            .advertise
            .or(addrs.first().or(tcp_addrs.first()).copied())
            .ok_or_else(|| io::Error::other("no address to listen on"))?;
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
            listeners,
            tcp_addrs,
            max_message: config.max_message,
            location,
        })
    }

    /// The bound UDP addresses.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// The bound TCP addresses.
    pub fn tcp_addrs(&self) -> &[SocketAddr] {
        &self.tcp_addrs
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
            listeners,
            tcp_addrs,
            max_message,
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
        // One accepting task per listener; the connections' own tasks report here.
        let (accepted_tx, mut accepted) = mpsc::channel(64);
        for l in listeners {
            let tx = accepted_tx.clone();
            readers.push(tokio::spawn(async move {
                loop {
                    match l.accept().await {
                        Ok(conn) => {
                            if tx.send(conn).await.is_err() {
                                return;
                            }
                        }
                        Err(e) => debug!("accept: {e}"),
                    }
                }
            }));
        }
        let (stream_tx, mut streams) = mpsc::channel(crate::tcp::STREAM_QUEUE);
        let mut connections = Connections::new(max_message, stream_tx);
        let Some(tcp_local) = tcp_addrs.first().or(addrs.first()).copied() else {
            return Err(io::Error::other("no address to listen on"));
        };
        let (answers_tx, mut answers) = mpsc::unbounded_channel();
        tokio::pin!(shutdown);
        let far = || tokio::time::Instant::now() + std::time::Duration::from_secs(3600);
        loop {
            let io = Io {
                sockets: &sockets,
                addrs: &addrs,
                connections: &mut connections,
            };
            drain(&mut service, io, &clock, &dns, &answers_tx).await;
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
                Some((stream, remote)) = accepted.recv() => connections.accepted(stream, remote),
                Some(input) = streams.recv() => {
                    let now = clock.now();
                    match input {
                        StreamInput::Received { remote, bytes } => {
                            let input = Input::Received {
                                transport: Transport::Tcp,
                                local: tcp_local,
                                remote,
                                bytes: &bytes,
                            };
                            service.handle(now, input);
                        }
                        StreamInput::Failed { txs } => {
                            for tx in txs {
                                service.handle(now, Input::SendFailed { tx });
                            }
                        }
                        StreamInput::Closed { remote, id } => connections.closed(remote, id),
                    }
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

/// Where the server's messages go out.
struct Io<'a> {
    sockets: &'a [Arc<UdpSocket>],
    addrs: &'a [SocketAddr],
    connections: &'a mut Connections,
}

/// Sends what the element transmits, lets it act on what the core handed up, and starts
/// the lookups it waits for, until there is nothing left.
async fn drain(
    service: &mut Service,
    io: Io<'_>,
    clock: &Clock,
    dns: &Option<Dns>,
    answers: &mpsc::UnboundedSender<(u32, RecordSet)>,
) {
    loop {
        let mut failed = Vec::new();
        while let Some(t) = service.poll_transmit() {
            let (sockets, addrs) = (io.sockets, io.addrs);
            let socket = addrs
                .iter()
                .position(|a| *a == t.local)
                .or_else(|| addrs.iter().position(|a| a.is_ipv4() == t.remote.is_ipv4()))
                .and_then(|i| sockets.get(i));
            let sent = match (t.transport, socket) {
                (Transport::Tcp, _) => {
                    io.connections.send(t.remote, t.bytes, t.tx);
                    Ok(())
                }
                (Transport::Udp, Some(s)) => s.send_to(t.bytes, t.remote).await.map(|_| ()),
                _ => Err(io::Error::other("no socket for this message")),
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
