//! Interop with real SIP peers on loopback: SIPp (calls and registrations), sipsak
//! (OPTIONS) and Kamailio (as the next or the previous proxy), through the server that
//! `sipwire serve` runs (started in-process on its own ports, one set per test).
//!
//! The peers come from Debian packages (`sip-tester`, `sipsak`, `kamailio`; `.ci/run`
//! installs them). Without them a test says so and passes, except under CI (`CI` set),
//! where a missing peer fails it.

use std::net::{SocketAddr, UdpSocket};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use sipwire_mio::Mode;

mod support;
use support::{have, options, serve, serve_with, workdir, Peer};

const SCENARIOS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/interop/sipp");
const KAMAILIO_CFG: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../bench/kamailio/kamailio.cfg"
);

fn scenario(name: &str) -> String {
    format!("{SCENARIOS}/{name}")
}

/// The end of a SIPp run: its exit code and its final screen.
struct SippRun {
    code: Option<i32>,
    screen: String,
    errors: String,
}

impl SippRun {
    /// The cumulative value of a counter line of the screen ("Successful call", ...).
    fn counter(&self, name: &str) -> u64 {
        self.screen
            .lines()
            .filter(|l| l.trim_start().starts_with(name))
            .filter_map(|l| l.split('|').nth(2)?.trim().parse().ok())
            .next_back()
            .unwrap_or(0)
    }

    fn assert_all_succeeded(&self, calls: u64) {
        assert_eq!(
            (
                self.code,
                self.counter("Successful call"),
                self.counter("Failed call")
            ),
            (Some(0), calls, 0),
            "SIPp screen:\n{}\nerrors:\n{}",
            self.screen,
            &self.errors[..self.errors.len().min(4000)]
        );
    }
}

