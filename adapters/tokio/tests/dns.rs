//! RFC 3263 against a real DNS server: a hickory-server on 127.0.0.1 (a free UDP port) with
//! an in-memory zone, and the resolver pointed at it.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use hickory_server::proto::rr::rdata::{A, NAPTR, SRV};
use hickory_server::proto::rr::{RData, Record};
use hickory_server::store::in_memory::InMemoryAuthority;

mod zone;
use sipwire_core::dns::{DnsQuery, Families, QueryKind, Resolution, Target, TargetUri, Transports};
use sipwire_core::message::Uri;
use sipwire_core::rand::Rng;
use sipwire_core::transport::Transport;
use sipwire_tokio::dns::{Dns, RecordSet, SrvRecordBuf};
use zone::{name, record};

fn a(owner: &str, last: u8) -> Record {
    record(owner, RData::A(A(Ipv4Addr::new(127, 0, 0, last))))
}

fn srv(owner: &str, priority: u16, weight: u16, port: u16, target: &str) -> Record {
    record(
        owner,
        RData::SRV(SRV::new(priority, weight, port, name(target))),
    )
}

fn naptr(owner: &str, order: u16, pref: u16, services: &str, replacement: &str) -> Record {
    record(
        owner,
        RData::NAPTR(NAPTR::new(
            order,
            pref,
            b"s".to_vec().into_boxed_slice(),
            services.as_bytes().to_vec().into_boxed_slice(),
            Vec::new().into_boxed_slice(),
            name(replacement),
        )),
    )
}

/// The zone `test.`:
/// - `example.test`: NAPTR (UDP preferred over TCP; a SIPS service too) → `_sip._udp` SRV
///   with two targets of different priorities → A records on 127.0.0.x;
/// - `srvonly.test`: SRV for UDP only, no NAPTR;
/// - `aonly.test`: just an A record;
/// - `empty.test`: a name with a record of another type only (no NAPTR/SRV/A).
fn test_zone() -> InMemoryAuthority {
    let records = [
        naptr(
            "example.test.",
            10,
            10,
            "SIP+D2U",
            "_sip._udp.example.test.",
        ),
        naptr(
            "example.test.",
            20,
            10,
            "SIP+D2T",
            "_sip._tcp.example.test.",
        ),
        naptr(
            "example.test.",
            30,
            10,
            "SIPS+D2T",
            "_sips._tcp.example.test.",
        ),
        srv("_sip._udp.example.test.", 20, 0, 5070, "b.example.test."),
        srv("_sip._udp.example.test.", 10, 0, 5060, "a.example.test."),
        srv("_sip._tcp.example.test.", 10, 0, 5080, "a.example.test."),
        srv("_sips._tcp.example.test.", 10, 0, 5061, "a.example.test."),
        a("a.example.test.", 2),
        a("b.example.test.", 3),
        srv("_sip._udp.srvonly.test.", 5, 0, 5090, "a.example.test."),
        a("aonly.test.", 9),
        record(
            "empty.test.",
            RData::SRV(SRV::new(0, 0, 1, name("x.test."))),
        ),
    ];
    zone::with(zone::zone("test."), records)
}

/// Starts the server on a free UDP port of 127.0.0.1 and a resolver pointed at it.
async fn start() -> Dns {
    let addr = zone::spawn("test.", test_zone()).await;
    Dns::with_name_servers(&[addr], Duration::from_secs(2))
}

fn target(addr: &str, transport: Transport) -> Target {
    Target {
        addr: addr.parse().unwrap(),
        transport,
    }
}

