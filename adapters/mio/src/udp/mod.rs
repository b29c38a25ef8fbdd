//! UDP datagrams in batches, to cut the system calls per SIP message.
//!
//! Each worker reads up to [`ServerConfig::udp_batch`](crate::ServerConfig::udp_batch)
//! datagrams at a time into buffers allocated once ([`Inbox`]), hands each to the element,
//! queues the datagrams the element sends meanwhile ([`Outbox`]) and writes them together,
//! one call per socket. On Linux a batch is one `recvmmsg(2)` and one `sendmmsg(2)` per
//! socket; elsewhere the same batches are read and written with one `recv_from` /
//! `send_to` per datagram.
//!
//! Nothing here grows without bound: the inbox holds `udp_batch` buffers of the largest
//! datagram, and the outbox is written out when it holds `udp_batch` datagrams.

mod inbox;
mod outbox;

pub(crate) use inbox::Inbox;
pub(crate) use outbox::Outbox;

/// The largest UDP datagram, and the size of each receive buffer.
pub(crate) const DATAGRAM: usize = 65_535;

/// The default of [`ServerConfig::udp_batch`](crate::ServerConfig::udp_batch).
pub(crate) const DEFAULT_BATCH: usize = 32;

#[cfg(test)]
mod tests;
