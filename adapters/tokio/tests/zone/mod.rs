//! What the DNS tests share: building an in-memory zone for a hickory-server on 127.0.0.1.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;

use hickory_server::authority::{Catalog, ZoneType};
use hickory_server::proto::rr::rdata::SOA;
use hickory_server::proto::rr::{LowerName, Name, RData, Record};
use hickory_server::store::in_memory::InMemoryAuthority;
use hickory_server::ServerFuture;

/// A domain name (`"a.example.test."`).
pub fn name(s: &str) -> Name {
    Name::from_str(s).unwrap()
}

/// A record of `owner` with a 60 s TTL.
pub fn record(owner: &str, rdata: RData) -> Record {
    Record::from_rdata(name(owner), 60, rdata)
}

/// An empty authoritative zone for `origin` (`"test."`), with its SOA record.
pub fn zone(origin: &str) -> InMemoryAuthority {
    let mut auth = InMemoryAuthority::empty(name(origin), ZoneType::Primary, false);
    let soa = SOA::new(
        name(&format!("ns.{origin}")),
        name(&format!("admin.{origin}")),
        1,
        3600,
        600,
        86400,
        60,
    );
    auth.upsert_mut(record(origin, RData::SOA(soa)), 1);
    auth
}

/// Adds `records` to `auth`.
pub fn with(
    mut auth: InMemoryAuthority,
    records: impl IntoIterator<Item = Record>,
) -> InMemoryAuthority {
    for r in records {
        auth.upsert_mut(r, 1);
    }
    auth
}

/// Serves `auth` (the zone `origin`) on `socket` until the runtime ends.
pub async fn serve(socket: tokio::net::UdpSocket, origin: &str, auth: InMemoryAuthority) {
    let mut catalog = Catalog::new();
    catalog.upsert(LowerName::from(name(origin)), vec![Arc::new(auth)]);
    let mut server = ServerFuture::new(catalog);
    server.register_socket(socket);
    let _ = server.block_until_done().await;
}

/// Serves `auth` on a free UDP port of 127.0.0.1, on the current runtime; its address.
pub async fn spawn(origin: &str, auth: InMemoryAuthority) -> SocketAddr {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    let origin = origin.to_owned();
    tokio::spawn(async move { serve(socket, &origin, auth).await });
    addr
}
