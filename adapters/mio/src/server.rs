//! The event loop: sockets, readiness, the one timer, and the element they drive.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant as WallInstant};

use mio::net::{TcpListener, UdpSocket};
use mio::{Events, Interest, Poll, Registry, Token, Waker};
use sipwire_core::endpoint::{Input, TransactionId, Transmit};
use sipwire_core::time::Instant;
use sipwire_core::transport::{Frame, Transport};

use crate::clock::Clock;
use crate::config::ServerConfig;
use crate::element::{Element, Service};
use crate::location::MemoryLocation;
use crate::resolver::Resolver;
use crate::tcp::Connections;

const WAKER: Token = Token(0);
const FIRST_UDP: usize = 1;
const FIRST_LISTENER: usize = 256;
const FIRST_CONNECTION: usize = 1024;
/// The largest UDP datagram.
const DATAGRAM: usize = 65_535;
/// How often idle TCP connections are looked for.
const SWEEP: Duration = Duration::from_secs(1);
/// Outputs taken from the element per input, at most (a bound on a misbehaving loop).
const MAX_DRAIN: usize = 100_000;

/// Stops a running [`Server`] from another thread (a signal handler, a test).
#[derive(Clone)]
pub struct Stopper {
    flag: Arc<AtomicBool>,
    wakers: Vec<Arc<Waker>>,
}

impl Stopper {
    /// Asks the server to stop; [`Server::run`] returns soon after.
    pub fn stop(&self) {
        self.flag.store(true, Ordering::SeqCst);
        for w in &self.wakers {
            let _ = w.wake();
        }
    }
}

/// The sockets of one event loop.
struct Io {
    registry: Registry,
    udp: Vec<(UdpSocket, SocketAddr)>,
    listeners: Vec<(TcpListener, SocketAddr)>,
    conns: Connections,
    recv: Vec<u8>,
    frame: Vec<u8>,
    failed: Vec<TransactionId>,
}

impl Io {
    /// Sends one transmission; `Err` if it could not be sent.
    fn send(&mut self, t: &Transmit<'_>) -> io::Result<()> {
        match t.transport {
            Transport::Udp => {
                let socket = self
                    .udp
                    .iter()
                    .find(|(_, a)| *a == t.local)
                    .or_else(|| {
                        self.udp
                            .iter()
                            .find(|(_, a)| a.is_ipv4() == t.remote.is_ipv4())
                    })
                    .map(|(s, _)| s)
                    .ok_or_else(|| io::Error::other("no UDP socket for this address family"))?;
                match socket.send_to(t.bytes, t.remote) {
                    Ok(_) => Ok(()),
                    // A full socket buffer loses the datagram as the network would; the
                    // transaction layer retransmits.
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        tracing::debug!(remote = %t.remote, "UDP send buffer full: datagram dropped");
                        Ok(())
                    }
                    Err(e) => Err(e),
                }
            }
            Transport::Tcp => self.conns.send(&self.registry, t.remote, t.bytes),
            other => Err(io::Error::other(format!("transport {other:?} not served"))),
        }
    }
}

/// One event loop: its poll, sockets and element.
pub struct Worker<E: Element> {
    poll: Poll,
    waker: Arc<Waker>,
    element: E,
    io: Io,
    clock: Clock,
    resolver: Resolver,
    stop: Arc<AtomicBool>,
}

/// Hands everything the element has to output to the sockets, and its events to itself,
/// until it has nothing more (RFC-wise: the sans-IO drain rule).
fn drain<E: Element>(element: &mut E, io: &mut Io, resolver: &Resolver, now: Instant) {
    for _ in 0..MAX_DRAIN {
        while let Some(t) = element.poll_transmit() {
            if let Err(e) = io.send(&t) {
                tracing::debug!(remote = %t.remote, error = %e, "send failed");
                if let Some(tx) = t.tx {
                    io.failed.push(tx);
                }
            }
        }
        if element.process_event(now) {
            continue;
        }
        match io.failed.pop() {
            // §17.1.4 / §17.2.4: the transaction learns its message did not go.
            Some(tx) => element.handle(now, Input::SendFailed { tx }),
            None => break,
        }
    }
    while let Some(q) = element.poll_resolve() {
        resolver.ask(q);
    }
}

