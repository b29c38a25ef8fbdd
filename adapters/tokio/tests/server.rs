//! The proxy/registrar on tokio with two sipwire-tokio user agents: Bob registers, Alice
//! calls his AOR through the server (found by the location service), holds, hangs up.

use std::time::Duration;

use sipwire_tokio::{CallEvent, Config, EndReason, Offer, Server, ServerConfig, UserAgent};
use tokio::time::timeout;

const LIMIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn call_through_the_tokio_server_by_registration() {
    let config = ServerConfig {
        udp: vec!["127.0.0.1:0".parse().unwrap()],
        tcp: vec![],
        ..ServerConfig::default()
    };
    let server = Server::bind(&config).await.unwrap();
    let proxy = server.local_addrs()[0];
    let location = server.location();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));

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

    let answering = tokio::spawn({
        let bob = bob.clone();
        async move {
            let incoming = bob.next_incoming().await.unwrap();
            let mut call = incoming.answer().await.unwrap();
            call.ended().await
        }
    });
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
    let _ = stop.send(());
    timeout(LIMIT, serving).await.unwrap().unwrap().unwrap();
}
