//! The event loop: sockets, readiness, the one timer, and the element they drive.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
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
use crate::shard;
use crate::tcp::Connections;
use crate::udp::{Inbox, Outbox};

const WAKER: Token = Token(0);
const FIRST_UDP: usize = 1;
const FIRST_LISTENER: usize = 256;
const FIRST_CONNECTION: usize = 1024;
/// How often idle TCP connections are looked for.
const SWEEP: Duration = Duration::from_secs(1);
/// Messages one worker's mailbox holds before mail to it is dropped.
const MAILBOX: usize = 65_536;
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

/// What one worker hands another (see the crate documentation on workers).
enum Mail {
    /// A message the receiving worker read for a call this worker owns.
    Received {
        transport: Transport,
        local: SocketAddr,
        remote: SocketAddr,
        bytes: Vec<u8>,
    },
    /// Bytes for a TCP peer: worker 0 holds every TCP connection.
    SendTcp { remote: SocketAddr, bytes: Vec<u8> },
}

/// A worker's links to the others.
struct Mesh {
    index: usize,
    inbox: Receiver<Mail>,
    peers: Vec<(SyncSender<Mail>, Arc<Waker>)>,
    /// Workers sent mail since they were last woken.
    to_wake: Vec<bool>,
}

impl Mesh {
    /// Posts mail to a worker; a full mailbox drops it, as a congested network drops a
    /// datagram (the sender's transaction layer retransmits), rather than growing.
    fn post(&mut self, to: usize, mail: Mail) {
        if let Some((tx, _)) = self.peers.get(to) {
            match tx.try_send(mail) {
                Ok(()) => self.to_wake[to] = true,
                Err(TrySendError::Full(_)) => {
                    self.to_wake[to] = true;
                    tracing::warn!(worker = to, "mailbox full: message dropped");
                }
                Err(TrySendError::Disconnected(_)) => {}
            }
        }
    }

    /// Wakes every worker that has mail; one wake-up per batch, not per message.
    fn wake(&mut self) {
        for (i, w) in self.to_wake.iter_mut().enumerate() {
            if std::mem::take(w) {
                let _ = self.peers[i].1.wake();
            }
        }
    }
}

/// The sockets of one event loop.
struct Io {
    registry: Registry,
    udp: Vec<(UdpSocket, SocketAddr)>,
    listeners: Vec<(TcpListener, SocketAddr)>,
    conns: Connections,
    frame: Vec<u8>,
    failed: Vec<TransactionId>,
    /// On workers other than 0: how TCP transmissions reach worker 0.
    mesh: Option<Mesh>,
}

impl Io {
    /// Sends one transmission, or queues it in `out` (UDP: sent when the batch is flushed,
    /// or now if `out` is full); `Err` if it cannot be sent.
    fn send(&mut self, t: &Transmit<'_>, out: &mut Outbox) -> io::Result<()> {
        match t.transport {
            Transport::Udp => {
                let socket = self
                    .udp
                    .iter()
                    .position(|(_, a)| *a == t.local)
                    .or_else(|| {
                        self.udp
                            .iter()
                            .position(|(_, a)| a.is_ipv4() == t.remote.is_ipv4())
                    })
                    .ok_or_else(|| io::Error::other("no UDP socket for this address family"))?;
                out.push(socket, t.remote, t.bytes, t.tx);
                if out.is_full() {
                    out.flush(&self.udp, &mut self.failed);
                }
                Ok(())
            }
            Transport::Tcp => match &mut self.mesh {
                Some(mesh) if mesh.index != 0 => {
                    mesh.post(
                        0,
                        Mail::SendTcp {
                            remote: t.remote,
                            bytes: t.bytes.to_vec(),
                        },
                    );
                    Ok(())
                }
                _ => self.conns.send(&self.registry, t.remote, t.bytes),
            },
            other => Err(io::Error::other(format!("transport {other:?} not served"))),
        }
    }
}

/// One event loop: its poll, sockets and element.
pub struct Worker<E: Element> {
    poll: Poll,
    element: E,
    io: Io,
    clock: Clock,
    resolver: Resolver,
    stop: Arc<AtomicBool>,
    /// UDP datagrams read, and sent, per system call (see [`crate::udp`]).
    udp_batch: usize,
}

