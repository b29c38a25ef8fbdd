//! Two sipwire-tokio user agents over loopback UDP: a call answered, held and resumed,
//! hung up from each side; a rejected call; OPTIONS; dropped handles and a cancelled
//! future leave nothing behind.

use std::time::Duration;

use sipwire_tokio::{
    CallEvent, Codec, Config, Direction, EndReason, Error, MediaConfig, Offer, UserAgent,
};
use tokio::time::timeout;

const LIMIT: Duration = Duration::from_secs(10);

async fn ua(user: &str, codecs: Vec<Codec>) -> UserAgent {
    let mut c = Config::new(user, "example.test");
    c.media = MediaConfig {
        codecs,
        ..MediaConfig::default()
    };
    UserAgent::bind(c).await.expect("bind on loopback")
}

fn uri(ua: &UserAgent, user: &str) -> String {
    format!("sip:{user}@{}", ua.local_addr())
}

#[tokio::test]
async fn call_answered_held_resumed_and_hung_up_by_the_caller() {
    let alice = ua(
        "alice",
        vec![Codec::PCMU, Codec::PCMA, Codec::TELEPHONE_EVENT],
    )
    .await;
    let bob = ua("bob", vec![Codec::PCMA, Codec::TELEPHONE_EVENT]).await;
    let target = uri(&bob, "bob");
    let bob_side = tokio::spawn({
        let bob = bob.clone();
        async move {
            let incoming = bob.next_incoming().await.expect("a call");
            assert_eq!(incoming.from(), "sip:alice@example.test");
            assert!(incoming.offer().is_some());
            incoming.ring().await.unwrap();
            let mut call = incoming.answer().await.unwrap();
            let mut events = Vec::new();
            loop {
                let e = call.next_event().await.expect("events until the end");
                let end = matches!(e, CallEvent::Ended { .. });
                events.push(e);
                if end {
                    return events;
                }
            }
        }
    });
    let mut call = alice.call(&target, Offer::Auto).await.unwrap();
    let first = timeout(LIMIT, call.next_event()).await.unwrap();
    assert_eq!(
        first,
        Some(CallEvent::Ringing {
            code: 180,
            early_media: false,
            media: None,
        })
    );
    let media = timeout(LIMIT, call.answered()).await.unwrap().unwrap();
    // Bob only has PCMA: the answer keeps Alice's order restricted to it (RFC 3264 §6.1).
    assert_eq!(media.codec, Codec::PCMA);
    assert_eq!(media.payload_type, 8);
    assert!(media.telephone_event.is_some());
    assert_eq!(media.direction, Direction::SendRecv);
    let held = timeout(LIMIT, call.hold()).await.unwrap().unwrap();
    assert_eq!(held.direction, Direction::SendOnly);
    let resumed = timeout(LIMIT, call.resume()).await.unwrap().unwrap();
    assert_eq!(resumed.direction, Direction::SendRecv);
    let reason = timeout(LIMIT, call.hangup()).await.unwrap().unwrap();
    assert_eq!(reason, EndReason::LocalBye);
    let bob_events = timeout(LIMIT, bob_side).await.unwrap().unwrap();
    let reinvites: Vec<_> = bob_events
        .iter()
        .filter_map(|e| match e {
            CallEvent::Reinvited { media } => Some(media.map(|m| m.direction)),
            _ => None,
        })
        .collect();
    assert_eq!(
        reinvites,
        [Some(Direction::RecvOnly), Some(Direction::SendRecv)]
    );
    assert_eq!(bob_events.first(), Some(&CallEvent::Confirmed));
    assert_eq!(
        bob_events.last(),
        Some(&CallEvent::Ended {
            reason: EndReason::RemoteBye
        })
    );
}

