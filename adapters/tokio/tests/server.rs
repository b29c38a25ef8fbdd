//! The proxy/registrar on tokio with two sipwire-tokio user agents: Bob registers, Alice
//! calls his AOR through the server (found by the location service), holds, hangs up.

use std::time::Duration;

use sipwire_tokio::{CallEvent, Config, EndReason, Offer, Server, ServerConfig, UserAgent};
use tokio::time::timeout;

const LIMIT: Duration = Duration::from_secs(10);

/// The tokio server, serving until [`stop`](Running::stop).
struct Running {
    udp: std::net::SocketAddr,
    tcp: Option<std::net::SocketAddr>,
    location: sipwire_mio::SharedLocation,
    stop: tokio::sync::oneshot::Sender<()>,
    serving: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Binds 127.0.0.1 (any port; TCP too when `tcp`) with `change` applied, and serves.
    async fn start(tcp: bool, change: impl FnOnce(&mut ServerConfig)) -> Running {
        let any: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
        let mut config = ServerConfig {
            udp: vec![any],
            tcp: if tcp { vec![any] } else { vec![] },
            ..ServerConfig::default()
        };
        change(&mut config);
        let server = Server::bind(&config).await.unwrap();
        let (udp, tcp) = (server.local_addrs()[0], server.tcp_addrs().first().copied());
        let location = server.location();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = tokio::spawn(server.run(async {
            let _ = stopped.await;
        }));
        Running {
            udp,
            tcp,
            location,
            stop,
            serving,
        }
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        timeout(LIMIT, self.serving)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
    }
}

/// Bob answers his next call and waits for its end.
fn answer_one(bob: &UserAgent) -> tokio::task::JoinHandle<EndReason> {
    let bob = bob.clone();
    tokio::spawn(async move {
        let incoming = bob.next_incoming().await.unwrap();
        let mut call = incoming.answer().await.unwrap();
        call.ended().await
    })
}

#[tokio::test]
async fn call_through_the_tokio_server_by_registration() {
    let server = Running::start(false, |_| {}).await;
    let (proxy, location) = (server.udp, server.location.clone());

    let mut bob_config = Config::new("bob", "localhost");
    bob_config.outbound_proxy = Some(proxy);
    let bob = UserAgent::bind(bob_config).await.unwrap();
    let registration = timeout(LIMIT, bob.register(proxy, 300))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(registration.expires(), 300);
    assert_eq!(location.read().unwrap().aors(), 1);

    let mut alice_config = Config::new("alice", "localhost");
    alice_config.outbound_proxy = Some(proxy);
    let alice = UserAgent::bind(alice_config).await.unwrap();
    assert_eq!(alice.options(&format!("sip:{proxy}")).await.unwrap(), 200);

    let answering = answer_one(&bob);
    let mut call = alice.call("sip:bob@localhost", Offer::Auto).await.unwrap();
    timeout(LIMIT, call.answered()).await.unwrap().unwrap();
    timeout(LIMIT, call.hold()).await.unwrap().unwrap();
    timeout(LIMIT, call.resume()).await.unwrap().unwrap();
    assert_eq!(
        timeout(LIMIT, call.hangup()).await.unwrap().unwrap(),
        EndReason::LocalBye
    );
    assert_eq!(
        timeout(LIMIT, answering).await.unwrap().unwrap(),
        EndReason::RemoteBye
    );
    // Removing the binding empties the location service.
    timeout(LIMIT, registration.unregister())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(location.read().unwrap().aors(), 0);
    // A call to an AOR with no binding: an empty target set is 480 (§16.5).
    let mut call = alice.call("sip:bob@localhost", Offer::Auto).await.unwrap();
    match timeout(LIMIT, call.next_event()).await.unwrap() {
        Some(CallEvent::Ended {
            reason: EndReason::Rejected(code),
        }) => assert_eq!(code, 480),
        other => panic!("{other:?}"),
    }
    server.stop().await;
}