impl<E: Element> Worker<E> {
    /// A loop over already-bound sockets.
    fn new(
        element: E,
        udp: Vec<std::net::UdpSocket>,
        listeners: Vec<std::net::TcpListener>,
        config: &ServerConfig,
        stop: Arc<AtomicBool>,
    ) -> io::Result<Worker<E>> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let registry = poll.registry().try_clone()?;
        let mut io = Io {
            registry,
            udp: Vec::new(),
            listeners: Vec::new(),
            conns: Connections::new(
                config.tcp_connections,
                config.tcp_idle,
                config.max_message,
                FIRST_CONNECTION,
            ),
            recv: vec![0; DATAGRAM],
            frame: Vec::with_capacity(config.max_message),
            failed: Vec::new(),
        };
        for (i, s) in udp.into_iter().enumerate() {
            s.set_nonblocking(true)?;
            let addr = s.local_addr()?;
            let mut s = UdpSocket::from_std(s);
            io.registry
                .register(&mut s, Token(FIRST_UDP + i), Interest::READABLE)?;
            io.udp.push((s, addr));
        }
        for (i, l) in listeners.into_iter().enumerate() {
            l.set_nonblocking(true)?;
            let addr = l.local_addr()?;
            let mut l = TcpListener::from_std(l);
            io.registry
                .register(&mut l, Token(FIRST_LISTENER + i), Interest::READABLE)?;
            io.listeners.push((l, addr));
        }
        let resolver = Resolver::start(waker.clone())?;
        Ok(Worker {
            poll,
            waker,
            element,
            io,
            clock: Clock::new(),
            resolver,
            stop,
        })
    }

    /// The element.
    pub fn element(&self) -> &E {
        &self.element
    }

    /// Runs until stopped.
    pub fn run(&mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        let mut next_sweep = WallInstant::now() + SWEEP;
        while !self.stop.load(Ordering::Relaxed) {
            let until_sweep = next_sweep.saturating_duration_since(WallInstant::now());
            let timeout = match self.element.poll_timeout() {
                Some(at) => self.clock.until(at).min(until_sweep),
                None => until_sweep,
            };
            if let Err(e) = self.poll.poll(&mut events, Some(timeout)) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            for event in events.iter() {
                let token = event.token();
                match token.0 {
                    0 => self.answers(),
                    t if (FIRST_UDP..FIRST_LISTENER).contains(&t) => self.read_udp(t - FIRST_UDP),
                    t if (FIRST_LISTENER..FIRST_CONNECTION).contains(&t) => {
                        if let Some((l, _)) = self.io.listeners.get(t - FIRST_LISTENER) {
                            self.io.conns.accept(&self.io.registry, l);
                        }
                    }
                    _ => self.connection_ready(token, event.is_readable(), event.is_writable()),
                }
            }
            let now = self.clock.now();
            if self.element.poll_timeout().is_some_and(|at| at <= now) {
                self.element.handle(now, Input::Timeout);
                drain(&mut self.element, &mut self.io, &self.resolver, now);
            }
            if WallInstant::now() >= next_sweep {
                self.io.conns.close_idle(&self.io.registry);
                next_sweep = WallInstant::now() + SWEEP;
            }
        }
        Ok(())
    }

    /// DNS answers.
    fn answers(&mut self) {
        while let Some((id, addr)) = self.resolver.answer() {
            let now = self.clock.now();
            self.element.resolved(now, id, addr);
            drain(&mut self.element, &mut self.io, &self.resolver, now);
        }
    }

    fn read_udp(&mut self, i: usize) {
        loop {
            let Some((socket, local)) = self.io.udp.get(i) else {
                return;
            };
            let local = *local;
            match socket.recv_from(&mut self.io.recv) {
                Ok((n, remote)) => {
                    let now = self.clock.now();
                    let bytes = &self.io.recv[..n];
                    self.element.handle(
                        now,
                        Input::Received {
                            transport: Transport::Udp,
                            local,
                            remote,
                            bytes,
                        },
                    );
                    drain(&mut self.element, &mut self.io, &self.resolver, now);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // ICMP errors surface here on some systems; the socket is still good.
                Err(e) => {
                    tracing::debug!(error = %e, "UDP receive error");
                    if e.kind() != io::ErrorKind::ConnectionRefused {
                        return;
                    }
                }
            }
        }
    }

    fn connection_ready(&mut self, token: Token, readable: bool, writable: bool) {
        let open = self
            .io
            .conns
            .ready(&self.io.registry, token, readable, writable);
        // Frame and hand over every whole message read, even from a connection that has
        // just closed.
        loop {
            let Some(conn) = self.io.conns.get_mut(token) else {
                return;
            };
            let (local, remote) = (conn.local, conn.peer);
            match conn.frame() {
                Frame::Message { len } => {
                    self.io.frame.clear();
                    self.io.frame.extend_from_slice(&conn.input()[..len]);
                    conn.consume(len);
                }
                Frame::Ping { len } => {
                    conn.consume(len);
                    // RFC 5626 §4.4.1: a pong for a ping.
                    let _ = conn.send(b"\r\n");
                    continue;
                }
                Frame::Pong { len } => {
                    conn.consume(len);
                    continue;
                }
                Frame::Partial => break,
                Frame::Error(e) => {
                    // No telling where the next message starts (§18.3): hand what there is
                    // to the endpoint, which answers 400 / 513 if it can read a Via, and
                    // close.
                    tracing::debug!(peer = %remote, error = ?e, "TCP stream cannot be framed");
                    self.io.frame.clear();
                    self.io.frame.extend_from_slice(conn.input());
                    let now = self.clock.now();
                    self.element.handle(
                        now,
                        Input::Received {
                            transport: Transport::Tcp,
                            local,
                            remote,
                            bytes: &self.io.frame,
                        },
                    );
                    drain(&mut self.element, &mut self.io, &self.resolver, now);
                    self.io.conns.close_token(&self.io.registry, token);
                    return;
                }
            }
            let now = self.clock.now();
            self.element.handle(
                now,
                Input::Received {
                    transport: Transport::Tcp,
                    local,
                    remote,
                    bytes: &self.io.frame,
                },
            );
            drain(&mut self.element, &mut self.io, &self.resolver, now);
        }
        if !open {
            self.io.conns.close_token(&self.io.registry, token);
        }
    }
}

