//! Host names resolved off the event loop's thread: the loop hands over the core's
//! [`ResolveQuery`]s, a resolver thread asks the system resolver (A/AAAA), and the answers
//! come back through a channel with a wake-up of the loop. (NAPTR and SRV, RFC 3263, are
//! the tokio adapter's.)

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;

use mio::Waker;
use sipwire_core::proxy::ResolveQuery;
use sipwire_core::transport::Transport;

/// The resolver thread's two ends.
pub(crate) struct Resolver {
    queries: Sender<ResolveQuery>,
    answers: Receiver<(u32, Option<SocketAddr>)>,
}

impl Resolver {
    /// Starts the resolver thread; it wakes `waker` after each answer.
    pub fn start(waker: Arc<Waker>) -> std::io::Result<Resolver> {
        let (queries, query_rx) = mpsc::channel::<ResolveQuery>();
        let (answer_tx, answers) = mpsc::channel();
        std::thread::Builder::new()
            .name("sipwire-resolver".into())
            .spawn(move || {
                for q in query_rx {
                    let port = q.port.unwrap_or(match q.transport {
                        Transport::Tls | Transport::Wss => 5061,
                        _ => 5060,
                    });
                    let addr = (q.host(), port)
                        .to_socket_addrs()
                        .ok()
                        .and_then(|mut a| a.next());
                    tracing::debug!(host = q.host(), ?addr, "resolved");
                    if answer_tx.send((q.id, addr)).is_err() {
                        return;
                    }
                    let _ = waker.wake();
                }
            })?;
        Ok(Resolver { queries, answers })
    }

    /// Asks for a name.
    pub fn ask(&self, query: ResolveQuery) {
        let _ = self.queries.send(query);
    }

    /// An answer, if one has come.
    pub fn answer(&self) -> Option<(u32, Option<SocketAddr>)> {
        self.answers.try_recv().ok()
    }
}
