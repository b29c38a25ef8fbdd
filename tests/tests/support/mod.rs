//! What the interop tests share: finding a peer, a scratch directory, asking a server for
//! OPTIONS, the server that `sipwire serve` runs (in-process, stopped when dropped), and
//! peer processes stopped as a group when dropped. The `sipwire` command's baresip test (adapters/cli/tests) uses it
//! too, with the command itself as the server.

#![allow(dead_code)]

use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use sipwire_mio::{Server, ServerConfig, Stopper};

/// Whether `tool` is installed; under CI a missing tool is a failure.
pub fn have(tool: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(std::env::var_os("CI").is_none(), "{tool} is not installed");
        eprintln!("skipped: {tool} is not installed");
    }
    found
}

/// Sends OPTIONS to `to` until a response comes (or 10 s pass); returns it: how a test
/// knows a server it started is ready.
pub fn options(to: &str) -> Option<String> {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let me = socket.local_addr().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = [0u8; 4096];
    let mut n = 0;
    while Instant::now() < deadline {
        n += 1;
        let request = format!(
            "OPTIONS sip:{to} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bK-cli-{n}\r\n\
             Max-Forwards: 70\r\nFrom: <sip:test@{me}>;tag=t{n}\r\nTo: <sip:{to}>\r\n\
             Call-ID: cli-{n}@{me}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        );
        socket.send_to(request.as_bytes(), to).unwrap();
        if let Ok((len, _)) = socket.recv_from(&mut buf) {
            return Some(String::from_utf8_lossy(&buf[..len]).into_owned());
        }
    }
    None
}

/// A scratch directory for one test's peer files.
pub fn workdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sipwire-interop-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The server, stopped when dropped.
pub struct Running {
    stopper: Stopper,
    thread: Option<JoinHandle<std::io::Result<()>>>,
    pub addr: SocketAddr,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stopper.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

pub fn serve_with(port: u16, change: impl FnOnce(&mut ServerConfig)) -> Running {
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let mut config = ServerConfig {
        udp: vec![addr],
        tcp: vec![addr],
        transactions: 65_536,
        contexts: 4096,
        bindings: 10_000,
        ..ServerConfig::default()
    };
    change(&mut config);
    let server = Server::bind(&config).expect("bind the server");
    let stopper = server.stopper();
    let thread = std::thread::spawn(move || server.run());
    Running {
        stopper,
        thread: Some(thread),
        addr,
    }
}

pub fn serve(port: u16) -> Running {
    serve_with(port, |_| {})
}

/// A peer process, killed when dropped.
pub struct Peer(pub Child);

impl Drop for Peer {
    /// SIGTERM to the peer's whole process group (it was started as a group leader, so
    /// Kamailio's children are in it), then SIGKILL to the group for whatever is left after
    /// two seconds: no peer outlives its test and holds a port.
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let signal = |sig: &str| {
            let _ = Command::new("kill")
                .args([sig, "--", &group])
                .stderr(Stdio::null())
                .status();
        };
        signal("-TERM");
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        signal("-KILL");
        let _ = self.0.wait();
    }
}
