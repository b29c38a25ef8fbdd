//! `sipwire call` and `sipwire answer`: a user agent on the command line (sipwire-tokio),
//! printing each step of the call on stdout, one line each.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use sipwire_tokio::{
    Call, CallEvent, Codec, Config, Error, IncomingCall, MediaConfig, Offer, UserAgent,
};

/// Who we are and where we go: the options both commands share.
#[derive(Args, Debug, Clone)]
pub struct PhoneArgs {
    /// Our user name: the AOR is sip:USER@DOMAIN.
    #[arg(long, default_value = "sipwire")]
    user: String,
    /// Our domain.
    #[arg(long, default_value = "localhost")]
    domain: String,
    /// The local UDP address (port 0: any free port).
    #[arg(long, value_name = "IP:PORT")]
    listen: Option<SocketAddr>,
    /// Send every request out of a dialog through this proxy (RFC 3261 §8.1.2).
    #[arg(long, value_name = "IP:PORT")]
    proxy: Option<SocketAddr>,
    /// Send our requests over TCP (our Contact says transport=tcp); UDP otherwise. Requests
    /// come in over both.
    #[arg(long)]
    tcp: bool,
    /// Register with this registrar first (and remove the binding when done).
    #[arg(long, value_name = "IP:PORT")]
    register: Option<SocketAddr>,
    /// The registration interval asked for, in seconds.
    #[arg(long, default_value_t = 300)]
    expires: u32,
    /// Codecs, in order of preference: PCMU, PCMA, G729 (telephone-event is always added).
    #[arg(long, value_delimiter = ',', default_value = "PCMU,PCMA,G729")]
    codecs: Vec<String>,
    /// The RTP port written in our session descriptions.
    #[arg(long, default_value_t = 40000)]
    rtp_port: u16,
    /// Hang up after this many seconds (default: when the peer does, or on Ctrl-C).
    #[arg(long, value_name = "SECS")]
    duration: Option<f64>,
    /// Put the peer on hold halfway through --duration, and take it off again.
    #[arg(long, requires = "duration")]
    hold: bool,
}

/// `sipwire call`.
#[derive(Args, Debug)]
pub struct CallArgs {
    /// The SIP URI to call.
    uri: String,
    #[command(flatten)]
    phone: PhoneArgs,
    /// Send no offer in the INVITE: the 2xx carries the peer's, the ACK our answer.
    #[arg(long)]
    late_offer: bool,
}

/// `sipwire answer`.
#[derive(Args, Debug)]
pub struct AnswerArgs {
    #[command(flatten)]
    phone: PhoneArgs,
    /// Ring this long (180 Ringing) before answering, in seconds.
    #[arg(long, default_value_t = 0.0, value_name = "SECS")]
    ring: f64,
    /// Stop after this many calls (default: until Ctrl-C).
    #[arg(long)]
    calls: Option<u32>,
}

fn codecs(names: &[String]) -> Result<Vec<Codec>, String> {
    let mut out = Vec::new();
    for n in names {
        let c = match n.to_ascii_uppercase().as_str() {
            "PCMU" => Codec::PCMU,
            "PCMA" => Codec::PCMA,
            "G729" => Codec::G729,
            other => {
                return Err(format!(
                    "--codecs: unknown codec {other:?}: use PCMU, PCMA or G729"
                ))
            }
        };
        out.push(c);
    }
    out.push(Codec::TELEPHONE_EVENT);
    Ok(out)
}

fn ua_config(args: &PhoneArgs, default_listen: SocketAddr) -> Result<Config, String> {
    let mut c = Config::new(&args.user, &args.domain);
    c.bind = args.listen.unwrap_or(default_listen);
    c.outbound_proxy = args.proxy;
    if args.tcp {
        c.transport = sipwire_tokio::Transport::Tcp;
    }
    c.media = MediaConfig {
        codecs: codecs(&args.codecs)?,
        rtp_port: args.rtp_port,
        ..MediaConfig::default()
    };
    Ok(c)
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.0))
}

async fn ctrl_c() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// Runs `f` on a runtime; usage errors exit 2, call failures 1.
fn run<F>(f: F) -> ExitCode
where
    F: std::future::Future<Output = Result<(), Failure>>,
{
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sipwire: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(f) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(m)) => {
            eprintln!("sipwire: {m}");
            ExitCode::from(2)
        }
        Err(Failure::Call(m)) => {
            println!("failed: {m}");
            ExitCode::from(1)
        }
    }
}

/// Why a command stopped.
enum Failure {
    Usage(String),
    Call(String),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        match e {
            Error::Config(m) => Failure::Usage(m),
            Error::Io(e) => Failure::Usage(e.to_string()),
            other => Failure::Call(other.to_string()),
        }
    }
}

/// Binds the user agent (taking calls or not) and registers it if asked.
async fn start(
    args: &PhoneArgs,
    default_listen: SocketAddr,
    incoming: bool,
) -> Result<(UserAgent, Option<sipwire_tokio::Registration>), Failure> {
    let mut config = ua_config(args, default_listen).map_err(Failure::Usage)?;
    config.incoming = incoming;
    let ua = UserAgent::bind(config).await?;
    println!("listening {} as {}", ua.local_addr(), ua.aor());
    let registration = match args.register {
        Some(r) => {
            let reg = ua.register(r, args.expires).await?;
            println!("registered with {r} for {} s", reg.expires());
            Some(reg)
        }
        None => None,
    };
    Ok((ua, registration))
}

