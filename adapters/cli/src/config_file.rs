//! The TOML configuration file of `sipwire serve --config FILE`. Every key is optional: what
//! is left out keeps the embedded default. Unknown keys are errors, and every error names
//! the key, the line and what would be right.
//!
//! ```toml
//! domains = ["localhost", "example.com"]
//! advertise = "192.0.2.4:5060"   # how peers reach us, when listening on 0.0.0.0
//! mode = "stateful"          # or "stateless", "redirect"
//! record_route = true
//! workers = 1
//! dns_servers = ["127.0.0.53:53"] # for next hops (RFC 3263); default: /etc/resolv.conf
//!
//! [listen]
//! udp = ["127.0.0.1:5060", "[::1]:5060"]
//! tcp = ["127.0.0.1:5060"]
//!
//! [hosts]                    # names known without DNS
//! "biloxi.example.com" = "127.0.0.1:5070"
//!
//! [capacity]
//! transactions = 131072
//! regions = 262144           # message regions (default: two per transaction)
//! contexts = 4096
//! resolutions = 256          # next hops being resolved by DNS at once
//! bindings = 100000
//! max_message = 4096
//! tcp_connections = 1024
//! tcp_idle_secs = 120
//! udp_batch = 32             # UDP datagrams per recvmmsg / sendmmsg
//!
//! [timers]
//! t1_ms = 500
//! t2_ms = 4000
//! t4_ms = 5000
//! timer_c_secs = 180
//!
//! [registrar]
//! min_expires = 60
//! max_expires = 7200
//! default_expires = 3600
//! ```

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;
use sipwire_mio::{Mode, ServerConfig};

