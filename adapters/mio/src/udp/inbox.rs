//! Receiving: up to a batch of datagrams per read, into buffers allocated once.

use std::io;
use std::net::SocketAddr;

use mio::net::UdpSocket;

use super::DATAGRAM;

/// Receive buffers for one worker, and where the datagrams of the last read are.
pub(crate) struct Inbox {
    /// `batch` buffers of [`DATAGRAM`] bytes, back to back (one allocation: the pages of
    /// the buffers become resident only as datagrams fill them).
    buffers: Vec<u8>,
    /// Per datagram of the last read: its buffer, length and source.
    got: Vec<(usize, usize, SocketAddr)>,
    /// Whether the last read found the socket's queue empty.
    drained: bool,
    #[cfg(target_os = "linux")]
    headers: nix::sys::socket::MultiHeaders<nix::sys::socket::SockaddrStorage>,
}

impl Inbox {
    /// An inbox that reads up to `batch` datagrams at a time (at least one).
    pub(crate) fn new(batch: usize) -> Inbox {
        let batch = batch.max(1);
        Inbox {
            buffers: vec![0; batch * DATAGRAM],
            got: Vec::with_capacity(batch),
            drained: false,
            #[cfg(target_os = "linux")]
            headers: nix::sys::socket::MultiHeaders::preallocate(batch, None),
        }
    }

    /// Reads the datagrams waiting on `socket`, up to a batch; `Ok(n)` with `n` at least one,
    /// or the error of the first read (`WouldBlock` when none is waiting).
    pub(crate) fn recv(&mut self, socket: &UdpSocket) -> io::Result<usize> {
        self.got.clear();
        self.drained = false;
        self.read(socket)?;
        Ok(self.got.len())
    }

    /// Whether the last [`recv`](Self::recv) found the socket's queue empty, so that reading
    /// again would only return `WouldBlock`: datagrams that arrive later make the
    /// (edge-triggered) poll report the socket again.
    ///
    /// On Linux a batch shorter than the inbox's batch size means that: `recvmmsg` stops
    /// early only at an empty queue or at an error, and an unconnected UDP socket without
    /// `IP_RECVERR` is given no ICMP error to stop at (udp(7)). Elsewhere the batch ends at
    /// the first `WouldBlock`.
    pub(crate) fn drained(&self) -> bool {
        self.drained
    }

    /// Datagram `i` of the last read: its bytes and source.
    pub(crate) fn datagram(&self, i: usize) -> Option<(&[u8], SocketAddr)> {
        let &(buffer, len, remote) = self.got.get(i)?;
        let start = buffer * DATAGRAM;
        Some((self.buffers.get(start..start + len)?, remote))
    }

    /// One `recvmmsg(2)`.
    #[cfg(target_os = "linux")]
    fn read(&mut self, socket: &UdpSocket) -> io::Result<()> {
        use nix::sys::socket::{recvmmsg, MsgFlags};
        use std::io::IoSliceMut;
        use std::os::fd::AsRawFd;

        let batch = self.buffers.len() / DATAGRAM;
        let Inbox {
            buffers,
            got,
            drained,
            headers,
        } = self;
        let mut slices: Vec<[IoSliceMut<'_>; 1]> = buffers
            .chunks_exact_mut(DATAGRAM)
            .map(|b| [IoSliceMut::new(b)])
            .collect();
        let read = recvmmsg(
            socket.as_raw_fd(),
            headers,
            slices.iter_mut(),
            MsgFlags::empty(),
            None,
        )?;
        let mut n = 0;
        for (i, m) in read.enumerate() {
            n += 1;
            // Every UDP datagram has a source; one of another family would be skipped.
            if let Some(remote) = m.address.as_ref().and_then(to_std) {
                got.push((i, m.bytes, remote));
            }
        }
        *drained = n < batch;
        Ok(())
    }

    /// `recv_from` until the batch is full or the socket would block.
    #[cfg(not(target_os = "linux"))]
    fn read(&mut self, socket: &UdpSocket) -> io::Result<()> {
        for (i, buffer) in self.buffers.chunks_exact_mut(DATAGRAM).enumerate() {
            match socket.recv_from(buffer) {
                Ok((n, remote)) => self.got.push((i, n, remote)),
                Err(e) if self.got.is_empty() => return Err(e),
                Err(e) => {
                    // The datagrams read so far are handed on; any other error comes back
                    // on the next read.
                    self.drained = e.kind() == io::ErrorKind::WouldBlock;
                    break;
                }
            }
        }
        Ok(())
    }
}

/// A socket address from the kernel as the standard library's.
#[cfg(target_os = "linux")]
pub(super) fn to_std(a: &nix::sys::socket::SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = a.as_sockaddr_in() {
        return Some(std::net::SocketAddrV4::from(*v4).into());
    }
    a.as_sockaddr_in6()
        .map(|v6| std::net::SocketAddrV6::from(*v6).into())
}