#[tokio::test]
async fn callee_hangs_up_and_holds() {
    let alice = ua("alice", vec![Codec::PCMU]).await;
    let bob = ua("bob", vec![Codec::PCMU]).await;
    let target = uri(&bob, "bob");
    let mut call = alice.call(&target, Offer::Auto).await.unwrap();
    let incoming = timeout(LIMIT, bob.next_incoming()).await.unwrap().unwrap();
    let mut bobs = incoming.answer().await.unwrap();
    // Bob holds Alice at once: the re-INVITE waits for the ACK to confirm the dialog.
    let held = timeout(LIMIT, bobs.hold()).await.unwrap().unwrap();
    assert_eq!(
        timeout(LIMIT, bobs.next_event()).await.unwrap(),
        Some(CallEvent::Confirmed)
    );
    timeout(LIMIT, call.answered()).await.unwrap().unwrap();
    assert_eq!(held.direction, Direction::SendOnly);
    assert_eq!(
        timeout(LIMIT, call.next_event()).await.unwrap(),
        Some(CallEvent::Reinvited {
            media: call.media().filter(|m| m.direction == Direction::RecvOnly)
        })
    );
    let resumed = timeout(LIMIT, bobs.resume()).await.unwrap().unwrap();
    assert_eq!(resumed.direction, Direction::SendRecv);
    assert_eq!(
        timeout(LIMIT, bobs.hangup()).await.unwrap().unwrap(),
        EndReason::LocalBye
    );
    assert_eq!(
        timeout(LIMIT, call.ended()).await.unwrap(),
        EndReason::RemoteBye
    );
}

#[tokio::test]
async fn rejected_call_and_no_common_codec() {
    let alice = ua("alice", vec![Codec::G729]).await;
    let bob = ua("bob", vec![Codec::PCMU]).await;
    let target = uri(&bob, "bob");
    // Bob answers with his codecs: nothing in common → 488, the caller sees Rejected(488).
    let mut call = alice.call(&target, Offer::Auto).await.unwrap();
    let incoming = timeout(LIMIT, bob.next_incoming()).await.unwrap().unwrap();
    assert!(matches!(incoming.answer().await, Err(Error::NotAcceptable)));
    assert!(matches!(
        timeout(LIMIT, call.answered()).await.unwrap(),
        Err(Error::Ended(EndReason::Rejected(488)))
    ));
    // Busy.
    let mut call = alice.call(&target, Offer::Auto).await.unwrap();
    let incoming = timeout(LIMIT, bob.next_incoming()).await.unwrap().unwrap();
    incoming.reject(486).await.unwrap();
    assert!(matches!(
        timeout(LIMIT, call.answered()).await.unwrap(),
        Err(Error::Ended(EndReason::Rejected(486)))
    ));
}

#[tokio::test]
async fn a_ua_not_taking_calls_declines_them_480() {
    let alice = ua("alice", vec![Codec::PCMU]).await;
    let mut c = Config::new("bob", "example.test");
    c.incoming = false;
    let bob = UserAgent::bind(c).await.unwrap();
    let mut call = alice.call(&uri(&bob, "bob"), Offer::Auto).await.unwrap();
    assert!(matches!(
        timeout(LIMIT, call.answered()).await.unwrap(),
        Err(Error::Ended(EndReason::Rejected(480)))
    ));
}

#[tokio::test]
async fn late_offer_call_is_answered_in_the_ack() {
    let alice = ua("alice", vec![Codec::PCMA]).await;
    let bob = ua("bob", vec![Codec::PCMU, Codec::PCMA]).await;
    let mut call = alice.call(&uri(&bob, "bob"), Offer::None).await.unwrap();
    let incoming = timeout(LIMIT, bob.next_incoming()).await.unwrap().unwrap();
    assert!(incoming.offer().is_none());
    let mut bobs = incoming.answer().await.unwrap();
    let media = timeout(LIMIT, call.answered()).await.unwrap().unwrap();
    assert_eq!(media.codec, Codec::PCMA);
    assert_eq!(
        timeout(LIMIT, bobs.next_event()).await.unwrap(),
        Some(CallEvent::Confirmed)
    );
    assert_eq!(bobs.media().map(|m| m.codec), Some(Codec::PCMA));
}

