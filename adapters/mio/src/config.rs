//! What a server is told: where to listen, which domains are its own, how to proxy, and its
//! capacities and timers. [`ServerConfig::default`] is the embedded default that
//! `sipwire serve` starts with.

use std::net::SocketAddr;
use std::time::Duration;

use sipwire_core::transaction::TimerConfig;

/// How requests that are not REGISTERs are handled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// A transaction-stateful proxy (RFC 3261 §16.2–16.10): 100 Trying, forking, CANCEL,
    /// the best final response.
    #[default]
    Stateful,
    /// A stateless proxy (§16.11): each request forwarded to one target, no transaction.
    Stateless,
    /// A redirect server (§8.3): a 3xx listing the contacts the location service holds.
    Redirect,
}

/// Server settings. Capacities bound memory: when a table is full the server answers 503
/// (or refuses the TCP connection) and nothing grows.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// UDP addresses to listen on.
    pub udp: Vec<SocketAddr>,
    /// TCP addresses to listen on.
    pub tcp: Vec<SocketAddr>,
    /// The address the server names itself by in Via and Record-Route, when that is not
    /// the first listen address (a wildcard listen address, or behind NAT).
    pub advertise: Option<SocketAddr>,
    /// The domains this server is registrar and proxy for (its own addresses count too).
    pub domains: Vec<String>,
    /// Stateful, stateless or redirect.
    pub mode: Mode,
    /// Whether the proxy inserts Record-Route (§16.6 step 4).
    pub record_route: bool,
    /// Host names known without DNS (other domains' proxies, say): looked up before DNS.
    pub hosts: Vec<(String, SocketAddr)>,
    /// The DNS servers asked for next hops (RFC 3263: NAPTR, SRV, A/AAAA), over UDP; empty:
    /// the system's configuration (`/etc/resolv.conf`).
    pub dns_servers: Vec<SocketAddr>,
    /// Next hops being resolved at once, with the targets each fails over to (RFC 3263
    /// §4.3; per worker; about a kilobyte each). A full table answers 503; none turns DNS
    /// off (only addresses and [`hosts`](Self::hosts) are reached).
    pub resolutions: usize,
    /// Concurrent transactions (per worker).
    pub transactions: usize,
    /// Message regions of `max_message` bytes shared by the transactions (per worker):
    /// `None` is two per transaction, which never refuses a transaction the table could
    /// take; fewer trade that for memory (a proxy's transactions hold one or none in the
    /// states that last longest).
    pub regions: Option<usize>,
    /// Concurrent proxied requests (response contexts, §16.7; per worker).
    pub contexts: usize,
    /// Registered bindings, in all.
    pub bindings: usize,
    /// The largest message taken, in bytes.
    pub max_message: usize,
    /// Open TCP connections, in all directions (per worker).
    pub tcp_connections: usize,
    /// A TCP connection with no traffic for this long is closed.
    pub tcp_idle: Duration,
    /// UDP datagrams read with one system call, and most sent with one per socket
    /// (`recvmmsg` / `sendmmsg` on Linux; elsewhere one call per datagram in the same
    /// batches). Each worker keeps this many 64 KiB receive buffers (reserved, resident as
    /// datagrams fill them). Default 32; 1 reads and sends one datagram at a time.
    pub udp_batch: usize,
    /// T1, T2, T4 (§17).
    pub timers: TimerConfig,
    /// Timer C (§16.8): how long a proxied INVITE may stay without a final response.
    pub timer_c: Duration,
    /// Registration intervals, in seconds (§10.3 step 7).
    pub min_expires: u32,
    /// The longest interval granted.
    pub max_expires: u32,
    /// The interval of a contact that asks for none.
    pub default_expires: u32,
    /// Threads, each with its own endpoint and sockets (see the crate documentation).
    pub workers: usize,
    /// Seed of branches and tags (a fixed one makes runs repeatable).
    pub seed: u64,
}

