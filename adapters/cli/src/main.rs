//! `sipwire`: the command line of the sipwire SIP stack.
//!
//! `sipwire serve` runs a registrar and stateful proxy on embedded defaults (UDP and TCP on
//! 127.0.0.1:5060, domain `localhost`, in-memory location service); flags and a TOML file
//! (`--config`) change them. `sipwire call <uri>` and `sipwire answer` are a phone.

mod config_file;
mod phone;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use sipwire_mio::{Mode, Server, ServerConfig};
use tracing_subscriber::EnvFilter;

use config_file::{parse_addr, ConfigFile};

#[derive(Parser, Debug)]
#[command(name = "sipwire", version, about = "sipwire: a SIP (RFC 3261) stack")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a SIP registrar and proxy (or redirect server) until SIGINT or SIGTERM.
    Serve(ServeArgs),
    /// Call a SIP URI, print each step and the negotiated codec, hang up after --duration
    /// or on Ctrl-C.
    Call(phone::CallArgs),
    /// Listen for calls and answer them (hanging up after --duration, or when the caller does).
    Answer(phone::AnswerArgs),
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ModeArg {
    /// Transaction-stateful proxy (RFC 3261 §16).
    Stateful,
    /// Stateless proxy (§16.11).
    Stateless,
    /// Redirect server (§8.3).
    Redirect,
}

#[derive(clap::Args, Debug)]
struct ServeArgs {
    /// TOML configuration file; flags override what it sets.
    #[arg(long, short = 'c', value_name = "FILE")]
    config: Option<PathBuf>,
    /// Listen on UDP and TCP at this address (repeatable; replaces the defaults).
    #[arg(long, value_name = "IP:PORT")]
    listen: Vec<String>,
    /// Listen on UDP at this address (repeatable).
    #[arg(long, value_name = "IP:PORT")]
    udp: Vec<String>,
    /// Listen on TCP at this address (repeatable).
    #[arg(long, value_name = "IP:PORT")]
    tcp: Vec<String>,
    /// The address peers reach this server at, for Via and Record-Route (needed when
    /// listening on 0.0.0.0 or [::]).
    #[arg(long, value_name = "IP:PORT")]
    advertise: Option<String>,
    /// A domain this server is registrar and proxy for (repeatable; replaces `localhost`).
    #[arg(long, value_name = "NAME")]
    domain: Vec<String>,
    /// How requests are handled.
    #[arg(long, value_enum)]
    mode: Option<ModeArg>,
    /// Do not insert Record-Route.
    #[arg(long)]
    no_record_route: bool,
    /// A host name known without DNS (repeatable).
    #[arg(long, value_name = "NAME=IP:PORT")]
    host: Vec<String>,
    /// A DNS server to ask for next hops (RFC 3263), IP:PORT (repeatable; default: the
    /// system's configuration).
    #[arg(long = "dns-server", value_name = "IP:PORT")]
    dns_server: Vec<String>,
    /// Event-loop threads.
    #[arg(long, value_name = "N")]
    workers: Option<usize>,
    /// Log level or filter (error, warn, info, debug, trace; or a RUST_LOG-style filter).
    /// Without it, RUST_LOG, else info.
    #[arg(long, value_name = "LEVEL")]
    log_level: Option<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve(args),
        Command::Call(args) => with_logging(|| phone::call(args)),
        Command::Answer(args) => with_logging(|| phone::answer(args)),
    }
}

/// Logs at RUST_LOG's level (warnings by default) to stderr, then runs the command.
fn with_logging(command: impl FnOnce() -> ExitCode) -> ExitCode {
    if std::env::var_os("RUST_LOG").is_none() {
        let _ = init_logging(Some("warn"));
    } else if let Err(e) = init_logging(None) {
        eprintln!("sipwire: {e}");
        return ExitCode::from(2);
    }
    command()
}

fn init_logging(level: Option<&str>) -> Result<(), String> {
    let filter = match level {
        Some(l) => EnvFilter::try_new(l).map_err(|e| format!("--log-level {l}: {e}"))?,
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
    };
    // Colours only on a terminal, not in a log file.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .init();
    Ok(())
}

/// The configuration: embedded defaults, then the file, then the flags.
fn build_config(args: &ServeArgs) -> Result<ServerConfig, String> {
    let mut config = ServerConfig::default();
    if let Some(path) = &args.config {
        ConfigFile::load(path)?.apply(&mut config)?;
    }
    if !args.listen.is_empty() || !args.udp.is_empty() || !args.tcp.is_empty() {
        let parse = |key: &str, list: &[String]| -> Result<Vec<SocketAddr>, String> {
            list.iter().map(|a| parse_addr(key, a)).collect()
        };
        let both = parse("--listen", &args.listen)?;
        config.udp = both
            .iter()
            .copied()
            .chain(parse("--udp", &args.udp)?)
            .collect();
        config.tcp = both.into_iter().chain(parse("--tcp", &args.tcp)?).collect();
    }
    if let Some(a) = &args.advertise {
        config.advertise = Some(parse_addr("--advertise", a)?);
    }
    if !args.domain.is_empty() {
        config.domains.clone_from(&args.domain);
    }
    if let Some(m) = args.mode {
        config.mode = match m {
            ModeArg::Stateful => Mode::Stateful,
            ModeArg::Stateless => Mode::Stateless,
            ModeArg::Redirect => Mode::Redirect,
        };
    }
    if args.no_record_route {
        config.record_route = false;
    }
    for h in &args.host {
        let (name, addr) = h.split_once('=').ok_or_else(|| {
            format!("--host {h}: write NAME=IP:PORT, e.g. biloxi.example.com=127.0.0.1:5070")
        })?;
        config
            .hosts
            .push((name.to_owned(), parse_addr("--host", addr)?));
    }
    if !args.dns_server.is_empty() {
        config.dns_servers = args
            .dns_server
            .iter()
            .map(|a| parse_addr("--dns-server", a))
            .collect::<Result<_, _>>()?;
    }
    if let Some(w) = args.workers {
        config.workers = w;
    }
    config.check().map_err(|e| e.to_string())?;
    Ok(config)
}

fn serve(args: ServeArgs) -> ExitCode {
    if let Err(e) = init_logging(args.log_level.as_deref()) {
        eprintln!("sipwire: {e}");
        return ExitCode::from(2);
    }
    let config = match build_config(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("sipwire: bad configuration: {e}");
            return ExitCode::from(2);
        }
    };
    let server = match Server::bind(&config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("sipwire: {e}");
            return ExitCode::from(1);
        }
    };
    let stopper = server.stopper();
    let signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
    ]);
    match signals {
        Ok(mut signals) => {
            std::thread::spawn(move || {
                if let Some(sig) = signals.forever().next() {
                    tracing::info!(signal = sig, "stopping");
                    stopper.stop();
                }
            });
        }
        Err(e) => tracing::warn!(error = %e, "cannot watch SIGINT/SIGTERM"),
    }
    tracing::info!(
        udp = ?server.udp_addrs(),
        tcp = ?server.tcp_addrs(),
        domains = ?config.domains,
        mode = ?config.mode,
        workers = config.workers,
        "sipwire serving"
    );
    match server.run() {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("sipwire: {e}");
            ExitCode::from(1)
        }
    }
}