#[tokio::test]
async fn options_answered_200_and_408_without_a_peer() {
    let mut c = Config::new("alice", "example.test");
    c.timers.t1 = Duration::from_millis(20);
    let alice = UserAgent::bind(c).await.unwrap();
    let bob = ua("bob", vec![Codec::PCMU]).await;
    assert_eq!(alice.options(&uri(&bob, "bob")).await.unwrap(), 200);
    // Nobody at this port: Timer F (64·T1) → 408.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let target = format!("sip:x@{}", silent.local_addr().unwrap());
    assert_eq!(
        timeout(LIMIT, alice.options(&target))
            .await
            .unwrap()
            .unwrap(),
        408
    );
}

/// A UA with short timers (T1 20 ms, T4 100 ms), so that transactions end within a second
/// or two of their last message (§17: Timers D, J, K and RFC 6026's L and M).
async fn quick_ua(user: &str) -> UserAgent {
    let mut c = Config::new(user, "example.test");
    c.timers.t1 = Duration::from_millis(20);
    c.timers.t2 = Duration::from_millis(80);
    c.timers.t4 = Duration::from_millis(100);
    c.timers.timer_d = Duration::from_millis(200);
    UserAgent::bind(c).await.unwrap()
}

/// The stream's next item.
async fn next<S: futures_core::Stream + ?Sized>(s: &mut std::pin::Pin<Box<S>>) -> Option<S::Item> {
    std::future::poll_fn(|cx| s.as_mut().poll_next(cx)).await
}

/// Waits until the UA holds no call and no transaction.
async fn until_empty(ua: &UserAgent) {
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let s = ua.status().await.unwrap();
        if s.calls == 0 && s.transactions == 0 {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "left behind: {s:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn dropping_handles_hangs_up_and_cancelled_futures_leave_nothing() {
    let alice = quick_ua("alice").await;
    let bob = quick_ua("bob").await;
    let target = uri(&bob, "bob");
    // Bob takes his calls from the Stream.
    let mut calls = Box::pin(bob.incoming());
    // A call whose handle is dropped while ringing is cancelled (§9.1): Bob's side ends.
    let call = alice.call(&target, Offer::Auto).await.unwrap();
    let incoming = timeout(LIMIT, next(&mut calls)).await.unwrap().unwrap();
    incoming.ring().await.unwrap();
    // Let the 180 reach Alice so that the CANCEL may go (§9.1).
    tokio::time::sleep(Duration::from_millis(100)).await;
    drop(call);
    let mut waited = 0;
    while incoming.end_reason().is_none() && waited < 100 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        waited += 1;
    }
    assert_eq!(incoming.end_reason(), Some(EndReason::Cancelled));
    // A future waiting for an answer, cancelled by a timeout, then the handle dropped: the
    // answered call is hung up with BYE.
    let mut call = alice.call(&target, Offer::Auto).await.unwrap();
    let incoming = timeout(LIMIT, next(&mut calls)).await.unwrap().unwrap();
    assert!(timeout(Duration::from_millis(50), call.answered())
        .await
        .is_err());
    let mut bobs = incoming.answer().await.unwrap();
    drop(call);
    let mut reasons = Vec::new();
    while let Some(e) = timeout(LIMIT, bobs.next_event()).await.unwrap() {
        if let CallEvent::Ended { reason } = e {
            reasons.push(reason);
        }
    }
    assert_eq!(reasons, [EndReason::RemoteBye]);
    // An incoming call whose handle is dropped unanswered is declined (603).
    let mut call = alice.call(&target, Offer::Auto).await.unwrap();
    drop(timeout(LIMIT, next(&mut calls)).await.unwrap().unwrap());
    assert!(matches!(
        timeout(LIMIT, call.answered()).await.unwrap(),
        Err(Error::Ended(EndReason::Rejected(603)))
    ));
    // Nothing is left in either core once the transactions' timers have run.
    until_empty(&alice).await;
    until_empty(&bob).await;
}

#[tokio::test]
async fn shutdown_hangs_up_the_calls_left() {
    let alice = ua("alice", vec![Codec::PCMU]).await;
    let bob = ua("bob", vec![Codec::PCMU]).await;
    let mut call = alice.call(&uri(&bob, "bob"), Offer::Auto).await.unwrap();
    let incoming = timeout(LIMIT, bob.next_incoming()).await.unwrap().unwrap();
    let mut bobs = incoming.answer().await.unwrap();
    timeout(LIMIT, call.answered()).await.unwrap().unwrap();
    timeout(LIMIT, alice.shutdown()).await.unwrap();
    assert_eq!(call.end_reason(), Some(EndReason::LocalBye));
    assert_eq!(
        timeout(LIMIT, bobs.ended()).await.unwrap(),
        EndReason::RemoteBye
    );
}

