//! TCP connections (RFC 3261 §18): accepted and opened ones in one table, found by token and
//! by peer address (a response goes back on the connection its request came on, §18.2.2;
//! a request to a peer reuses an open connection, §18.1.1), bounded in number, closed when
//! idle. Messages are framed by Content-Length in a [`StreamBuffer`] per connection.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant as WallInstant};

use mio::net::{TcpListener, TcpStream};
use mio::{Interest, Registry, Token};
use sipwire_core::transport::{Frame, StreamBuffer};

/// Bytes waiting to be written on one connection before it is judged stuck and closed.
const MAX_PENDING_OUTPUT: usize = 4 * 1024 * 1024;

/// One TCP connection.
pub(crate) struct Connection {
    stream: TcpStream,
    /// The peer's address.
    pub peer: SocketAddr,
    /// Our end's address.
    pub local: SocketAddr,
    input: StreamBuffer<'static>,
    output: Vec<u8>,
    written: usize,
    connecting: bool,
    last_active: WallInstant,
}

/// What reading a connection gave.
pub(crate) enum ReadOutcome {
    /// Still open.
    Open,
    /// Closed by the peer, or broken.
    Closed,
}

impl Connection {
    /// The next complete frame in the input, if any.
    pub fn frame(&self) -> Frame {
        self.input.frame()
    }

    /// The input bytes (the frame is at the start).
    pub fn input(&self) -> &[u8] {
        self.input.bytes()
    }

    /// Drops `n` bytes from the front of the input.
    pub fn consume(&mut self, n: usize) {
        self.input.consume(n);
    }