/// A running configuration: sockets bound, one or more workers built.
pub struct Server {
    workers: Vec<Worker<Service>>,
    stopper: Stopper,
    udp: Vec<SocketAddr>,
    tcp: Vec<SocketAddr>,
}

fn bind_udp(addr: SocketAddr) -> io::Result<std::net::UdpSocket> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    // Room for bursts: a proxy under load receives faster than it is scheduled.
    let _ = socket.set_recv_buffer_size(4 << 20);
    let _ = socket.set_send_buffer_size(4 << 20);
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

fn bind_tcp(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

impl Server {
    /// Binds every listen address of `config` and builds the workers. A TCP address with
    /// port 0 takes the port its UDP twin (same IP, port 0) was given, so a test server has
    /// one port for both.
    pub fn bind(config: &ServerConfig) -> io::Result<Server> {
        config.check().map_err(io::Error::other)?;
        let mut udp = Vec::new();
        let mut udp_addrs = Vec::new();
        for &addr in &config.udp {
            let s = bind_udp(addr).map_err(|e| annotate(e, "UDP", addr))?;
            udp_addrs.push(s.local_addr()?);
            udp.push(s);
        }
        let mut listeners = Vec::new();
        let mut tcp_addrs = Vec::new();
        for (i, &addr) in config.tcp.iter().enumerate() {
            let mut want = addr;
            if want.port() == 0 {
                if let Some(u) = config
                    .udp
                    .iter()
                    .zip(&udp_addrs)
                    .find(|(cfg, _)| cfg.ip() == addr.ip() && cfg.port() == 0)
                {
                    want.set_port(u.1.port());
                }
            }
            let _ = i;
            let l = bind_tcp(want).map_err(|e| annotate(e, "TCP", want))?;
            tcp_addrs.push(l.local_addr()?);
            listeners.push(l);
        }
        let local = udp_addrs
            .first()
            .or(tcp_addrs.first())
            .copied()
            .ok_or_else(|| io::Error::other("nothing to listen on"))?;
        let location = Arc::new(RwLock::new(MemoryLocation::new(config.bindings)));
        let flag = Arc::new(AtomicBool::new(false));
        let element = Service::new(config, local, location, config.seed);
        let worker = Worker::new(element, udp, listeners, config, flag.clone())?;
        let stopper = Stopper {
            flag,
            wakers: vec![worker.waker.clone()],
        };
        Ok(Server {
            workers: vec![worker],
            stopper,
            udp: udp_addrs,
            tcp: tcp_addrs,
        })
    }

    /// The UDP addresses listened on (with the ports the system gave for port 0).
    pub fn udp_addrs(&self) -> &[SocketAddr] {
        &self.udp
    }

    /// The TCP addresses listened on.
    pub fn tcp_addrs(&self) -> &[SocketAddr] {
        &self.tcp
    }

    /// A handle that stops the server.
    pub fn stopper(&self) -> Stopper {
        self.stopper.clone()
    }

    /// Serves until stopped.
    pub fn run(self) -> io::Result<()> {
        let mut workers = self.workers.into_iter();
        let Some(mut first) = workers.next() else {
            return Ok(());
        };
        let others: Vec<_> = workers
            .enumerate()
            .map(|(i, mut w)| {
                std::thread::Builder::new()
                    .name(format!("sipwire-worker-{}", i + 1))
                    .spawn(move || w.run())
            })
            .collect::<io::Result<_>>()?;
        let result = first.run();
        self.stopper.stop();
        for t in others {
            match t.join() {
                Ok(r) => r?,
                Err(_) => return Err(io::Error::other("a worker thread panicked")),
            }
        }
        result
    }
}

fn annotate(e: io::Error, what: &str, addr: SocketAddr) -> io::Error {
    io::Error::new(e.kind(), format!("cannot listen on {what} {addr}: {e}"))
}