#[tokio::test]
async fn registration_is_refreshed_raised_by_423_and_reports_failures() {
    let server = Running::start(false, |c| c.min_expires = 2).await;
    let registrar = server.udp;
    let ua = UserAgent::bind(Config::new("carol", "localhost"))
        .await
        .unwrap();
    // Asking for 1 s: 423 with Min-Expires 2, and the UA asks again for 2 (§10.2.8).
    let mut registration = timeout(LIMIT, ua.register(registrar, 1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(registration.expires(), 2);
    // Refreshed before it expires (§10.2.1.1).
    let refreshed = timeout(LIMIT, registration.next_event()).await.unwrap();
    assert_eq!(
        refreshed,
        Some(sipwire_tokio::RegistrationEvent::Registered { expires: 2 })
    );
    timeout(LIMIT, registration.unregister())
        .await
        .unwrap()
        .unwrap();
    server.stop().await;

    // A registrar that never answers: 408 after Timer F (64·T1), and nothing more is sent.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut c = Config::new("dave", "localhost");
    c.timers.t1 = Duration::from_millis(10);
    let ua = UserAgent::bind(c).await.unwrap();
    match timeout(LIMIT, ua.register(silent.local_addr().unwrap(), 60))
        .await
        .unwrap()
    {
        Err(sipwire_tokio::Error::Status(408)) => {}
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("registered with nobody"),
    }
    ua.shutdown().await;
    assert!(matches!(
        ua.options("sip:x@127.0.0.1:9").await,
        Err(sipwire_tokio::Error::Closed)
    ));
}

/// Bob and Alice register over TCP with the server at `proxy`; Alice calls Bob by his
/// AOR, holds and hangs up.
async fn register_and_call_over_tcp(proxy: std::net::SocketAddr) {
    let phone = |user: &str| {
        let mut c = Config::new(user, "localhost");
        c.transport = sipwire_tokio::Transport::Tcp;
        c.outbound_proxy = Some(proxy);
        c
    };
    let bob = UserAgent::bind(phone("bob")).await.unwrap();
    let _bob_reg = timeout(LIMIT, bob.register(proxy, 300))
        .await
        .unwrap()
        .unwrap();
    let alice = UserAgent::bind(phone("alice")).await.unwrap();
    let answering = answer_one(&bob);
    let mut call = alice.call("sip:bob@localhost", Offer::Auto).await.unwrap();
    timeout(LIMIT, call.answered()).await.unwrap().unwrap();
    timeout(LIMIT, call.hold()).await.unwrap().unwrap();
    assert_eq!(
        timeout(LIMIT, call.hangup()).await.unwrap().unwrap(),
        EndReason::LocalBye
    );
    assert_eq!(
        timeout(LIMIT, answering).await.unwrap().unwrap(),
        EndReason::RemoteBye
    );
    alice.shutdown().await;
    bob.shutdown().await;
}

/// Over TCP through the server `sipwire serve` runs (sipwire-mio, on its own thread).
#[tokio::test]
async fn register_and_call_over_tcp_through_the_mio_server() {
    let config = ServerConfig {
        udp: vec!["127.0.0.1:0".parse().unwrap()],
        tcp: vec!["127.0.0.1:0".parse().unwrap()],
        ..ServerConfig::default()
    };
    let server = sipwire_mio::Server::bind(&config).unwrap();
    let proxy = server.tcp_addrs()[0];
    let stopper = server.stopper();
    let serving = std::thread::spawn(move || server.run());
    register_and_call_over_tcp(proxy).await;
    stopper.stop();
    serving.join().unwrap().unwrap();
}

/// Over TCP through the server on tokio.
#[tokio::test]
async fn register_and_call_over_tcp_through_the_tokio_server() {
    let server = Running::start(true, |_| {}).await;
    let proxy = server.tcp.unwrap();
    assert_eq!(proxy.port(), server.udp.port());
    register_and_call_over_tcp(proxy).await;
    server.stop().await;
}