    /// Reads what the socket has (edge-triggered: until it would block, or the buffer is
    /// full).
    fn read(&mut self) -> ReadOutcome {
        loop {
            let spare = self.input.spare_mut();
            if spare.is_empty() {
                // Full: the caller frames what is there (a whole message, or an error).
                return ReadOutcome::Open;
            }
            match self.stream.read(spare) {
                Ok(0) => return ReadOutcome::Closed,
                Ok(n) => {
                    self.input.commit(n);
                    self.last_active = WallInstant::now();
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return ReadOutcome::Open,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return ReadOutcome::Closed,
            }
        }
    }

    /// Writes what is queued, as far as the socket takes it.
    fn flush(&mut self) -> io::Result<()> {
        if self.connecting {
            return Ok(());
        }
        while self.written < self.output.len() {
            match self.stream.write(&self.output[self.written..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.output.clear();
        self.written = 0;
        Ok(())
    }

    /// Queues bytes and writes what can be written now.
    pub fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        if self.output.len() - self.written + bytes.len() > MAX_PENDING_OUTPUT {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        self.output.extend_from_slice(bytes);
        self.last_active = WallInstant::now();
        self.flush()
    }
}

/// The connection table.
pub(crate) struct Connections {
    slots: Vec<Option<Connection>>,
    free: Vec<usize>,
    by_peer: HashMap<SocketAddr, usize>,
    limit: usize,
    idle: Duration,
    max_message: usize,
    first_token: usize,
}

impl Connections {
    /// A table of at most `limit` connections, with tokens from `first_token` on.
    pub fn new(limit: usize, idle: Duration, max_message: usize, first_token: usize) -> Self {
        Connections {
            slots: Vec::new(),
            free: Vec::new(),
            by_peer: HashMap::new(),
            limit,
            idle,
            max_message,
            first_token,
        }
    }

    /// Open connections.
    pub fn len(&self) -> usize {
        self.by_peer.len()
    }

    /// The connection with this token.
    pub fn get_mut(&mut self, token: Token) -> Option<&mut Connection> {
        let i = token.0.checked_sub(self.first_token)?;
        self.slots.get_mut(i)?.as_mut()
    }

    fn insert(
        &mut self,
        registry: &Registry,
        mut stream: TcpStream,
        peer: SocketAddr,
        connecting: bool,
    ) -> io::Result<usize> {
        let local = stream.local_addr()?;
        let i = self.free.pop().unwrap_or_else(|| {
            self.slots.push(None);
            self.slots.len() - 1
        });
        let token = Token(self.first_token + i);
        if let Err(e) =
            registry.register(&mut stream, token, Interest::READABLE | Interest::WRITABLE)
        {
            self.free.push(i);
            return Err(e);
        }
        let _ = stream.set_nodelay(true);
        self.slots[i] = Some(Connection {
            stream,
            peer,
            local,
            input: StreamBuffer::new(vec![0u8; self.max_message])
                .max_message_size(self.max_message),
            output: Vec::new(),
            written: 0,
            connecting,
            last_active: WallInstant::now(),
        });
        self.by_peer.insert(peer, i);
        Ok(i)
    }

    /// Accepts every pending connection on `listener`; past the limit, new connections are
    /// closed at once (a full table refuses rather than grows).
    pub fn accept(&mut self, registry: &Registry, listener: &TcpListener) {
        loop {
            match listener.accept() {
                Ok((stream, peer)) => {
                    if self.len() >= self.limit {
                        tracing::warn!(%peer, limit = self.limit, "TCP connection refused: table full");
                        drop(stream);
                        continue;
                    }
                    match self.insert(registry, stream, peer, false) {
                        Ok(_) => tracing::debug!(%peer, "TCP connection accepted"),
                        Err(e) => tracing::warn!(%peer, error = %e, "TCP accept failed"),
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    tracing::warn!(error = %e, "TCP accept failed");
                    return;
                }
            }
        }
    }

    /// Sends `bytes` to `peer` on its connection, opening one if there is none.
    pub fn send(&mut self, registry: &Registry, peer: SocketAddr, bytes: &[u8]) -> io::Result<()> {
        let i = match self.by_peer.get(&peer) {
            Some(&i) => i,
            None => {
                if self.len() >= self.limit {
                    return Err(io::Error::other("TCP connection table full"));
                }
                let stream = TcpStream::connect(peer)?;
                tracing::debug!(%peer, "TCP connecting");
                self.insert(registry, stream, peer, true)?
            }
        };
        let Some(conn) = self.slots.get_mut(i).and_then(Option::as_mut) else {
            return Err(io::ErrorKind::NotConnected.into());
        };
        let result = conn.send(bytes);
        if result.is_err() {
            self.close(registry, i);
        }
        result
    }

    /// Handles readiness of the connection with `token`: completes a connect, writes what
    /// is queued, reads what arrived. Returns `false` if the connection is gone.
    pub fn ready(
        &mut self,
        registry: &Registry,
        token: Token,
        readable: bool,
        writable: bool,
    ) -> bool {
        let Some(i) = token.0.checked_sub(self.first_token) else {
            return false;
        };
        let Some(conn) = self.slots.get_mut(i).and_then(Option::as_mut) else {
            return false;
        };
        if writable && conn.connecting {
            match (conn.stream.take_error(), conn.stream.peer_addr()) {
                (Ok(None), Ok(_)) => {
                    conn.connecting = false;
                    if let Ok(local) = conn.stream.local_addr() {
                        conn.local = local;
                    }
                }
                (Ok(None), Err(e)) if e.kind() == io::ErrorKind::NotConnected => return true,
                _ => {
                    tracing::debug!(peer = %conn.peer, "TCP connect failed");
                    self.close(registry, i);
                    return false;
                }
            }
        }
        if writable && conn.flush().is_err() {
            self.close(registry, i);
            return false;
        }
        if readable {
            if let ReadOutcome::Closed = conn.read() {
                // The caller frames what was read before the close, then closes.
                return false;
            }
        }
        true
    }

    /// Closes the connection at index `i`.
    fn close(&mut self, registry: &Registry, i: usize) {
        if let Some(mut conn) = self.slots.get_mut(i).and_then(Option::take) {
            let _ = registry.deregister(&mut conn.stream);
            self.by_peer.remove(&conn.peer);
            self.free.push(i);
            tracing::debug!(peer = %conn.peer, "TCP connection closed");
        }
    }

    /// Closes the connection with `token`.
    pub fn close_token(&mut self, registry: &Registry, token: Token) {
        if let Some(i) = token.0.checked_sub(self.first_token) {
            self.close(registry, i);
        }
    }

    /// Closes connections idle for longer than the idle time with nothing left to write.
    pub fn close_idle(&mut self, registry: &Registry) {
        let now = WallInstant::now();
        let idle: Vec<usize> = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                let c = c.as_ref()?;
                let quiet = now.duration_since(c.last_active) > self.idle;
                (quiet && c.written >= c.output.len()).then_some(i)
            })
            .collect();
        for i in idle {
            self.close(registry, i);
        }
    }
}
