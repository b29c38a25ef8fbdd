//! `sipwire call` and `sipwire answer` as a user runs them: SIPp's built-in `uas` answers
//! `sipwire call`, and `sipwire call` reaches `sipwire answer` (holding and resuming).
//! SIPp comes from Debian's `sip-tester` (`.ci/run` installs it); without it that test says
//! so and passes, except under CI (`CI` set), where it fails.

use std::os::unix::process::CommandExt;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_sipwire");

/// Runs `sipwire` with `args`, killed if it takes over 30 s.
fn sipwire(args: &[&str]) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn sipp_uas_answers_sipwire_call() {
    let found = Command::new("sh")
        .args(["-c", "command -v sipp"])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(std::env::var_os("CI").is_none(), "sipp is not installed");
        eprintln!("skipped: sipp is not installed");
        return;
    }
    let dir = std::env::temp_dir().join(format!("sipwire-call-sipp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // One call: INVITE → 180, 200 with SDP (PCMU) → ACK → our BYE → 200; then SIPp exits.
    let mut sipp = Command::new("sipp")
        .current_dir(&dir)
        .args(["-sn", "uas", "-i", "127.0.0.1", "-p", "25560", "-m", "1"])
        .args([
            "-nostdin",
            "-timeout",
            "30s",
            "-timeout_error",
            "-trace_err",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("start sipp");
    std::thread::sleep(Duration::from_millis(300));
    let out = sipwire(&["call", "sip:service@127.0.0.1:25560", "--duration", "0.5"]);
    let stdout = text(&out.stdout);
    let sipp_status = sipp.wait().unwrap();
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("ringing 180"), "{stdout}");
    assert!(stdout.contains("answered PCMU/8000 pt=0"), "{stdout}");
    assert!(stdout.contains("hung up LocalBye"), "{stdout}");
    assert!(sipp_status.success(), "sipp: {sipp_status}");
}

#[test]
fn sipwire_call_reaches_sipwire_answer_and_holds() {
    let answer = Command::new(BIN)
        .args(["answer", "--listen", "127.0.0.1:25562", "--user", "bob"])
        .args(["--calls", "2", "--ring", "0.1", "--codecs", "PCMA"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // A second call at the same time, over UDP: `answer` takes calls side by side.
    let second =
        std::thread::spawn(|| sipwire(&["call", "sip:bob@127.0.0.1:25562", "--duration", "1"]));
    let out = sipwire(&[
        "call",
        "sip:bob@127.0.0.1:25562",
        "--duration",
        "1",
        "--hold",
        "--tcp",
    ]);
    let second = second.join().unwrap();
    assert!(second.status.success(), "{}", text(&second.stdout));
    assert!(text(&second.stdout).contains("hung up LocalBye"));
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    for line in [
        "ringing 180",
        "answered PCMA/8000 pt=8",
        "hold PCMA/8000 pt=8 remote-rtp=127.0.0.1:40000 direction=SendOnly",
        "resume PCMA/8000 pt=8 remote-rtp=127.0.0.1:40000 direction=SendRecv",
        "hung up LocalBye",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in\n{stdout}");
    }
    let answered = answer.wait_with_output().unwrap();
    let astdout = text(&answered.stdout);
    assert!(answered.status.success(), "{astdout}");
    assert!(astdout.contains("direction=RecvOnly"), "{astdout}");
    assert_eq!(astdout.matches("ended RemoteBye").count(), 2, "{astdout}");
}

#[test]
fn a_bad_codec_is_a_usage_error() {
    let out = sipwire(&["call", "sip:x@127.0.0.1:9", "--codecs", "opus"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("unknown codec \"OPUS\""),
        "{}",
        text(&out.stderr)
    );
}