#[tokio::test]
async fn a_call_over_tcp_both_ways() {
    let mut c = Config::new("alice", "example.test");
    c.transport = sipwire_tokio::Transport::Tcp;
    let alice = UserAgent::bind(c).await.unwrap();
    // Bob sends over UDP by default, but Alice's Contact says transport=tcp: Bob's requests
    // in the dialog (the BYE here) open a TCP connection to her (§18.1.1, §12.2.1.1).
    let bob = ua("bob", vec![Codec::PCMU]).await;
    let mut call = alice.call(&uri(&bob, "bob"), Offer::Auto).await.unwrap();
    let incoming = timeout(LIMIT, bob.next_incoming()).await.unwrap().unwrap();
    let bobs = incoming.answer().await.unwrap();
    timeout(LIMIT, call.answered()).await.unwrap().unwrap();
    timeout(LIMIT, call.hold()).await.unwrap().unwrap();
    assert_eq!(
        timeout(LIMIT, bobs.hangup()).await.unwrap().unwrap(),
        EndReason::LocalBye
    );
    assert_eq!(
        timeout(LIMIT, call.ended()).await.unwrap(),
        EndReason::RemoteBye
    );
    // Nobody listening on TCP at this port: the INVITE cannot go, the call ends at once.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let target = format!("sip:x@127.0.0.1:{port};transport=tcp");
    let mut call = alice.call(&target, Offer::Auto).await.unwrap();
    assert!(matches!(
        timeout(LIMIT, call.answered()).await.unwrap(),
        Err(Error::Ended(EndReason::Timeout))
    ));
}

/// The headers a UAS copies into its responses (§8.2.6.2), from a request's text.
fn copied_headers(request: &str) -> String {
    request
        .split("\r\n")
        .filter(|l| {
            let name = l.split(':').next().unwrap_or("").to_ascii_lowercase();
            ["via", "from", "to", "call-id", "cseq"].contains(&name.as_str())
        })
        .map(|l| {
            if l.to_ascii_lowercase().starts_with("to:") {
                format!("{l};tag=peer1\r\n")
            } else {
                format!("{l}\r\n")
            }
        })
        .collect()
}

#[tokio::test]
async fn early_media_in_a_183_is_reported_with_its_codec() {
    let alice = ua("alice", vec![Codec::PCMU, Codec::PCMA]).await;
    // A scripted UAS: 183 Session Progress with an answer (PCMA), then nothing more.
    let peer = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let target = format!("sip:gw@{}", peer.local_addr().unwrap());
    let mut call = alice.call(&target, Offer::Auto).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let (n, from) = timeout(LIMIT, peer.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let invite = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(invite.starts_with("INVITE "));
    let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.9\r\ns=-\r\nc=IN IP4 127.0.0.9\r\nt=0 0\r\n\
               m=audio 7078 RTP/AVP 8\r\n";
    let progress = format!(
        "SIP/2.0 183 Session Progress\r\n{}Contact: <sip:gw@{}>\r\n\
         Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        copied_headers(&invite),
        peer.local_addr().unwrap(),
        sdp.len()
    );
    peer.send_to(progress.as_bytes(), from).await.unwrap();
    match timeout(LIMIT, call.next_event()).await.unwrap() {
        Some(CallEvent::Ringing {
            code: 183,
            early_media: true,
            media: Some(m),
        }) => {
            assert_eq!(m.codec, Codec::PCMA);
            assert_eq!(m.remote_rtp, Some("127.0.0.9:7078".parse().unwrap()));
        }
        other => panic!("{other:?}"),
    }
    // Hanging up now sends CANCEL (§9.1).
    drop(call);
    let (n, _) = timeout(LIMIT, peer.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert!(
        buf[..n].starts_with(b"CANCEL "),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );
}
