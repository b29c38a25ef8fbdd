//! An auto-answering service: takes every call on 127.0.0.1:5062 (registering with a
//! registrar if one is given), answers with the codec both sides support, says which, and
//! hangs up after five seconds unless the caller does first. Calls run side by side.
//!
//! ```text
//! cargo run -p sipwire-tokio --example auto_answer -- [REGISTRAR-IP:PORT]
//! ```

use std::time::Duration;

use sipwire_tokio::{Config, UserAgent};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let registrar = std::env::args().nth(1).map(|r| r.parse()).transpose()?;
    let mut config = Config::new("service", "localhost");
    config.bind = "127.0.0.1:5062".parse()?;
    let ua = UserAgent::bind(config).await?;
    let _registration = match registrar {
        Some(r) => Some(ua.register(r, 300).await?),
        None => None,
    };
    println!(
        "answering calls to {} at {} (Ctrl-C stops)",
        ua.aor(),
        ua.local_addr()
    );
    loop {
        let incoming = tokio::select! {
            c = ua.next_incoming() => match c {
                Some(c) => c,
                None => break,
            },
            _ = tokio::signal::ctrl_c() => break,
        };
        tokio::spawn(async move {
            let from = incoming.from();
            let mut call = match incoming.answer().await {
                Ok(call) => call,
                Err(e) => return println!("{from}: not answered: {e}"),
            };
            let codec = call.media().map_or("-", |m| m.codec.name);
            println!("{from}: answered with {codec}");
            tokio::select! {
                reason = call.ended() => println!("{from}: ended ({reason:?})"),
                () = tokio::time::sleep(Duration::from_secs(5)) => {
                    let _ = call.hangup().await;
                    println!("{from}: hung up");
                }
            }
        });
    }
    // Hangs up what is left and removes the binding.
    ua.shutdown().await;
    Ok(())
}
