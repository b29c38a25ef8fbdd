//! A softphone: registers if asked, calls a URI, prints what happens, hangs up after ten
//! seconds (or when the peer does).
//!
//! ```text
//! cargo run -p sipwire-tokio --example softphone -- sip:bob@127.0.0.1:5062 [REGISTRAR]
//! ```

use std::time::Duration;

use sipwire_tokio::{CallEvent, Config, Offer, UserAgent};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let target = args
        .next()
        .ok_or("usage: softphone SIP-URI [REGISTRAR-IP:PORT]")?;
    let registrar = args.next().map(|r| r.parse()).transpose()?;

    let mut config = Config::new("alice", "localhost");
    config.outbound_proxy = registrar;
    config.incoming = false;
    let ua = UserAgent::bind(config).await?;
    let _registration = match registrar {
        Some(r) => Some(ua.register(r, 300).await?),
        None => None,
    };

    let mut call = ua.call(&target, Offer::Auto).await?;
    let answered = loop {
        match call.next_event().await {
            Some(CallEvent::Ringing { code, .. }) => println!("ringing ({code})"),
            Some(CallEvent::Answered { media: Some(m) }) => {
                println!(
                    "answered: {} (payload type {})",
                    m.codec.name, m.payload_type
                );
                break true;
            }
            Some(CallEvent::Ended { reason }) => {
                println!("not answered: {reason:?}");
                break false;
            }
            Some(_) => {}
            None => break false,
        }
    };
    if answered {
        tokio::select! {
            reason = call.ended() => println!("the peer hung up: {reason:?}"),
            () = tokio::time::sleep(Duration::from_secs(10)) => {
                println!("hung up: {:?}", call.hangup().await?);
            }
        }
    }
    // Removes the binding (and would hang up a call left) before the runtime ends.
    ua.shutdown().await;
    Ok(())
}
