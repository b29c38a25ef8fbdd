//! Building the request a proxy forwards (RFC 3261 §16.6) and the response it passes back
//! (§16.7 step 3), byte for byte from the received message.

use crate::message::lex::CommaValues;
use crate::message::{Header, HeaderName, Message, WriteError, Writer};
use crate::transport::{write_top_via, ViaReceived};

/// What changes when a request is forwarded to one target.
pub(crate) struct ForwardSpec<'a> {
    /// The new Request-URI (§16.6 step 2).
    pub request_uri: &'a str,
    /// Our Via value, branch included (§16.6 step 8).
    pub via: &'a [u8],
    /// `received`/`rport` for the previous hop's Via (§18.2.1).
    pub received: ViaReceived,
    /// Record-Route value to insert, `<sip:...;lr>` (§16.6 step 4).
    pub record_route: Option<&'a [u8]>,
    /// How many Route values to drop from the top (ours, §16.4).
    pub drop_routes: usize,
    /// Whether the last Route value was consumed as the Request-URI (§16.4: strict router
    /// before us), so it is dropped too.
    pub drop_last_route: bool,
    /// For a strict next hop (§16.6 step 6): the first remaining Route becomes the
    /// Request-URI (`request_uri` then holds it) and the old Request-URI goes last.
    pub strict_push: Option<&'a str>,
}

/// Writes the forwarded request.
pub(crate) fn write_request(
    msg: &Message<'_, '_>,
    spec: &ForwardSpec<'_>,
    out: &mut [u8],
) -> Result<usize, WriteError> {
    let method = msg.method().unwrap_or("");
    let mut w = Writer::new(out);
    w.request_line(method, spec.request_uri)?;
    w.header("Via", spec.via)?;
    // Route values after the ones we drop, in order.
    let total_routes = msg.values(HeaderName::Route).count();
    let keep_until = if spec.drop_last_route {
        total_routes.saturating_sub(1)
    } else {
        total_routes
    };
    // §16.6 step 6: a strict next hop's Route value became the Request-URI.
    let skip_front = spec.drop_routes + usize::from(spec.strict_push.is_some());
    let mut route_index = 0usize;
    let mut first_via = true;
    let mut max_forwards_seen = false;
    let mut record_route_written = spec.record_route.is_none();
    let mut routes_written = false;
    for h in msg.headers() {
        match h.name {
            HeaderName::Via if first_via => {
                first_via = false;
                w.put(h.raw_name)?;
                w.put(b": ")?;
                for (k, v) in CommaValues::new(h.value).enumerate() {
                    if k == 0 {
                        write_top_via(&mut w, v, &spec.received)?;
                    } else {
                        w.put(b", ")?;
                        w.put(v)?;
                    }
                }
                w.put(b"\r\n")?;
            }
            HeaderName::MaxForwards => {
                max_forwards_seen = true;
                // §16.6 step 3: decrement (validation already refused 0).
                let v = crate::message::headers::max_forwards(h.value).unwrap_or(70);
                w.put(b"Max-Forwards: ")?;
                w.put_u32(u32::from(v.saturating_sub(1)))?;
                w.put(b"\r\n")?;
            }
            HeaderName::RecordRoute if !record_route_written => {
                if let Some(rr) = spec.record_route {
                    w.header("Record-Route", rr)?;
                }
                record_route_written = true;
                write_header(&mut w, h)?;
            }
            HeaderName::Route => {
                for v in CommaValues::new(h.value) {
                    if route_index >= skip_front && route_index < keep_until {
                        w.header("Route", v)?;
                    }
                    route_index += 1;
                }
                if !routes_written {
                    routes_written = true;
                }
            }
            _ => write_header(&mut w, h)?,
        }
    }
    if let Some(push) = spec.strict_push {
        w.put(b"Route: <")?;
        w.put(push.as_bytes())?;
        w.put(b">\r\n")?;
    }
    if !record_route_written {
        if let Some(rr) = spec.record_route {
            w.header("Record-Route", rr)?;
        }
    }
    if !max_forwards_seen {
        w.header("Max-Forwards", b"70")?;
    }
    w.put(b"\r\n")?;
    w.put(msg.body())?;
    Ok(w.len())
}

fn write_header(w: &mut Writer<'_>, h: &Header<'_>) -> Result<(), WriteError> {
    // Names and values as received; the body is copied unchanged, so Content-Length holds.
    w.put(h.raw_name)?;
    w.put(b": ")?;
    w.put(h.value)?;
    w.put(b"\r\n")
}

/// Writes a response without its topmost Via value (ours), §16.7 step 3.
pub(crate) fn write_response_without_top_via(
    msg: &Message<'_, '_>,
    out: &mut [u8],
) -> Result<usize, WriteError> {
    let mut w = Writer::new(out);
    w.status_line(msg.status().unwrap_or(500), msg.reason().unwrap_or(b""))?;
    let mut first = true;
    for h in msg.headers() {
        if h.name == HeaderName::Via && first {
            first = false;
            let mut rest = CommaValues::new(h.value).skip(1).peekable();
            if rest.peek().is_some() {
                w.put(h.raw_name)?;
                w.put(b": ")?;
                for (k, v) in rest.enumerate() {
                    if k > 0 {
                        w.put(b", ")?;
                    }
                    w.put(v)?;
                }
                w.put(b"\r\n")?;
            }
            continue;
        }
        write_header(&mut w, h)?;
    }
    w.put(b"\r\n")?;
    w.put(msg.body())?;
    Ok(w.len())
}

/// Adds the WWW-Authenticate and Proxy-Authenticate headers of `from` to the response held in
/// `best[..len]` (before its blank line), §16.7 step 7; returns the new length (unchanged if
/// they do not fit).
pub(crate) fn merge_challenges(best: &mut [u8], len: usize, from: &Message<'_, '_>) -> usize {
    let Some(split) = best[..len].windows(4).position(|w| w == b"\r\n\r\n") else {
        return len;
    };
    let insert_at = split + 2;
    let mut extra = [0u8; 1024];
    let mut w = Writer::new(&mut extra);
    for h in from.headers() {
        if matches!(
            h.name,
            HeaderName::WwwAuthenticate | HeaderName::ProxyAuthenticate
        ) && write_header(&mut w, h).is_err()
        {
            return len;
        }
    }
    let add = w.finish();
    let n = add.len();
    if len + n > best.len() {
        return len;
    }
    best.copy_within(insert_at..len, insert_at + n);
    best[insert_at..insert_at + n].copy_from_slice(add);
    len + n
}