fn describe(m: &sipwire_tokio::Media) -> String {
    let rtp = m
        .remote_rtp
        .map(|a| a.to_string())
        .unwrap_or_else(|| "-".into());
    format!(
        "{}/{} pt={} remote-rtp={rtp} direction={:?}",
        m.codec.name, m.codec.clock, m.payload_type, m.direction
    )
}

/// Talks until `--duration` (holding and resuming halfway with `--hold`), the peer's BYE,
/// or Ctrl-C; then hangs up.
async fn talk(mut call: Call, args: &PhoneArgs) -> Result<(), Failure> {
    let total = args.duration.map(secs);
    let started = tokio::time::Instant::now();
    let mut held = false;
    loop {
        let deadline = match (total, args.hold, held) {
            (Some(t), true, false) => started + t / 2,
            (Some(t), _, _) => started + t,
            (None, _, _) => started + Duration::from_secs(365 * 24 * 3600),
        };
        tokio::select! {
            e = call.next_event() => match e {
                Some(CallEvent::Ended { reason }) => {
                    println!("ended {reason:?}");
                    return Ok(());
                }
                Some(CallEvent::Reinvited { media }) => match media {
                    Some(m) => println!("re-INVITE from the peer: {}", describe(&m)),
                    None => println!("re-INVITE from the peer refused (488)"),
                },
                Some(_) => {}
                None => return Ok(()),
            },
            () = tokio::time::sleep_until(deadline) => {
                if args.hold && !held {
                    held = true;
                    let m = call.hold().await?;
                    println!("hold {}", describe(&m));
                    let m = call.resume().await?;
                    println!("resume {}", describe(&m));
                    continue;
                }
                break;
            }
            () = ctrl_c() => break,
        }
    }
    let reason = call.hangup().await?;
    println!("hung up {reason:?}");
    Ok(())
}

/// `sipwire call <uri>`.
pub fn call(args: CallArgs) -> ExitCode {
    run(async move {
        let (ua, registration) =
            start(&args.phone, SocketAddr::from(([127, 0, 0, 1], 0)), false).await?;
        let offer = if args.late_offer {
            Offer::None
        } else {
            Offer::Auto
        };
        println!("calling {}", args.uri);
        let mut call = ua.call(&args.uri, offer).await?;
        let media = loop {
            tokio::select! {
                e = call.next_event() => match e {
                    Some(CallEvent::Ringing { code, early_media, media }) => match media {
                        Some(m) => println!("ringing {code} (early media {})", describe(&m)),
                        None if early_media => println!("ringing {code} (early media)"),
                        None => println!("ringing {code}"),
                    },
                    Some(CallEvent::Answered { media }) => break media,
                    Some(CallEvent::Ended { reason }) => {
                        return Err(Failure::Call(format!("{reason:?}")));
                    }
                    Some(_) => {}
                    None => return Err(Failure::Call("the user agent stopped".into())),
                },
                () = ctrl_c() => {
                    let reason = call.hangup().await?;
                    println!("hung up {reason:?}");
                    return Ok(());
                }
            }
        };
        match media {
            Some(m) => println!("answered {}", describe(&m)),
            None => println!("answered without a common codec"),
        }
        talk(call, &args.phone).await?;
        if let Some(r) = registration {
            r.unregister().await?;
            println!("unregistered");
        }
        Ok(())
    })
}

/// `sipwire answer`: takes calls side by side (each rings, is answered and talks on its
/// own task) until `--calls` have come, or Ctrl-C hangs up what is left.
pub fn answer(args: AnswerArgs) -> ExitCode {
    run(async move {
        let (ua, registration) =
            start(&args.phone, SocketAddr::from(([127, 0, 0, 1], 5062)), true).await?;
        let mut calls = tokio::task::JoinSet::new();
        let mut taken = 0u32;
        let mut interrupted = false;
        while args.calls.is_none_or(|n| taken < n) {
            let incoming = tokio::select! {
                c = ua.next_incoming() => match c {
                    Some(c) => c,
                    None => break,
                },
                () = ctrl_c() => {
                    interrupted = true;
                    break;
                }
            };
            taken += 1;
            let (phone, ring) = (args.phone.clone(), args.ring);
            calls.spawn(async move { take_call(incoming, ring, &phone).await });
        }
        if interrupted {
            // Hangs up every call left and removes the binding.
            ua.shutdown().await;
        }
        while let Some(done) = calls.join_next().await {
            if let Ok(Err(Failure::Call(m) | Failure::Usage(m))) = done {
                println!("failed: {m}");
            }
        }
        if let Some(r) = registration.filter(|_| !interrupted) {
            r.unregister().await?;
            println!("unregistered");
        }
        Ok(())
    })
}

/// One incoming call: ring for `ring` seconds if asked, answer, talk.
async fn take_call(incoming: IncomingCall, ring: f64, phone: &PhoneArgs) -> Result<(), Failure> {
    println!("incoming from {}", incoming.from());
    if ring > 0.0 {
        incoming.ring().await?;
        println!("ringing");
        tokio::time::sleep(secs(ring)).await;
    }
    match incoming.answer().await {
        Ok(call) => {
            match call.media() {
                Some(m) => println!("answered {}", describe(&m)),
                None => println!("answered with an offer"),
            }
            talk(call, phone).await
        }
        Err(e) => {
            println!("not answered: {e}");
            Ok(())
        }
    }
}
