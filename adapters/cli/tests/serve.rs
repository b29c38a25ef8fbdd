//! The `sipwire` binary as an operator runs it: `sipwire serve` with no flags answers
//! OPTIONS on 127.0.0.1:5060, stops cleanly on SIGTERM and SIGINT, and refuses a bad
//! configuration naming the key and the fix.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_sipwire");

// The interop tests' helpers, shared with the workspace's tests crate.
#[path = "../../../tests/tests/support/mod.rs"]
mod support;
use support::options;

fn signal(pid: u32, name: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{name}");
}

/// Waits up to 10 s for the child to exit.
fn wait(child: &mut std::process::Child) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    None
}

#[test]
fn serve_with_no_flags_answers_options_and_stops_on_sigterm() {
    let mut child = Command::new(BIN)
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let reply = options("127.0.0.1:5060");
    signal(child.id(), "TERM");
    let status = wait(&mut child);
    let reply = reply.expect("an answer to OPTIONS on 127.0.0.1:5060");
    assert!(reply.starts_with("SIP/2.0 200 OK\r\n"), "{reply}");
    assert!(reply.contains("\r\nAllow: "), "{reply}");
    assert_eq!(
        status.map(|s| s.code()),
        Some(Some(0)),
        "clean exit on SIGTERM"
    );
}

#[test]
fn serve_on_another_address_stops_on_sigint() {
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:7160",
            "--domain",
            "example.test",
            "--log-level",
            "warn",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let reply = options("127.0.0.1:7160");
    signal(child.id(), "INT");
    let status = wait(&mut child);
    assert!(reply.is_some_and(|r| r.starts_with("SIP/2.0 200 OK")));
    assert_eq!(status.map(|s| s.code()), Some(Some(0)));
}

#[test]
fn a_bad_config_names_the_key_line_and_fix() {
    let dir = std::env::temp_dir().join(format!("sipwire-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cases = [
        (
            "[listen]\nudp = [\"127.0.0.1\"]\n",
            &["listen.udp", "IP:port"][..],
        ),
        (
            "mode = \"stateful\"\n[capacity]\ntransactoins = 5\n",
            &["line 3", "transactoins", "transactions"][..],
        ),
        ("workers = \"two\"\n", &["line 1", "workers"][..]),
    ];
    for (i, (text, wanted)) in cases.iter().enumerate() {
        let path = dir.join(format!("bad{i}.toml"));
        std::fs::write(&path, text).unwrap();
        let out = Command::new(BIN)
            .args(["serve", "--config"])
            .arg(&path)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        for w in *wanted {
            assert!(err.contains(w), "{w:?} not in: {err}");
        }
    }
}