fn sipp_command(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new("sipp");
    c.process_group(0)
        .current_dir(dir)
        .args(args)
        .args([
            "-nostdin",
            "-trace_screen",
            "-trace_err",
            "-timeout",
            "90s",
            "-timeout_error",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c
}

/// Runs SIPp to its end (bounded by its own 90 s timeout).
fn sipp(dir: &Path, args: &[&str]) -> SippRun {
    for f in std::fs::read_dir(dir).unwrap().flatten() {
        let name = f.file_name().to_string_lossy().into_owned();
        if name.ends_with("_screen.log") || name.ends_with("_errors.log") {
            let _ = std::fs::remove_file(f.path());
        }
    }
    let status = sipp_command(dir, args).status().expect("run sipp");
    let read = |suffix: &str| {
        std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .filter(|f| f.file_name().to_string_lossy().ends_with(suffix))
            .map(|f| std::fs::read_to_string(f.path()).unwrap_or_default())
            .collect::<String>()
    };
    SippRun {
        code: status.code(),
        screen: read("_screen.log"),
        errors: read("_errors.log"),
    }
}

/// Starts a SIPp UAS in the background.
fn sipp_uas(dir: &Path, args: &[&str]) -> Peer {
    let child = sipp_command(dir, args).spawn().expect("start sipp uas");
    std::thread::sleep(Duration::from_millis(300));
    Peer(child)
}

/// An injection file for SIPp.
fn csv(dir: &Path, name: &str, rows: impl IntoIterator<Item = String>) -> String {
    let mut text = String::from("SEQUENTIAL\n");
    for r in rows {
        text.push_str(&r);
        text.push('\n');
    }
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

/// Runs `calls` calls with the route-set-keeping UAC (uac_rr.xml) through `via` to the
/// callees of the injection file, over SIPp transport `transport` (`u1`, `t1`), at `rate`
/// a second (at most 200 at once), from `port`; every one must succeed.
fn calls(
    dir: &Path,
    via: SocketAddr,
    callees: &str,
    transport: &str,
    calls: u64,
    rate: u32,
    port: &str,
) {
    let run = sipp(
        dir,
        &[
            &via.to_string(),
            "-sf",
            &scenario("uac_rr.xml"),
            "-inf",
            callees,
            "-t",
            transport,
            "-m",
            &calls.to_string(),
            "-r",
            &rate.to_string(),
            "-l",
            "200",
            "-p",
            port,
        ],
    );
    run.assert_all_succeeded(calls);
}

/// Registers `user` at `registrar` with the contact `contact` (host:port), by SIPp.
fn register(dir: &Path, registrar: SocketAddr, user: &str, contact: &str, local_port: u16) {
    let users = csv(dir, "register.csv", [format!("{user};{contact};")]);
    let run = sipp(
        dir,
        &[
            &registrar.to_string(),
            "-sf",
            &scenario("register.xml"),
            "-inf",
            &users,
            "-m",
            "1",
            "-p",
            &local_port.to_string(),
        ],
    );
    run.assert_all_succeeded(1);
}

#[test]
fn sipsak_options_is_answered_over_udp_and_tcp() {
    if !have("sipsak") {
        return;
    }
    // sipsak keeps four digits of a port: a four-digit one.
    let server = serve(7_060);
    for transport in ["udp", "tcp"] {
        let out = Command::new("sipsak")
            .args([
                "-s",
                &format!("sip:{}", server.addr),
                "--transport",
                transport,
                "-vv",
            ])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{transport}: {text}");
        assert!(text.contains("SIP/2.0 200 OK"), "{text}");
        assert!(
            text.contains("Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER"),
            "{text}"
        );
    }
}

/// The issue's first test: SIPp's built-in `uac` and `uas` scenarios, the uas registered
/// first, 1,000 calls through the record-routing proxy. The stock scenarios ignore
/// Record-Route, so the ACK and BYE reach the proxy with the callee's address-of-record as
/// Request-URI and no Route: the proxy finds the callee by the location service again.
#[test]
fn sipp_builtin_uac_to_uas_1000_calls() {
    if !have("sipp") {
        return;
    }
    let dir = workdir("builtin");
    let server = serve(25_160);
    register(&dir, server.addr, "service", "127.0.0.1:25170", 25_190);
    let _uas = sipp_uas(&dir, &["-sn", "uas", "-p", "25170"]);
    let run = sipp(
        &dir,
        &[
            &server.addr.to_string(),
            "-sn",
            "uac",
            "-s",
            "service",
            "-m",
            "1000",
            "-r",
            "250",
            "-l",
            "200",
            "-p",
            "25180",
        ],
    );
    run.assert_all_succeeded(1000);
    assert!(run.screen.contains("Unexpected-Msg"));
}

/// Calls whose ACK and BYE follow the route set (scenarios that keep Record-Route), over
/// UDP and with the caller on TCP.
#[test]
fn sipp_calls_keep_the_route_set_over_udp_and_tcp() {
    if !have("sipp") {
        return;
    }
    let dir = workdir("routeset");
    let server = serve(25_260);
    register(&dir, server.addr, "bob", "127.0.0.1:25270", 25_290);
    let _uas = sipp_uas(&dir, &["-sf", &scenario("uas_rr.xml"), "-p", "25270"]);
    let callee = csv(&dir, "callee.csv", [format!("bob;{};", server.addr)]);
    for (transport, port) in [("u1", "25280"), ("t1", "25281")] {
        calls(&dir, server.addr, &callee, transport, 200, 100, port);
    }
}

/// 1,000 distinct users register, then each is called by its address-of-record and found
/// by lookup.
#[test]
fn sipp_registers_1000_users_then_calls_each() {
    if !have("sipp") {
        return;
    }
    let dir = workdir("users");
    let server = serve(25_360);
    let users: Vec<String> = (0..1000).map(|i| format!("user{i:04}")).collect();
    let reg = csv(
        &dir,
        "users.csv",
        users.iter().map(|u| format!("{u};127.0.0.1:25370;")),
    );
    let run = sipp(
        &dir,
        &[
            &server.addr.to_string(),
            "-sf",
            &scenario("register.xml"),
            "-inf",
            &reg,
            "-m",
            "1000",
            "-r",
            "500",
            "-p",
            "25390",
        ],
    );
    run.assert_all_succeeded(1000);
    let _uas = sipp_uas(&dir, &["-sf", &scenario("uas_rr.xml"), "-p", "25370"]);
    let callees = csv(
        &dir,
        "callees.csv",
        users.iter().map(|u| format!("{u};{};", server.addr)),
    );
    calls(&dir, server.addr, &callees, "u1", 1000, 250, "25380");
}

/// The stateless mode: the same calls, each request forwarded without a transaction.
#[test]
fn sipp_calls_through_the_stateless_proxy() {
    if !have("sipp") {
        return;
    }
    let dir = workdir("stateless");
    let server = serve_with(25_460, |c| c.mode = Mode::Stateless);
    register(&dir, server.addr, "bob", "127.0.0.1:25470", 25_490);
    let _uas = sipp_uas(&dir, &["-sf", &scenario("uas_rr.xml"), "-p", "25470"]);
    let callee = csv(&dir, "callee.csv", [format!("bob;{};", server.addr)]);
    calls(&dir, server.addr, &callee, "u1", 200, 100, "25480");
}

/// Redirect mode answers an INVITE with 302 and the registered contact (§8.3).
#[test]
fn redirect_mode_answers_302_with_the_binding() {
    if !have("sipp") {
        return;
    }
    let dir = workdir("redirect");
    let server = serve_with(25_560, |c| c.mode = Mode::Redirect);
    register(&dir, server.addr, "bob", "127.0.0.1:25570", 25_590);
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let me = socket.local_addr().unwrap();
    let invite = format!(
        "INVITE sip:bob@{a} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bK-redirect-1\r\n\
         Max-Forwards: 70\r\nFrom: <sip:alice@{me}>;tag=a1\r\nTo: <sip:bob@{a}>\r\n\
         Call-ID: redirect-1@{me}\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@{me}>\r\n\
         Content-Length: 0\r\n\r\n",
        a = server.addr
    );
    socket.send_to(invite.as_bytes(), server.addr).unwrap();
    let mut buf = [0u8; 4096];
    let (n, _) = socket.recv_from(&mut buf).unwrap();
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(text.starts_with("SIP/2.0 302 "), "{text}");
    assert!(text.contains("<sip:bob@127.0.0.1:25570>"), "{text}");
}

/// A Kamailio instance on `port`, stopped when dropped.
fn kamailio(dir: &Path, port: u16) -> Peer {
    let listen = format!("127.0.0.1:{port}");
    let peer = Peer(
        Command::new("kamailio")
            .process_group(0)
            .args([
                "-f",
                KAMAILIO_CFG,
                "-DD",
                "-E",
                "-x",
                "tlsf",
                "-X",
                "tlsf",
                "-m",
                "64",
                "-M",
                "8",
                "-n",
                "1",
                // No control socket: its path is fixed, and tests run Kamailios side by side.
                "-A",
                "NO_CTL",
            ])
            .args([
                "-l",
                &format!("udp:{listen}"),
                "-l",
                &format!("tcp:{listen}"),
            ])
            .args([
                "-Y",
                &dir.to_string_lossy(),
                "-P",
                &dir.join("kamailio.pid").to_string_lossy(),
            ])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("kamailio.log")).unwrap())
            .spawn()
            .expect("start kamailio"),
    );
    // Ready when it answers OPTIONS.
    if options(&listen).is_some() {
        return peer;
    }
    panic!(
        "kamailio did not start: {}",
        std::fs::read_to_string(dir.join("kamailio.log")).unwrap_or_default()
    );
}

/// SIPp → sipwire → Kamailio → SIPp uas: the callee is registered with Kamailio; sipwire
/// relays to it as another server's user (its address, another port).
#[test]
fn kamailio_as_the_next_proxy() {
    if !have("sipp") || !have("kamailio") {
        return;
    }
    let dir = workdir("kamailio-next");
    let server = serve(25_660);
    let kamailio_addr: SocketAddr = ([127, 0, 0, 1], 25_665).into();
    let _kamailio = kamailio(&dir, 25_665);
    register(&dir, kamailio_addr, "bob", "127.0.0.1:25670", 25_690);
    let _uas = sipp_uas(&dir, &["-sf", &scenario("uas_rr.xml"), "-p", "25670"]);
    let callee = csv(&dir, "callee.csv", [format!("bob;{kamailio_addr};")]);
    calls(&dir, server.addr, &callee, "u1", 200, 100, "25680");
}

/// SIPp → Kamailio → sipwire → SIPp uas: the callee is registered with sipwire.
#[test]
fn kamailio_as_the_previous_proxy() {
    if !have("sipp") || !have("kamailio") {
        return;
    }
    let dir = workdir("kamailio-previous");
    let server = serve(25_760);
    let kamailio_addr: SocketAddr = ([127, 0, 0, 1], 25_765).into();
    let _kamailio = kamailio(&dir, 25_765);
    register(&dir, server.addr, "bob", "127.0.0.1:25770", 25_790);
    let _uas = sipp_uas(&dir, &["-sf", &scenario("uas_rr.xml"), "-p", "25770"]);
    let callee = csv(&dir, "callee.csv", [format!("bob;{};", server.addr)]);
    calls(&dir, kamailio_addr, &callee, "u1", 200, 100, "25780");
}

/// Two workers (threads) share the load: a call's messages go to the worker its Call-ID
/// hashes to, whichever socket read them; TCP stays with worker 0. The same calls as
/// above, over UDP and with the caller on TCP.
#[test]
fn sipp_calls_through_two_workers() {
    if !have("sipp") {
        return;
    }
    let dir = workdir("workers");
    let server = serve_with(25_860, |c| c.workers = 2);
    register(&dir, server.addr, "bob", "127.0.0.1:25870", 25_890);
    let _uas = sipp_uas(&dir, &["-sf", &scenario("uas_rr.xml"), "-p", "25870"]);
    let callee = csv(&dir, "callee.csv", [format!("bob;{};", server.addr)]);
    calls(&dir, server.addr, &callee, "u1", 1000, 250, "25880");
    calls(&dir, server.addr, &callee, "t1", 200, 250, "25885");
}
