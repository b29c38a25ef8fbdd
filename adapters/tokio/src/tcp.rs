//! TCP for the user agent and the server (RFC 3261 §18): one connection per peer address,
//! opened when a message must go to a peer that has none and accepted from peers; each has a task reading
//! it, framing messages by Content-Length (§18.3, the core's [`StreamBuffer`]), and a task
//! writing what the core transmits. Responses go back on the request's connection
//! (§18.2.2): the core addresses them to the request's source, which is that connection.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use sipwire_core::endpoint::TransactionId;
use sipwire_core::transport::{Frame, StreamBuffer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tracing::debug;

/// How long connecting to a peer may take before its messages count as not sent.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// What the connections tell the task that owns them.
pub(crate) enum StreamInput {
    /// One whole message (or the bytes of a stream that cannot be framed, for the core to
    /// answer 400 if it can, §18.3; the connection is then closed).
    Received { remote: SocketAddr, bytes: Vec<u8> },
    /// These transactions' messages could not be sent (§18.4 / §17.1.4).
    Failed { txs: Vec<TransactionId> },
    /// The connection to `remote` is gone.
    Closed { remote: SocketAddr, id: u64 },
}

/// A message to write, and the transaction to blame if it cannot be.
type Outgoing = (Vec<u8>, Option<TransactionId>);

struct Connection {
    id: u64,
    writer: mpsc::UnboundedSender<Outgoing>,
}

/// How many reports (messages read, failures) may wait for the owning task; a reader
/// that finds the queue full waits, so a peer that sends faster than the task handles is
/// slowed by TCP's own flow control instead of growing memory.
pub(crate) const STREAM_QUEUE: usize = 1024;

/// TCP connections, by peer address.
pub(crate) struct Connections {
    max_message: usize,
    by_peer: HashMap<SocketAddr, Connection>,
    events: mpsc::Sender<StreamInput>,
    next_id: u64,
}

impl Connections {
    pub(crate) fn new(max_message: usize, events: mpsc::Sender<StreamInput>) -> Self {
        Connections {
            max_message,
            by_peer: HashMap::new(),
            events,
            next_id: 0,
        }
    }

    /// A peer connected to us.
    pub(crate) fn accepted(&mut self, stream: TcpStream, remote: SocketAddr) {
        let (read, write) = stream.into_split();
        self.start(remote, Some(read), Some(write));
    }

    /// Sends `bytes` to `remote`, on its connection or a new one.
    pub(crate) fn send(&mut self, remote: SocketAddr, bytes: &[u8], tx: Option<TransactionId>) {
        if let Some(c) = self.by_peer.get(&remote) {
            if c.writer.send((bytes.to_vec(), tx)).is_ok() {
                return;
            }
        }
        let writer = self.start(remote, None, None);
        let _ = writer.send((bytes.to_vec(), tx));
    }

    /// The connection `id` to `remote` has closed (a newer one to the same peer stays).
    pub(crate) fn closed(&mut self, remote: SocketAddr, id: u64) {
        if self.by_peer.get(&remote).is_some_and(|c| c.id == id) {
            self.by_peer.remove(&remote);
        }
    }

    /// Starts the tasks of a connection (to be opened when `read`/`write` are `None`).
    fn start(
        &mut self,
        remote: SocketAddr,
        read: Option<OwnedReadHalf>,
        write: Option<OwnedWriteHalf>,
    ) -> mpsc::UnboundedSender<Outgoing> {
        self.next_id += 1;
        let id = self.next_id;
        let (writer, queue) = mpsc::unbounded_channel();
        self.by_peer.insert(
            remote,
            Connection {
                id,
                writer: writer.clone(),
            },
        );
        let events = self.events.clone();
        let max = self.max_message;
        let pong = writer.clone();
        tokio::spawn(async move {
            let (read, write) = match (read, write) {
                (Some(r), Some(w)) => (r, w),
                _ => {
                    match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(remote)).await {
                        Ok(Ok(s)) => s.into_split(),
                        failed => {
                            debug!("connect to {remote}: {failed:?}");
                            fail_queue(queue, &events).await;
                            let _ = events.send(StreamInput::Closed { remote, id }).await;
                            return;
                        }
                    }
                }
            };
            // The connection ends when either side does: the peer closes (or sends what
            // cannot be framed), or a write fails.
            tokio::select! {
                () = read_messages(read, remote, max, pong, events.clone()) => {}
                () = write_messages(write, queue, &events) => {}
            }
            let _ = events.send(StreamInput::Closed { remote, id }).await;
        });
        writer
    }
}

/// Reports every queued message's transaction as failed.
async fn fail_queue(
    mut queue: mpsc::UnboundedReceiver<Outgoing>,
    events: &mpsc::Sender<StreamInput>,
) {
    queue.close();
    let mut txs = Vec::new();
    while let Some((_, tx)) = queue.recv().await {
        txs.extend(tx);
    }
    let _ = events.send(StreamInput::Failed { txs }).await;
}

/// Writes queued messages until the queue closes or a write fails (then the rest fail).
async fn write_messages(
    mut write: OwnedWriteHalf,
    mut queue: mpsc::UnboundedReceiver<Outgoing>,
    events: &mpsc::Sender<StreamInput>,
) {
    while let Some((bytes, tx)) = queue.recv().await {
        if let Err(e) = write.write_all(&bytes).await {
            debug!("write: {e}");
            let _ = events
                .send(StreamInput::Failed {
                    txs: tx.into_iter().collect(),
                })
                .await;
            fail_queue(queue, events).await;
            return;
        }
    }
}

/// Reads and frames messages until the peer closes, the stream cannot be framed, or the
/// writer is gone; answers keep-alive pings (RFC 5626 §4.4.1).
async fn read_messages(
    mut read: OwnedReadHalf,
    remote: SocketAddr,
    max_message: usize,
    writer: mpsc::UnboundedSender<Outgoing>,
    events: mpsc::Sender<StreamInput>,
) {
    let mut input = StreamBuffer::new(vec![0u8; max_message]).max_message_size(max_message);
    loop {
        loop {
            match input.frame() {
                Frame::Message { len } => {
                    let bytes = input.bytes()[..len].to_vec();
                    input.consume(len);
                    let _ = events.send(StreamInput::Received { remote, bytes }).await;
                }
                Frame::Ping { len } => {
                    input.consume(len);
                    let _ = writer.send((b"\r\n".to_vec(), None));
                }
                Frame::Pong { len } => input.consume(len),
                Frame::Partial => break,
                Frame::Error(e) => {
                    debug!("{remote}: stream cannot be framed: {e}");
                    let bytes = input.bytes().to_vec();
                    let _ = events.send(StreamInput::Received { remote, bytes }).await;
                    return;
                }
            }
        }
        let spare = input.spare_mut();
        if spare.is_empty() {
            return;
        }
        match read.read(spare).await {
            Ok(0) | Err(_) => return,
            Ok(n) => input.commit(n),
        }
    }
}
