//! Interop with baresip (Debian `baresip`, run headless: no audio devices, driven over its
//! `ctrl_tcp` JSON interface) through the `sipwire serve` command, run as a process:
//!
//! - baresip registers with sipwire and calls a sipwire-tokio user agent registered there;
//! - the sipwire user agent calls baresip by its registration.
//!
//! Each call is answered, put on hold and taken off hold by each side (re-INVITEs with
//! `sendonly`, RFC 3264 §8.4), and hung up: by baresip in the first, by sipwire in the
//! second. Without baresip a test says so and passes, except under CI (`CI` set).

use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use sipwire_tokio::{CallEvent, Codec, Config, Direction, EndReason, Offer, UserAgent};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout, Instant};

// The interop tests' helpers (finding a peer, scratch directories, peer processes stopped
// as a group), shared with the workspace's tests crate.
#[path = "../../../tests/tests/support/mod.rs"]
mod support;
use support::{have, options, workdir, Peer};

/// `sipwire serve` on UDP and TCP at 127.0.0.1:`port`, stopped (with its process group)
/// when dropped; returns once it answers OPTIONS.
struct Serve {
    _process: Peer,
    addr: SocketAddr,
}

fn serve(port: u16) -> Serve {
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let process = Command::new(env!("CARGO_BIN_EXE_sipwire"))
        .args(["serve", "--listen", &addr.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("start sipwire serve");
    let process = Peer(process);
    assert!(
        options(&addr.to_string()).is_some(),
        "sipwire serve does not answer OPTIONS on {addr}"
    );
    Serve {
        _process: process,
        addr,
    }
}

const LIMIT: Duration = Duration::from_secs(10);

/// baresip's ports: SIP (it also takes the next one for TLS), control, and an RTP range.
struct Ports {
    sip: u16,
    ctrl: u16,
    rtp: u16,
}

/// A running baresip with the `bob@localhost` account, registering through `proxy`, and
/// its control connection.
struct Baresip {
    _process: Peer,
    ctrl: TcpStream,
    buffered: Vec<u8>,
    events: Vec<Value>,
}

impl Baresip {
    async fn start(dir: &Path, ports: &Ports, proxy: SocketAddr) -> Baresip {
        let config = format!(
            "poll_method epoll\n\
             sip_listen 127.0.0.1:{sip}\n\
             module_path /usr/lib/baresip/modules\n\
             module g711.so\n\
             module aubridge.so\n\
             module_app account.so\n\
             module_app ctrl_tcp.so\n\
             module_app menu.so\n\
             audio_player aubridge,nil\n\
             audio_source aubridge,nil\n\
             audio_alert aubridge,nil\n\
             ctrl_tcp_listen 127.0.0.1:{ctrl}\n\
             rtp_ports {rtp}-{rtp_end}\n",
            sip = ports.sip,
            ctrl = ports.ctrl,
            rtp = ports.rtp,
            rtp_end = ports.rtp + 99,
        );
        std::fs::write(dir.join("config"), config).unwrap();
        // Registers bob@localhost with the server (the outbound proxy) and answers calls
        // at once.
        let account =
            format!("<sip:bob@localhost>;outbound=\"sip:{proxy}\";regint=300;answermode=auto\n");
        std::fs::write(dir.join("accounts"), account).unwrap();
        let process = Command::new("baresip")
            .arg("-f")
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(dir.join("baresip.log")).unwrap())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("start baresip");
        let process = Peer(process);
        let deadline = Instant::now() + LIMIT;
        let ctrl = loop {
            match TcpStream::connect(("127.0.0.1", ports.ctrl)).await {
                Ok(s) => break s,
                Err(e) if Instant::now() > deadline => panic!("baresip's ctrl_tcp: {e}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        };
        Baresip {
            _process: process,
            ctrl,
            buffered: Vec::new(),
            events: Vec::new(),
        }
    }

    /// The next netstring from the control connection, as JSON.
    async fn read(&mut self) -> Value {
        loop {
            if let Some(colon) = self.buffered.iter().position(|&b| b == b':') {
                let len: usize = std::str::from_utf8(&self.buffered[..colon])
                    .unwrap()
                    .parse()
                    .unwrap();
                if self.buffered.len() > colon + len + 1 {
                    let body = self.buffered[colon + 1..colon + 1 + len].to_vec();
                    self.buffered.drain(..colon + len + 2);
                    return serde_json::from_slice(&body).unwrap();
                }
            }
            let mut chunk = [0u8; 4096];
            let n = self.ctrl.read(&mut chunk).await.unwrap();
            assert!(n > 0, "baresip closed its control connection");
            self.buffered.extend_from_slice(&chunk[..n]);
        }
    }

    /// Runs a command (`dial`, `hold`, `resume`, `hangup` ...), checks it was accepted and
    /// returns its output.
    async fn command(&mut self, command: &str, params: &str) -> String {
        let body = serde_json::json!({"command": command, "params": params, "token": command});
        let body = body.to_string();
        let frame = format!("{}:{body},", body.len());
        self.ctrl.write_all(frame.as_bytes()).await.unwrap();
        loop {
            let v = timeout(LIMIT, self.read()).await.expect("baresip answers");
            if v["response"] == true {
                assert_eq!(v["ok"], true, "baresip refused {command}: {v}");
                return v["data"].as_str().unwrap_or("").to_owned();
            }
            self.events.push(v);
        }
    }

    /// Waits until the account is registered (its registration may finish before the
    /// control connection opens, so this asks rather than waits for `REGISTER_OK`).
    async fn registered(&mut self) {
        let deadline = Instant::now() + LIMIT;
        while !self.command("reginfo", "").await.contains("OK") {
            assert!(Instant::now() < deadline, "baresip did not register");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits for an event of this type (`REGISTER_OK`, `CALL_ESTABLISHED` ...).
    async fn event(&mut self, kind: &str) -> Value {
        if let Some(i) = self.events.iter().position(|e| e["type"] == kind) {
            return self.events.remove(i);
        }
        loop {
            let v = timeout(LIMIT, self.read())
                .await
                .unwrap_or_else(|_| panic!("no {kind} from baresip; saw {:?}", self.events));
            if v["type"] == kind {
                return v;
            }
            self.events.push(v);
        }
    }
}

fn alice_config(proxy: SocketAddr) -> Config {
    let mut c = Config::new("alice", "localhost");
    c.outbound_proxy = Some(proxy);
    c
}

/// The next re-INVITE the peer sent, and the direction we agreed to.
async fn reinvited(call: &mut sipwire_tokio::Call) -> Direction {
    loop {
        match timeout(LIMIT, call.next_event())
            .await
            .expect("a re-INVITE")
        {
            Some(CallEvent::Reinvited { media: Some(m) }) => return m.direction,
            Some(CallEvent::Ended { reason }) => panic!("call ended: {reason:?}"),
            Some(_) => {}
            None => panic!("no more events"),
        }
    }
}

/// Holds and resumes from our side, then lets baresip do the same.
async fn hold_both_ways(call: &mut sipwire_tokio::Call, baresip: &mut Baresip) {
    let held = timeout(LIMIT, call.hold()).await.unwrap().unwrap();
    assert_eq!(held.direction, Direction::SendOnly);
    let resumed = timeout(LIMIT, call.resume()).await.unwrap().unwrap();
    assert_eq!(resumed.direction, Direction::SendRecv);
    baresip.command("hold", "").await;
    assert_eq!(reinvited(call).await, Direction::RecvOnly);
    baresip.command("resume", "").await;
    assert_eq!(reinvited(call).await, Direction::SendRecv);
}

/// `sipwire serve` on `port`; baresip registered with it as bob@localhost (SIP on
/// `port + 10`, control on `port + 15`, RTP from `rtp`); and alice's user agent, with the
/// server as its outbound proxy. `None` (the test passes) without baresip, outside CI.
async fn setup(name: &str, port: u16, rtp: u16) -> Option<(Serve, Baresip, UserAgent)> {
    if !have("baresip") {
        return None;
    }
    let server = serve(port);
    let ports = Ports {
        sip: port + 10,
        ctrl: port + 15,
        rtp,
    };
    let mut baresip = Baresip::start(&workdir(name), &ports, server.addr).await;
    baresip.registered().await;
    let alice = UserAgent::bind(alice_config(server.addr)).await.unwrap();
    Some((server, baresip, alice))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn baresip_registers_and_calls_a_sipwire_ua_then_hangs_up() {
    let Some((server, mut baresip, alice)) = setup("baresip-calls-sipwire", 25360, 26100).await
    else {
        return;
    };
    let _registration = alice.register(server.addr, 300).await.unwrap();

    baresip.command("dial", "sip:alice@localhost").await;
    let incoming = timeout(LIMIT, alice.next_incoming())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(incoming.from(), "sip:bob@localhost");
    let mut call = incoming.answer().await.unwrap();
    assert_eq!(call.media().map(|m| m.codec), Some(Codec::PCMU));
    baresip.event("CALL_ESTABLISHED").await;
    hold_both_ways(&mut call, &mut baresip).await;

    baresip.command("hangup", "").await;
    assert_eq!(
        timeout(LIMIT, call.ended()).await.unwrap(),
        EndReason::RemoteBye
    );
    baresip.event("CALL_CLOSED").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sipwire_ua_calls_baresip_by_its_registration_then_hangs_up() {
    let Some((_server, mut baresip, alice)) = setup("sipwire-calls-baresip", 25460, 26200).await
    else {
        return;
    };

    let mut call = alice.call("sip:bob@localhost", Offer::Auto).await.unwrap();
    let media = timeout(LIMIT, call.answered()).await.unwrap().unwrap();
    assert_eq!(media.codec, Codec::PCMU);
    assert!(media
        .remote_rtp
        .is_some_and(|a| (26200..26300).contains(&a.port())));
    baresip.event("CALL_ESTABLISHED").await;
    hold_both_ways(&mut call, &mut baresip).await;

    assert_eq!(
        timeout(LIMIT, call.hangup()).await.unwrap().unwrap(),
        EndReason::LocalBye
    );
    baresip.event("CALL_CLOSED").await;
}