/// The file, as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    domains: Option<Vec<String>>,
    advertise: Option<String>,
    mode: Option<ModeName>,
    record_route: Option<bool>,
    workers: Option<usize>,
    seed: Option<u64>,
    listen: Option<Listen>,
    hosts: Option<std::collections::BTreeMap<String, String>>,
    dns_servers: Option<Vec<String>>,
    capacity: Option<Capacity>,
    timers: Option<Timers>,
    registrar: Option<RegistrarSection>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum ModeName {
    Stateful,
    Stateless,
    Redirect,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Listen {
    udp: Option<Vec<String>>,
    tcp: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Capacity {
    transactions: Option<usize>,
    regions: Option<usize>,
    contexts: Option<usize>,
    resolutions: Option<usize>,
    bindings: Option<usize>,
    max_message: Option<usize>,
    tcp_connections: Option<usize>,
    tcp_idle_secs: Option<u64>,
    udp_batch: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Timers {
    t1_ms: Option<u64>,
    t2_ms: Option<u64>,
    t4_ms: Option<u64>,
    timer_c_secs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegistrarSection {
    min_expires: Option<u32>,
    max_expires: Option<u32>,
    default_expires: Option<u32>,
}

/// Parses an `IP:port` the file gives for `key`.
pub fn parse_addr(key: &str, text: &str) -> Result<SocketAddr, String> {
    text.parse().map_err(|_| {
        format!("`{key}`: \"{text}\" is not an address: write IP:port, e.g. \"127.0.0.1:5060\" or \"[::1]:5060\"")
    })
}

fn addrs(key: &str, list: &[String]) -> Result<Vec<SocketAddr>, String> {
    list.iter().map(|t| parse_addr(key, t)).collect()
}

impl ConfigFile {
    /// Reads and parses `path`.
    pub fn load(path: &std::path::Path) -> Result<ConfigFile, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parses the text of a file.
    pub fn parse(text: &str) -> Result<ConfigFile, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// Applies what the file sets onto `config`.
    pub fn apply(&self, config: &mut ServerConfig) -> Result<(), String> {
        if let Some(d) = &self.domains {
            if let Some(bad) = d
                .iter()
                .find(|d| d.is_empty() || d.contains([' ', ':', '@']))
            {
                return Err(format!("`domains`: \"{bad}\" is not a domain name: write a host name such as \"example.com\""));
            }
            config.domains.clone_from(d);
        }
        if let Some(a) = &self.advertise {
            config.advertise = Some(parse_addr("advertise", a)?);
        }
        if let Some(m) = self.mode {
            config.mode = match m {
                ModeName::Stateful => Mode::Stateful,
                ModeName::Stateless => Mode::Stateless,
                ModeName::Redirect => Mode::Redirect,
            };
        }
        if let Some(r) = self.record_route {
            config.record_route = r;
        }
        if let Some(w) = self.workers {
            config.workers = w;
        }
        if let Some(s) = self.seed {
            config.seed = s;
        }
        if let Some(l) = &self.listen {
            if let Some(u) = &l.udp {
                config.udp = addrs("listen.udp", u)?;
            }
            if let Some(t) = &l.tcp {
                config.tcp = addrs("listen.tcp", t)?;
            }
        }
        if let Some(h) = &self.hosts {
            config.hosts = h
                .iter()
                .map(|(name, a)| Ok((name.clone(), parse_addr(&format!("hosts.\"{name}\""), a)?)))
                .collect::<Result<_, String>>()?;
        }
        if let Some(d) = &self.dns_servers {
            config.dns_servers = addrs("dns_servers", d)?;
        }
        if let Some(c) = &self.capacity {
            set(&mut config.transactions, c.transactions);
            if c.regions.is_some() {
                config.regions = c.regions;
            }
            set(&mut config.contexts, c.contexts);
            set(&mut config.resolutions, c.resolutions);
            set(&mut config.bindings, c.bindings);
            set(&mut config.max_message, c.max_message);
            set(&mut config.tcp_connections, c.tcp_connections);
            set(&mut config.udp_batch, c.udp_batch);
            if let Some(s) = c.tcp_idle_secs {
                config.tcp_idle = Duration::from_secs(s);
            }
        }
        if let Some(t) = &self.timers {
            if let Some(v) = t.t1_ms {
                config.timers.t1 = Duration::from_millis(v);
            }
            if let Some(v) = t.t2_ms {
                config.timers.t2 = Duration::from_millis(v);
            }
            if let Some(v) = t.t4_ms {
                config.timers.t4 = Duration::from_millis(v);
            }
            if let Some(v) = t.timer_c_secs {
                config.timer_c = Duration::from_secs(v);
            }
        }
        if let Some(r) = &self.registrar {
            set(&mut config.min_expires, r.min_expires);
            set(&mut config.max_expires, r.max_expires);
            set(&mut config.default_expires, r.default_expires);
        }
        Ok(())
    }
}

fn set<T>(field: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *field = v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(text: &str) -> Result<ServerConfig, String> {
        let mut c = ServerConfig::default();
        ConfigFile::parse(text)?.apply(&mut c)?;
        c.check().map_err(|e| e.to_string())?;
        Ok(c)
    }

    #[test]
    fn empty_file_is_the_default() {
        let c = apply("").unwrap();
        assert_eq!(c.udp, ServerConfig::default().udp);
        assert_eq!(c.domains, ["localhost"]);
    }

    #[test]
    fn every_section() {
        let c = apply(
            r#"
domains = ["example.com"]
mode = "redirect"
record_route = false
workers = 2
dns_servers = ["127.0.0.1:5353", "[::1]:53"]
[listen]
udp = ["127.0.0.1:5070", "[::1]:5070"]
tcp = []
[hosts]
"biloxi.example.com" = "127.0.0.2:5060"
[capacity]
transactions = 100
resolutions = 8
max_message = 2048
udp_batch = 8
[timers]
t1_ms = 100
timer_c_secs = 200
[registrar]
min_expires = 10
"#,
        )
        .unwrap();
        assert_eq!(c.mode, Mode::Redirect);
        assert_eq!(c.udp.len(), 2);
        assert!(c.tcp.is_empty());
        assert_eq!(c.hosts[0].0, "biloxi.example.com");
        assert_eq!(c.transactions, 100);
        assert_eq!(c.resolutions, 8);
        assert_eq!(c.udp_batch, 8);
        assert_eq!(c.dns_servers.len(), 2);
        assert_eq!(c.timers.t1, Duration::from_millis(100));
        assert_eq!(c.min_expires, 10);
        assert!(!c.record_route);
    }

    #[test]
    fn errors_name_the_key_and_the_fix() {
        let e = apply("[listen]\nudp = [\"127.0.0.1\"]\n").unwrap_err();
        assert!(e.contains("`listen.udp`") && e.contains("IP:port"), "{e}");
        let e = apply("dns_servers = [\"127.0.0.53\"]\n").unwrap_err();
        assert!(e.contains("`dns_servers`") && e.contains("IP:port"), "{e}");
        let e = apply("[listen]\nudpp = []\n").unwrap_err();
        assert!(e.contains("line 2") && e.contains("udpp"), "{e}");
        let e = apply("mode = \"fast\"\n").unwrap_err();
        assert!(e.contains("line 1") && e.contains("stateful"), "{e}");
        let e = apply("[capacity]\ntransactions = -1\n").unwrap_err();
        assert!(e.contains("line 2"), "{e}");
        let e = apply("[capacity]\nmax_message = 10\n").unwrap_err();
        assert!(e.contains("capacity.max_message"), "{e}");
        let e = apply("[capacity]\nudp_batch = 0\n").unwrap_err();
        assert!(e.contains("capacity.udp_batch"), "{e}");
        let e = apply("[listen]\nudp = [\"0.0.0.0:5060\"]\n").unwrap_err();
        assert!(e.contains("`advertise`"), "{e}");
        assert!(
            apply("advertise = \"192.0.2.4:5060\"\n[listen]\nudp = [\"0.0.0.0:5060\"]\n").is_ok()
        );
        let e = apply("[registrar]\nmin_expires = 9000\n").unwrap_err();
        assert!(e.contains("registrar.min_expires"), "{e}");
    }
}