/// Hands everything the element has to output to the sockets (UDP datagrams to `out`,
/// sent when it is flushed), and its events to itself, until it has nothing more
/// (RFC-wise: the sans-IO drain rule).
fn drain<E: Element>(
    element: &mut E,
    io: &mut Io,
    out: &mut Outbox,
    resolver: &Resolver,
    now: Instant,
) {
    for _ in 0..MAX_DRAIN {
        while let Some(t) = element.poll_transmit() {
            if let Err(e) = io.send(&t, out) {
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
        (poll, waker): (Poll, Arc<Waker>),
        element: E,
        udp: Vec<std::net::UdpSocket>,
        listeners: Vec<std::net::TcpListener>,
        config: &ServerConfig,
        stop: Arc<AtomicBool>,
        mesh: Option<Mesh>,
    ) -> io::Result<Worker<E>> {
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
            frame: Vec::with_capacity(config.max_message),
            failed: Vec::new(),
            mesh,
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
        let resolver = Resolver::start(waker, &config.dns_servers)?;
        Ok(Worker {
            poll,
            element,
            io,
            clock: Clock::new(),
            resolver,
            stop,
            udp_batch: config.udp_batch,
        })
    }

    /// The element.
    pub fn element(&self) -> &E {
        &self.element
    }

    /// Runs until stopped.
    pub fn run(&mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        // Made here, on the worker's thread: the kernel's message headers they keep are not
        // `Send`.
        let mut inbox = Inbox::new(self.udp_batch);
        let out = &mut Outbox::new(self.udp_batch);
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
                    0 => {
                        self.answers(out);
                        self.mail(out);
                    }
                    t if (FIRST_UDP..FIRST_LISTENER).contains(&t) => {
                        self.read_udp(t - FIRST_UDP, &mut inbox, out)
                    }
                    t if (FIRST_LISTENER..FIRST_CONNECTION).contains(&t) => {
                        if let Some((l, _)) = self.io.listeners.get(t - FIRST_LISTENER) {
                            self.io.conns.accept(&self.io.registry, l);
                        }
                    }
                    _ => {
                        self.connection_ready(token, event.is_readable(), event.is_writable(), out)
                    }
                }
            }
            let now = self.clock.now();
            if self.element.poll_timeout().is_some_and(|at| at <= now) {
                self.element.handle(now, Input::Timeout);
                drain(&mut self.element, &mut self.io, out, &self.resolver, now);
            }
            self.flush(out);
            if WallInstant::now() >= next_sweep {
                self.io.conns.close_idle(&self.io.registry);
                next_sweep = WallInstant::now() + SWEEP;
            }
            if let Some(mesh) = &mut self.io.mesh {
                mesh.wake();
            }
        }
        Ok(())
    }

    /// Sends what `out` holds; the transactions of datagrams that could not be sent are told
    /// (§17.1.4, §17.2.4), and whatever they send in turn is sent too.
    fn flush(&mut self, out: &mut Outbox) {
        for _ in 0..MAX_DRAIN {
            out.flush(&self.io.udp, &mut self.io.failed);
            if self.io.failed.is_empty() {
                return;
            }
            let now = self.clock.now();
            drain(&mut self.element, &mut self.io, out, &self.resolver, now);
        }
    }

    /// Mail from the other workers.
    fn mail(&mut self, out: &mut Outbox) {
        loop {
            let Some(mail) = self.io.mesh.as_ref().and_then(|m| m.inbox.try_recv().ok()) else {
                return;
            };
            match mail {
                Mail::Received {
                    transport,
                    local,
                    remote,
                    bytes,
                } => self.receive(transport, local, remote, &bytes, false, out),
                Mail::SendTcp { remote, bytes } => {
                    if let Err(e) = self.io.conns.send(&self.io.registry, remote, &bytes) {
                        tracing::debug!(%remote, error = %e, "TCP send for another worker failed");
                    }
                }
            }
        }
    }

    /// One message received: to the worker that owns its call (when `dispatch` and that is
    /// another one), else to the element, then the drain (UDP datagrams sent to `out`).
    fn receive(
        &mut self,
        transport: Transport,
        local: SocketAddr,
        remote: SocketAddr,
        bytes: &[u8],
        dispatch: bool,
        out: &mut Outbox,
    ) {
        if dispatch && self.dispatch(transport, local, remote, bytes) {
            return;
        }
        let now = self.clock.now();
        self.element.handle(
            now,
            Input::Received {
                transport,
                local,
                remote,
                bytes,
            },
        );
        drain(&mut self.element, &mut self.io, out, &self.resolver, now);
    }

    /// Hands the message to the worker that owns its call; `true` if that is another one.
    fn dispatch(
        &mut self,
        transport: Transport,
        local: SocketAddr,
        remote: SocketAddr,
        bytes: &[u8],
    ) -> bool {
        let Some(mesh) = &mut self.io.mesh else {
            return false;
        };
        let owner = shard::owner(bytes, mesh.peers.len());
        if owner == mesh.index {
            return false;
        }
        let bytes = bytes.to_vec();
        mesh.post(
            owner,
            Mail::Received {
                transport,
                local,
                remote,
                bytes,
            },
        );
        true
    }

    /// DNS answers.
    fn answers(&mut self, out: &mut Outbox) {
        while let Some((id, records)) = self.resolver.answer() {
            let now = self.clock.now();
            records.with_answer(|a| self.element.dns_answer(now, id, a));
            drain(&mut self.element, &mut self.io, out, &self.resolver, now);
        }
    }

    /// Reads UDP socket `i` until its queue is empty, a batch at a time; what the element
    /// sends while it handles a batch goes out together after it.
    fn read_udp(&mut self, i: usize, inbox: &mut Inbox, out: &mut Outbox) {
        loop {
            let Some((socket, local)) = self.io.udp.get(i) else {
                return;
            };
            let local = *local;
            match inbox.recv(socket) {
                Ok(n) => {
                    for k in 0..n {
                        if let Some((bytes, remote)) = inbox.datagram(k) {
                            self.receive(Transport::Udp, local, remote, bytes, true, out);
                        }
                    }
                    self.flush(out);
                    if inbox.drained() {
                        return;
                    }
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

    fn connection_ready(&mut self, token: Token, readable: bool, writable: bool, out: &mut Outbox) {
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
                    let bytes = conn.input().to_vec();
                    self.receive(Transport::Tcp, local, remote, &bytes, false, out);
                    self.io.conns.close_token(&self.io.registry, token);
                    return;
                }
            }
            let frame = std::mem::take(&mut self.io.frame);
            self.receive(Transport::Tcp, local, remote, &frame, true, out);
            self.io.frame = frame;
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

fn bind_udp(addr: SocketAddr, shared: bool) -> io::Result<std::net::UdpSocket> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    if shared {
        // Every worker binds the same address; the kernel spreads datagrams over them.
        socket.set_reuse_port(true)?;
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
        let workers = config.workers.max(1);
        let shared = workers > 1;
        let mut udp = Vec::new();
        let mut udp_addrs = Vec::new();
        for &addr in &config.udp {
            let s = bind_udp(addr, shared).map_err(|e| annotate(e, "UDP", addr))?;
            udp_addrs.push(s.local_addr()?);
            udp.push(s);
        }
        let mut listeners = Vec::new();
        let mut tcp_addrs = Vec::new();
        for &addr in &config.tcp {
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
            let l = bind_tcp(want).map_err(|e| annotate(e, "TCP", want))?;
            tcp_addrs.push(l.local_addr()?);
            listeners.push(l);
        }
        let local = config
            .advertise
            .or(udp_addrs.first().or(tcp_addrs.first()).copied())
            .ok_or_else(|| io::Error::other("nothing to listen on"))?;
        let location = Arc::new(RwLock::new(MemoryLocation::new(config.bindings)));
        let flag = Arc::new(AtomicBool::new(false));
        // One poll, waker and mailbox per worker, made first so each can reach the others.
        let mut polls = Vec::new();
        let mut mailboxes = Vec::new();
        for _ in 0..workers {
            let poll = Poll::new()?;
            let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
            polls.push((poll, waker));
            mailboxes.push(mpsc::sync_channel::<Mail>(MAILBOX));
        }
        let peers: Vec<(SyncSender<Mail>, Arc<Waker>)> = mailboxes
            .iter()
            .zip(&polls)
            .map(|((tx, _), (_, w))| (tx.clone(), w.clone()))
            .collect();
        let wakers: Vec<Arc<Waker>> = polls.iter().map(|(_, w)| w.clone()).collect();
        let mut built = Vec::new();
        let mut udp = Some(udp);
        let mut listeners = Some(listeners);
        for (index, (poll, (_, inbox))) in polls.into_iter().zip(mailboxes).enumerate() {
            // Worker 0 takes the first sockets and every TCP listener; the others bind the
            // UDP addresses again (SO_REUSEPORT).
            let (udp, listeners) = if index == 0 {
                (
                    udp.take().unwrap_or_default(),
                    listeners.take().unwrap_or_default(),
                )
            } else {
                let again = udp_addrs
                    .iter()
                    .map(|&a| bind_udp(a, true).map_err(|e| annotate(e, "UDP", a)))
                    .collect::<io::Result<Vec<_>>>()?;
                (again, Vec::new())
            };
            let mesh = shared.then(|| Mesh {
                index,
                inbox,
                peers: peers.clone(),
                to_wake: vec![false; workers],
            });
            // Each worker draws its own branches and tags.
            let seed = config.seed ^ (index as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            let element = Service::new(config, local, location.clone(), seed);
            built.push(Worker::new(
                poll,
                element,
                udp,
                listeners,
                config,
                flag.clone(),
                mesh,
            )?);
        }
        let stopper = Stopper { flag, wakers };
        Ok(Server {
            workers: built,
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
