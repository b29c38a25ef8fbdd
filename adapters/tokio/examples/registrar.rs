//! A registrar and stateful proxy on tokio, embedded in an application: UDP and TCP on
//! 127.0.0.1:5060 (or the address given), domain `localhost`, until Ctrl-C. Phones register
//! with it and call each other through it.
//!
//! ```text
//! cargo run -p sipwire-tokio --example registrar -- [IP:PORT]
//! ```

use sipwire_tokio::{Server, ServerConfig};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listen = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:5060".into())
        .parse()?;
    let config = ServerConfig {
        udp: vec![listen],
        tcp: vec![listen],
        ..ServerConfig::default()
    };
    let server = Server::bind(&config).await?;
    println!(
        "registrar and proxy for {:?} on {:?}",
        config.domains,
        server.local_addrs()
    );
    let location = server.location();
    server
        .run(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    let aors = location.read().map(|l| l.aors()).unwrap_or(0);
    println!("stopped with {aors} registered address(es) of record");
    Ok(())
}