impl Default for ServerConfig {
    /// UDP and TCP on 127.0.0.1:5060, domain `localhost`, stateful with Record-Route,
    /// RFC 3261's timers, one worker, and room for about 1,300 calls a second sustained:
    /// with RFC 3261's timers a call's four transactions live about 100 transaction-seconds
    /// in all (Timers J, L and M keep them 32 s after they end), and each transaction has
    /// two `max_message` regions of arena (reserved up front, resident as used: about
    /// 1 GiB at the default capacity when full).
    fn default() -> Self {
        let local: SocketAddr = ([127, 0, 0, 1], 5060).into();
        ServerConfig {
            udp: vec![local],
            tcp: vec![local],
            advertise: None,
            domains: vec!["localhost".to_owned()],
            mode: Mode::Stateful,
            record_route: true,
            hosts: Vec::new(),
            dns_servers: Vec::new(),
            resolutions: 256,
            transactions: 131_072,
            regions: None,
            contexts: 4_096,
            bindings: 100_000,
            max_message: 4_096,
            tcp_connections: 1_024,
            tcp_idle: Duration::from_secs(120),
            udp_batch: crate::udp::DEFAULT_BATCH,
            timers: TimerConfig::default(),
            timer_c: Duration::from_secs(180),
            min_expires: 60,
            max_expires: 7_200,
            default_expires: 3_600,
            workers: 1,
            seed: 0,
        }
    }
}

/// Why a [`ServerConfig`] cannot be served.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The setting at fault, as the configuration file names it.
    pub key: &'static str,
    /// What is wrong, and what would be right.
    pub problem: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}`: {}", self.key, self.problem)
    }
}

impl std::error::Error for ConfigError {}

impl ServerConfig {
    /// The address the server names itself by (Via sent-by, Record-Route):
    /// [`advertise`](Self::advertise), else the first UDP address, else the first TCP one.
    pub fn primary(&self) -> Option<SocketAddr> {
        self.advertise
            .or(self.udp.first().or(self.tcp.first()).copied())
    }

    /// Checks the settings that would make a server that cannot work.
    pub fn check(&self) -> Result<(), ConfigError> {
        let err = |key, problem: &str| {
            Err(ConfigError {
                key,
                problem: problem.to_owned(),
            })
        };
        if self.primary().is_none() {
            return err(
                "listen",
                "no address to listen on: give at least one udp or tcp address",
            );
        }
        if self.primary().is_some_and(|a| a.ip().is_unspecified()) {
            return err(
                "advertise",
                "the server listens on a wildcard address, which cannot name it in Via and \
                 Record-Route: set advertise = \"IP:port\" (the address peers reach it at)",
            );
        }
        if self.transactions == 0 {
            return err("capacity.transactions", "must be at least 1");
        }
        if self.regions.is_some_and(|r| r < 4) {
            return err("capacity.regions", "must be at least 4");
        }
        if self.contexts == 0 {
            return err("capacity.contexts", "must be at least 1");
        }
        if self.bindings == 0 {
            return err("capacity.bindings", "must be at least 1");
        }
        if !(1024..=65_535).contains(&self.max_message) {
            return err(
                "capacity.max_message",
                "must be between 1024 and 65535 bytes",
            );
        }
        if !(1..=1024).contains(&self.udp_batch) {
            return err("capacity.udp_batch", "must be between 1 and 1024 datagrams");
        }
        if self.timers.t1.is_zero() || self.timers.t2 < self.timers.t1 {
            return err("timers.t1", "T1 must be above zero and no more than T2");
        }
        if self.timer_c < Duration::from_secs(1) {
            return err(
                "timers.timer_c",
                "must be at least 1 s (RFC 3261 asks for more than 3 minutes)",
            );
        }
        if self.min_expires > self.max_expires {
            return err(
                "registrar.min_expires",
                "must not exceed registrar.max_expires",
            );
        }
        if self.workers == 0 || self.workers > 64 {
            return err("workers", "must be between 1 and 64");
        }
        Ok(())
    }
}
