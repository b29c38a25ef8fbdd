//! DNS off the event loop's thread: the loop hands over the core's [`DnsQuery`]s (RFC 3263:
//! NAPTR, SRV, A, AAAA), a resolver thread looks them up with hickory-resolver on a small
//! current-thread tokio runtime (each lookup its own task, so a slow name holds up no
//! other), and the records come back through a channel with a wake-up of the loop.

use std::net::SocketAddr;
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;

use mio::Waker;
use sipwire_core::dns::DnsQuery;
use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};

use crate::dns::{Dns, RecordSet};

/// The resolver thread's two ends.
pub(crate) struct Resolver {
    queries: UnboundedSender<DnsQuery>,
    answers: Receiver<(u32, RecordSet)>,
}

impl Resolver {
    /// Starts the resolver thread, asking `servers` (none: the system's configuration); it
    /// wakes `waker` after each answer.
    pub fn start(waker: Arc<Waker>, servers: &[SocketAddr]) -> std::io::Result<Resolver> {
        let (queries, mut query_rx) = unbounded_channel::<DnsQuery>();
        let (answer_tx, answers) = mpsc::channel();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let servers = servers.to_vec();
        std::thread::Builder::new()
            .name("sipwire-resolver".into())
            .spawn(move || {
                runtime.block_on(async move {
                    // A resolver that cannot be made (no system configuration) fails every
                    // lookup, so each branch waiting for one fails rather than hangs.
                    let dns = Dns::from_servers(&servers)
                        .map_err(|e| tracing::warn!("DNS: the system's configuration: {e}"))
                        .ok();
                    while let Some(q) = query_rx.recv().await {
                        let (dns, answer_tx, waker) =
                            (dns.clone(), answer_tx.clone(), waker.clone());
                        tokio::spawn(async move {
                            let records = match &dns {
                                Some(d) => d.lookup(&q).await,
                                None => RecordSet::Failed,
                            };
                            tracing::debug!(
                                name = q.name(),
                                kind = q.kind.as_str(),
                                ?records,
                                "DNS"
                            );
                            if answer_tx.send((q.id, records)).is_ok() {
                                let _ = waker.wake();
                            }
                        });
                    }
                });
            })?;
        Ok(Resolver { queries, answers })
    }

    /// Asks a query.
    pub fn ask(&self, query: DnsQuery) {
        let _ = self.queries.send(query);
    }

    /// An answer, if one has come.
    pub fn answer(&self) -> Option<(u32, RecordSet)> {
        self.answers.try_recv().ok()
    }
}