/// Every test is bounded well under 10 s.
async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(8), f)
        .await
        .expect("test took too long")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn naptr_srv_a_in_priority_order() {
    let dns = start().await;
    bounded(async {
        let mut rng = Rng::new(1);
        // UDP only: NAPTR keeps SIP+D2U, SRV gives a (10) before b (20).
        let got = dns
            .resolve(
                "sip:bob@example.test",
                Transports::UDP,
                Families::V4,
                &mut rng,
            )
            .await
            .unwrap();
        assert_eq!(
            got,
            [
                target("127.0.0.2:5060", Transport::Udp),
                target("127.0.0.3:5070", Transport::Udp),
            ]
        );
        // UDP and TCP: NAPTR order 10 (UDP) then 20 (TCP).
        let got = dns
            .resolve(
                "sip:bob@example.test",
                Transports::UDP.with(Transport::Tcp),
                Families::V4,
                &mut rng,
            )
            .await
            .unwrap();
        assert_eq!(
            got,
            [
                target("127.0.0.2:5060", Transport::Udp),
                target("127.0.0.3:5070", Transport::Udp),
                target("127.0.0.2:5080", Transport::Tcp),
            ]
        );
        // sips: only the SIPS+D2T service, TLS.
        let got = dns
            .resolve(
                "sips:bob@example.test",
                Transports::UDP.with(Transport::Tls),
                Families::V4,
                &mut rng,
            )
            .await
            .unwrap();
        assert_eq!(got, [target("127.0.0.2:5061", Transport::Tls)]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn srv_only_and_a_only_fallbacks() {
    let dns = start().await;
    bounded(async {
        let mut rng = Rng::new(2);
        // No NAPTR: SRV for each supported transport (_sip._udp found, _sip._tcp not).
        let got = dns
            .resolve(
                "sip:bob@srvonly.test",
                Transports::UDP.with(Transport::Tcp),
                Families::V4,
                &mut rng,
            )
            .await
            .unwrap();
        assert_eq!(got, [target("127.0.0.2:5090", Transport::Udp)]);
        // No NAPTR, no SRV: the A record, default port, UDP (RFC 3263 §4.2).
        let got = dns
            .resolve(
                "sip:bob@aonly.test",
                Transports::UDP,
                Families::V4,
                &mut rng,
            )
            .await
            .unwrap();
        assert_eq!(got, [target("127.0.0.9:5060", Transport::Udp)]);
        // A port in the URI: A only, that port.
        let got = dns
            .resolve(
                "sip:bob@aonly.test:5999",
                Transports::UDP,
                Families::Both,
                &mut rng,
            )
            .await
            .unwrap();
        assert_eq!(got, [target("127.0.0.9:5999", Transport::Udp)]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_without_records() {
    let dns = start().await;
    bounded(async {
        let mut rng = Rng::new(3);
        for uri in ["sip:bob@nowhere.test", "sip:bob@empty.test"] {
            let got = dns
                .resolve(uri, Transports::UDP, Families::Both, &mut rng)
                .await
                .unwrap();
            assert!(got.is_empty(), "{uri}: {got:?}");
        }
        // One lookup at a time: NXDOMAIN and "no records of that type" are both NoRecords.
        let q = |kind, n: &str| DnsQuery {
            id: 1,
            kind,
            name: sipwire_core::dns::Name::new(&[n]).unwrap(),
        };
        assert_eq!(
            dns.lookup(&q(QueryKind::A, "nowhere.test")).await,
            RecordSet::NoRecords
        );
        assert_eq!(
            dns.lookup(&q(QueryKind::A, "empty.test")).await,
            RecordSet::NoRecords
        );
        assert_eq!(
            dns.lookup(&q(QueryKind::Srv, "_sip._udp.srvonly.test"))
                .await,
            RecordSet::Srv(vec![SrvRecordBuf {
                priority: 5,
                weight: 0,
                port: 5090,
                target: "a.example.test.".into(),
            }])
        );
        assert_eq!(
            dns.lookup(&q(QueryKind::A, "b.example.test")).await,
            RecordSet::Addresses(vec![IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3))])
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_server_is_a_failed_lookup() {
    // A bound socket nobody reads: the lookup times out and counts as failed.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let dns = Dns::with_name_servers(&[silent.local_addr().unwrap()], Duration::from_millis(300));
    bounded(async {
        let q = DnsQuery {
            id: 1,
            kind: QueryKind::A,
            name: sipwire_core::dns::Name::new(&["a.example.test"]).unwrap(),
        };
        assert_eq!(dns.lookup(&q).await, RecordSet::Failed);
        // A whole resolution over a dead server: no targets, and it still ends.
        let uri = Uri::parse(b"sip:bob@example.test").unwrap();
        let mut r: Resolution = Resolution::new(
            &TargetUri::from_uri(&uri).unwrap(),
            Transports::UDP,
            Families::V4,
            1,
        )
        .unwrap();
        dns.run(&mut r, &mut Rng::new(4)).await;
        assert!(r.is_done() && r.targets().is_empty());
    })
    .await;
}

/// RFC 3263 §4.3 end to end: `sip:bob@call.test` has no NAPTR, and two `_sip._udp` SRV
/// targets; the first (priority 10) never answers, so after Timer B the INVITE goes to the
/// second (priority 20), where Bob answers.
#[tokio::test]
async fn a_call_fails_over_to_the_second_srv_target_when_the_first_is_silent() {
    use sipwire_tokio::{Config, Offer, UserAgent};

    let bob = UserAgent::bind(Config::new("bob", "call.test"))
        .await
        .unwrap();
    let silent = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let auth = zone::with(
        zone::zone("call.test."),
        [
            srv(
                "_sip._udp.call.test.",
                10,
                0,
                silent_port,
                "first.call.test.",
            ),
            srv(
                "_sip._udp.call.test.",
                20,
                0,
                bob.local_addr().port(),
                "second.call.test.",
            ),
            a("first.call.test.", 1),
            a("second.call.test.", 1),
        ],
    );
    let server = zone::spawn("call.test.", auth).await;

    let mut config = Config::new("alice", "example.test");
    config.dns_servers = vec![server];
    // Timer B = 64·T1: 1.28 s at this T1.
    config.timers.t1 = Duration::from_millis(20);
    let alice = UserAgent::bind(config).await.unwrap();
    let answering = tokio::spawn(async move {
        let incoming = bob.next_incoming().await.unwrap();
        let mut call = incoming.answer().await.unwrap();
        call.ended().await
    });
    let mut call = alice.call("sip:bob@call.test", Offer::Auto).await.unwrap();
    bounded(call.answered()).await.unwrap();
    // The first target got the INVITE (and its retransmissions) before the failover.
    let mut buf = [0u8; 4096];
    let (n, _) = silent.try_recv_from(&mut buf).unwrap();
    assert!(buf[..n].starts_with(b"INVITE sip:bob@call.test SIP/2.0\r\n"));
    call.hangup().await.unwrap();
    assert_eq!(
        bounded(answering).await.unwrap(),
        sipwire_tokio::EndReason::RemoteBye
    );
}
