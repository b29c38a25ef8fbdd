//! Sending: datagrams queued while a batch is handled, then written together, one call per
//! socket, in the order they were queued.

use std::io;
use std::net::SocketAddr;

use mio::net::UdpSocket;
use sipwire_core::endpoint::TransactionId;

/// One queued datagram.
struct Queued {
    /// The socket it goes from (an index into the worker's UDP sockets).
    socket: usize,
    remote: SocketAddr,
    /// Where its bytes end in [`Outbox::bytes`] (they start where the previous one's end).
    end: usize,
    /// The transaction told when the datagram cannot be sent (§17.1.4, §17.2.4).
    tx: Option<TransactionId>,
}

/// Datagrams waiting to be sent, at most a batch of them.
pub(crate) struct Outbox {
    /// The queued datagrams' bytes, back to back.
    bytes: Vec<u8>,
    queued: Vec<Queued>,
    /// Indices into `queued`, grouped by socket for a flush (kept to reuse its memory).
    order: Vec<usize>,
    batch: usize,
    #[cfg(target_os = "linux")]
    headers: nix::sys::socket::MultiHeaders<nix::sys::socket::SockaddrStorage>,
    #[cfg(target_os = "linux")]
    addrs: Vec<Option<nix::sys::socket::SockaddrStorage>>,
}

impl Outbox {
    /// An outbox that holds up to `batch` datagrams (at least one).
    pub(crate) fn new(batch: usize) -> Outbox {
        let batch = batch.max(1);
        Outbox {
            bytes: Vec::new(),
            queued: Vec::with_capacity(batch),
            order: Vec::with_capacity(batch),
            batch,
            #[cfg(target_os = "linux")]
            headers: nix::sys::socket::MultiHeaders::preallocate(batch, None),
            #[cfg(target_os = "linux")]
            addrs: Vec::with_capacity(batch),
        }
    }

    /// Queues a datagram from socket `socket` to `remote`.
    pub(crate) fn push(
        &mut self,
        socket: usize,
        remote: SocketAddr,
        bytes: &[u8],
        tx: Option<TransactionId>,
    ) {
        self.bytes.extend_from_slice(bytes);
        self.queued.push(Queued {
            socket,
            remote,
            end: self.bytes.len(),
            tx,
        });
    }

    /// Whether the outbox holds a batch and must be flushed before more is queued.
    pub(crate) fn is_full(&self) -> bool {
        self.queued.len() >= self.batch
    }

    /// Datagrams queued and not yet sent.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.queued.len()
    }

    /// Sends everything queued and empties the outbox. A full send buffer drops the
    /// datagram, as a congested network would (the transaction layer retransmits, §17);
    /// the transactions of datagrams that failed otherwise are added to `failed`.
    pub(crate) fn flush(
        &mut self,
        sockets: &[(UdpSocket, SocketAddr)],
        failed: &mut Vec<TransactionId>,
    ) {
        if self.queued.is_empty() {
            return;
        }
        // Group by socket; the sort is stable, so each socket keeps the queue's order (and
        // so does each destination, which one socket serves).
        self.order.clear();
        self.order.extend(0..self.queued.len());
        let queued = &self.queued;
        self.order.sort_by_key(|&i| queued[i].socket);
        let mut at = 0;
        while at < self.order.len() {
            let socket = self.queued[self.order[at]].socket;
            let run = self.order[at..]
                .iter()
                .take_while(|&&i| self.queued[i].socket == socket)
                .count();
            match sockets.get(socket) {
                Some((s, _)) => self.send_run(s, at, at + run, failed),
                None => failed.extend(
                    self.order[at..at + run]
                        .iter()
                        .filter_map(|&i| self.queued[i].tx),
                ),
            }
            at += run;
        }
        self.queued.clear();
        self.bytes.clear();
    }

    /// Where the bytes of queued datagram `i` are in [`Outbox::bytes`].
    fn span(queued: &[Queued], i: usize) -> std::ops::Range<usize> {
        let start = if i == 0 { 0 } else { queued[i - 1].end };
        start..queued[i].end
    }

    /// What happened to queued datagram `i` that could not be sent.
    fn not_sent(q: &Queued, e: &io::Error, failed: &mut Vec<TransactionId>) {
        if e.kind() == io::ErrorKind::WouldBlock {
            tracing::debug!(remote = %q.remote, "UDP send buffer full: datagram dropped");
        } else {
            tracing::debug!(remote = %q.remote, error = %e, "UDP send failed");
            if let Some(tx) = q.tx {
                failed.push(tx);
            }
        }
    }

    /// Sends `order[from..to]` (all from `socket`) with `sendmmsg(2)`, a batch at a time: a
    /// partial send goes on from the first datagram not sent, and a datagram the kernel
    /// refuses is given up and the rest sent.
    #[cfg(target_os = "linux")]
    fn send_run(
        &mut self,
        socket: &UdpSocket,
        from: usize,
        to: usize,
        failed: &mut Vec<TransactionId>,
    ) {
        use nix::errno::Errno;
        use nix::sys::socket::{sendmmsg, MsgFlags, SockaddrStorage};
        use std::io::IoSlice;
        use std::os::fd::AsRawFd;

        let Outbox {
            bytes,
            queued,
            order,
            batch,
            headers,
            addrs,
        } = self;
        let mut at = from;
        while at < to {
            let chunk = &order[at..to.min(at + *batch)];
            let slices: Vec<[IoSlice<'_>; 1]> = chunk
                .iter()
                .map(|&i| [IoSlice::new(&bytes[Self::span(queued, i)])])
                .collect();
            addrs.clear();
            addrs.extend(
                chunk
                    .iter()
                    .map(|&i| Some(SockaddrStorage::from(queued[i].remote))),
            );
            match sendmmsg(
                socket.as_raw_fd(),
                headers,
                &slices,
                &addrs[..],
                [],
                MsgFlags::empty(),
            ) {
                // sendmmsg returns at least one when it returns no error.
                Ok(sent) => at += sent.count().max(1),
                Err(Errno::EINTR) => {}
                // The error is the first datagram's: it is given up, the others go on.
                Err(e) => {
                    Self::not_sent(&queued[order[at]], &io::Error::from(e), failed);
                    at += 1;
                }
            }
        }
    }

    /// Sends `order[from..to]` (all from `socket`) one `send_to` at a time.
    #[cfg(not(target_os = "linux"))]
    fn send_run(
        &mut self,
        socket: &UdpSocket,
        from: usize,
        to: usize,
        failed: &mut Vec<TransactionId>,
    ) {
        for &i in &self.order[from..to] {
            let q = &self.queued[i];
            let range = Self::span(&self.queued, i);
            loop {
                match socket.send_to(&self.bytes[range.clone()], q.remote) {
                    Ok(_) => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        Self::not_sent(q, &e, failed);
                        break;
                    }
                }
            }
        }
    }
}
