//! Dialogs (RFC 3261 §12): the peer-to-peer relationship an INVITE creates, with its ID,
//! route set, remote target and sequence numbers, kept in fixed inline storage.
//!
//! - A UAC creates a dialog from a 2xx, or an early one from a 101–199 with a To tag
//!   (§12.1.2); a forked INVITE may create several early dialogs, one per To tag.
//! - A UAS creates one from the request it answers (§12.1.1).
//! - [`Dialog::request`] builds a request inside the dialog (§12.2.1.1), loose or strict
//!   routing; [`Dialog::check_remote_cseq`] applies §12.2.2.

mod text;

pub use text::{Span, TextBuf, TextFull};

use core::net::{IpAddr, SocketAddr};

use crate::message::builder::{Address, RequestParts, SentBy};
use crate::message::headers::{Contact, NameAddr};
use crate::message::{Host, Message, Scheme, Uri};

/// Bytes of text a dialog holds by default ([`Dialog`]'s `N`): Call-ID, tags, URIs and the
/// route set together. A device with little RAM picks a smaller `N` (512 holds a dialog
/// through one or two proxies); text that does not fit is [`DialogError::TooLong`].
pub const DIALOG_TEXT: usize = 1024;
/// The most Record-Route entries a dialog keeps.
pub const MAX_ROUTES: usize = 8;

/// Early (after a provisional with a tag) or confirmed (after a 2xx).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DialogState {
    /// Created by a 101–199 with a To tag (§12.1).
    Early,
    /// Created or confirmed by a 2xx.
    Confirmed,
}

/// Why a dialog could not be made or used.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DialogError {
    /// A header the dialog needs is missing or malformed (no To tag, no Contact ...).
    Malformed,
    /// The dialog's text does not fit in its `N` bytes ([`DIALOG_TEXT`] by default) or
    /// [`MAX_ROUTES`] routes.
    TooLong,
    /// A request's CSeq is lower than the last one (§12.2.2: answer 500).
    OutOfOrder,
}

impl core::fmt::Display for DialogError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            DialogError::Malformed => "message cannot create or update the dialog",
            DialogError::TooLong => "dialog state larger than its storage",
            DialogError::OutOfOrder => "CSeq lower than the dialog's remote sequence",
        })
    }
}

impl core::error::Error for DialogError {}

impl From<TextFull> for DialogError {
    fn from(_: TextFull) -> Self {
        DialogError::TooLong
    }
}

/// Where a request goes next: an address, or a host to resolve (RFC 3263).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NextHop<'a> {
    /// An IP address and port from the URI.
    Addr(SocketAddr),
    /// A domain name (and port, if the URI has one) that DNS must turn into an address.
    Resolve {
        /// The host.
        host: &'a str,
        /// The port, if given.
        port: Option<u16>,
    },
}

/// The next hop for a URI (§8.1.2 with RFC 3263 left to the caller for names): `maddr` if
/// present, else the host; the port, or 5060 (5061 for sips).
pub fn next_hop<'a>(uri: &Uri<'a>) -> Option<NextHop<'a>> {
    let port = uri.port();
    let default = uri.port_or_default();
    if let Some(m) = uri.maddr() {
        return Some(match crate::message::ip::parse_ip(m.as_bytes()) {
            Some(ip) => NextHop::Addr(SocketAddr::new(ip, port.unwrap_or(default))),
            None => NextHop::Resolve { host: m, port },
        });
    }
    Some(match uri.host()? {
        Host::Ipv4(a) => NextHop::Addr(SocketAddr::new(IpAddr::V4(a), port.unwrap_or(default))),
        Host::Ipv6(a) => NextHop::Addr(SocketAddr::new(IpAddr::V6(a), port.unwrap_or(default))),
        Host::Name(host) => NextHop::Resolve { host, port },
    })
}

/// A dialog's state (§12.1): ID, URIs, remote target, route set and sequence numbers, with
/// `N` bytes of text ([`DIALOG_TEXT`] by default).
#[derive(Clone, Debug)]
pub struct Dialog<const N: usize = DIALOG_TEXT> {
    text: TextBuf<N>,
    state: DialogState,
    call_id: Span,
    local_tag: Span,
    remote_tag: Span,
    local_uri: Span,
    remote_uri: Span,
    remote_target: Span,
    routes: [Span; MAX_ROUTES],
    route_count: usize,
    local_seq: u32,
    remote_seq: Option<u32>,
    secure: bool,
}

/// Which side of the dialog we are (§12.1.1, §12.1.2).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    /// We sent the request that created it.
    Uac,
    /// We answered it.
    Uas,
}

impl<const N: usize> Dialog<N> {
    /// A UAC's dialog from the INVITE it sent and a 101–199 (with To tag) or 2xx response
    /// (§12.1.2): route set from Record-Route reversed, remote target from Contact.
    pub fn uac(request: &Message<'_, '_>, response: &Message<'_, '_>) -> Result<Self, DialogError> {
        let code = response.status().ok_or(DialogError::Malformed)?;
        let to = response.to().map_err(|_| DialogError::Malformed)?;
        let remote_tag = to.tag().ok_or(DialogError::Malformed)?;
        let from = request.from().map_err(|_| DialogError::Malformed)?;
        let local_tag = from.tag().ok_or(DialogError::Malformed)?;
        let state = if (200..300).contains(&code) {
            DialogState::Confirmed
        } else {
            DialogState::Early
        };
        let call_id = request.call_id().map_err(|_| DialogError::Malformed)?;
        let ids = [call_id, local_tag, remote_tag, from.uri.raw(), to.uri.raw()];
        Self::from_parts(state, ids, Role::Uac, request, response)
    }

    /// A UAS's dialog from the request it answers with a 101–199 or 2xx carrying
    /// `local_tag` (§12.1.1): route set from Record-Route in order, remote target from
    /// Contact, remote sequence from CSeq.
    pub fn uas(request: &Message<'_, '_>, local_tag: &str) -> Result<Self, DialogError> {
        let from = request.from().map_err(|_| DialogError::Malformed)?;
        let to = request.to().map_err(|_| DialogError::Malformed)?;
        let call_id = request.call_id().map_err(|_| DialogError::Malformed)?;
        // An RFC 2543 peer may send no From tag: the remote tag is then empty (§12.1.1).
        let remote_tag = from.tag().unwrap_or("");
        let ids = [call_id, local_tag, remote_tag, to.uri.raw(), from.uri.raw()];
        Self::from_parts(DialogState::Early, ids, Role::Uas, request, request)
    }

    /// What [`uac`](Self::uac) and [`uas`](Self::uas) share, one copy for both: the
    /// dialog's Call-ID, local tag, remote tag, local URI and remote URI (`ids`, in that
    /// order), the request's CSeq (our local sequence as UAC, the remote one as UAS),
    /// `secure` from its Request-URI, the remote target from `msg`'s Contact and the route
    /// set from `msg`'s Record-Route (reversed for the UAC, §12.1.2; as received for the
    /// UAS, §12.1.1).
    fn from_parts(
        state: DialogState,
        ids: [&str; 5],
        role: Role,
        request: &Message<'_, '_>,
        msg: &Message<'_, '_>,
    ) -> Result<Self, DialogError> {
        let mut d = Self::empty();
        d.state = state;
        let [call_id, local_tag, remote_tag, local_uri, remote_uri] = ids;
        d.call_id = d.text.push(call_id.as_bytes())?;
        d.local_tag = d.text.push(local_tag.as_bytes())?;
        d.remote_tag = d.text.push(remote_tag.as_bytes())?;
        d.local_uri = d.text.push(local_uri.as_bytes())?;
        d.remote_uri = d.text.push(remote_uri.as_bytes())?;
        let seq = request.cseq().map_err(|_| DialogError::Malformed)?.seq;
        match role {
            Role::Uac => d.local_seq = seq,
            Role::Uas => d.remote_seq = Some(seq),
        }
        d.secure = request
            .request_uri()
            .is_some_and(|u| u.scheme() == Scheme::Sips);
        d.set_target_from(msg)?;
        let mut n = 0;
        for r in msg.record_routes() {
            let r = r.map_err(|_| DialogError::Malformed)?;
            let slot = d.routes.get_mut(n).ok_or(DialogError::TooLong)?;
            *slot = d.text.push(r.uri.raw().as_bytes())?;
            n += 1;
        }
        d.route_count = n;
        if role == Role::Uac {
            // §12.1.2: the route set is the Record-Route list in reverse order.
            d.routes[..n].reverse();
        }
        Ok(d)
    }

    fn empty() -> Self {
        Dialog {
            text: TextBuf::new(),
            state: DialogState::Early,
            call_id: Span::EMPTY,
            local_tag: Span::EMPTY,
            remote_tag: Span::EMPTY,
            local_uri: Span::EMPTY,
            remote_uri: Span::EMPTY,
            remote_target: Span::EMPTY,
            routes: [Span::EMPTY; MAX_ROUTES],
            route_count: 0,
            local_seq: 0,
            remote_seq: None,
            secure: false,
        }
    }

    /// Sets the remote target from the first Contact of `msg` (§12.1, §12.2: target
    /// refresh). The text store only grows, so a dialog refreshed very often may run out of
    /// room: then the old target stays and `TooLong` is returned.
    pub fn set_target_from(&mut self, msg: &Message<'_, '_>) -> Result<(), DialogError> {
        let Some(Ok(Contact::Addr(c))) = msg.contacts().next() else {
            return Err(DialogError::Malformed);
        };
        if self.text.get(self.remote_target) == c.uri.raw().as_bytes() {
            return Ok(());
        }
        match self.text.push(c.uri.raw().as_bytes()) {
            Ok(span) => self.remote_target = span,
            Err(_) => {
                // The store only grows: drop the old targets and try once more.
                self.compact();
                self.remote_target = self.text.push(c.uri.raw().as_bytes())?;
            }
        }
        Ok(())
    }

    /// Rewrites the text store with only the live strings (a target refresh leaves the old
    /// target behind).
    fn compact(&mut self) {
        let old = self.text.clone();
        let mut text = TextBuf::new();
        let mut keep = |span: &mut Span| {
            // Everything here fitted before, so it fits again without the dead entries.
            if let Ok(s) = text.push(old.get(*span)) {
                *span = s;
            }
        };
        keep(&mut self.call_id);
        keep(&mut self.local_tag);
        keep(&mut self.remote_tag);
        keep(&mut self.local_uri);
        keep(&mut self.remote_uri);
        for r in self.routes[..self.route_count].iter_mut() {
            keep(r);
        }
        self.remote_target = Span::EMPTY;
        self.text = text;
    }

    /// Confirms an early dialog with the 2xx (§12.1.2); the 2xx's Contact is the target.
    pub fn confirm(&mut self, response: &Message<'_, '_>) -> Result<(), DialogError> {
        self.state = DialogState::Confirmed;
        // The 2xx's Contact may differ from the provisional's.
        let _ = self.set_target_from(response);
        Ok(())
    }

    /// Marks the dialog confirmed when we send a 2xx for it (§12.1.1).
    pub(crate) fn state_confirm(&mut self) {
        self.state = DialogState::Confirmed;
    }

    /// Early or confirmed.
    pub fn state(&self) -> DialogState {
        self.state
    }

    /// The Call-ID.
    pub fn call_id(&self) -> &str {
        self.text.str(self.call_id)
    }

    /// Our tag.
    pub fn local_tag(&self) -> &str {
        self.text.str(self.local_tag)
    }

    /// The peer's tag.
    pub fn remote_tag(&self) -> &str {
        self.text.str(self.remote_tag)
    }

    /// Our URI (From in our requests).
    pub fn local_uri(&self) -> &str {
        self.text.str(self.local_uri)
    }

    /// The peer's URI (To in our requests).
    pub fn remote_uri(&self) -> &str {
        self.text.str(self.remote_uri)
    }

    /// The remote target: the peer's Contact URI.
    pub fn remote_target(&self) -> &str {
        self.text.str(self.remote_target)
    }

    /// The route set, in the order requests carry it.
    pub fn route_set(&self) -> impl Iterator<Item = &str> {
        self.routes[..self.route_count]
            .iter()
            .map(|&s| self.text.str(s))
    }

    /// The last CSeq number we used.
    pub fn local_seq(&self) -> u32 {
        self.local_seq
    }

    /// Whether the dialog is SIPS (§12.1.1).
    pub fn secure(&self) -> bool {
        self.secure
    }

    /// Whether a message with this Call-ID and tags belongs to this dialog (§12: the dialog
    /// ID is Call-ID, local tag, remote tag). `local` and `remote` are from our side: in a
    /// request we receive, local is the To tag and remote the From tag.
    pub fn matches(&self, call_id: &str, local: &str, remote: &str) -> bool {
        self.call_id() == call_id && self.local_tag() == local && self.remote_tag() == remote
    }

    /// Checks a request's CSeq against the remote sequence and records it (§12.2.2): lower
    /// than the last is out of order (answer 500).
    pub fn check_remote_cseq(&mut self, seq: u32) -> Result<(), DialogError> {
        match self.remote_seq {
            Some(last) if seq < last => Err(DialogError::OutOfOrder),
            _ => {
                self.remote_seq = Some(seq);
                Ok(())
            }
        }
    }

    /// Takes the next local CSeq number (§12.2.1.1: one more than the last; ACK and CANCEL
    /// reuse their INVITE's and do not call this).
    pub fn next_seq(&mut self) -> u32 {
        self.local_seq = self.local_seq.wrapping_add(1) & 0x7fff_ffff;
        self.local_seq
    }

    /// Where the dialog's requests go (§12.2.1.1, §8.1.2): the first route, else the
    /// remote target.
    pub fn next_hop(&self) -> Option<NextHop<'_>> {
        let first = self.route_set().next().unwrap_or(self.remote_target());
        next_hop(&Uri::parse(first.as_bytes()).ok()?)
    }

    /// A request inside the dialog (§12.2.1.1) with CSeq `seq`: Request-URI and Route from
    /// the remote target and route set, loose routing when the first route has `lr`, strict
    /// routing otherwise (the first route becomes the Request-URI and the remote target the
    /// last Route). `routes` receives the Route values (at least [`MAX_ROUTES`] + 1 slots).
    pub fn request<'a>(
        &'a self,
        method: &'a str,
        seq: u32,
        contact: Option<&'a str>,
        routes: &'a mut [&'a str; MAX_ROUTES + 1],
    ) -> RequestParts<'a> {
        let mut n = 0;
        let first_lr = self
            .route_set()
            .next()
            .and_then(|r| Uri::parse(r.as_bytes()).ok())
            .map(|u| u.lr());
        let request_uri = match first_lr {
            Some(false) => {
                // Strict routing (§12.2.1.1): Request-URI = first route; Route = the rest,
                // then the remote target.
                let mut it = self.route_set();
                let first = it.next().unwrap_or("");
                for r in it {
                    routes[n] = r;
                    n += 1;
                }
                routes[n] = self.remote_target();
                n += 1;
                first
            }
            _ => {
                for r in self.route_set() {
                    routes[n] = r;
                    n += 1;
                }
                self.remote_target()
            }
        };
        let remote_tag = self.remote_tag();
        RequestParts {
            method,
            request_uri,
            via: SentBy::FILLED_BY_ENDPOINT,
            max_forwards: 70,
            to: Address {
                display: None,
                uri: self.remote_uri(),
                tag: (!remote_tag.is_empty()).then_some(remote_tag),
            },
            from: Address {
                display: None,
                uri: self.local_uri(),
                tag: Some(self.local_tag()),
            },
            call_id: self.call_id(),
            cseq: seq,
            contact,
            route: &routes[..n],
            extra: &[],
            content_type: None,
            body: b"",
        }
    }
}

/// The To tag of a parsed message, if any (convenience for dialog matching).
pub fn to_tag<'b>(msg: &Message<'b, '_>) -> Option<&'b str> {
    msg.to().ok().and_then(|t: NameAddr<'b>| t.tag())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Header, Parser};

    const INVITE: &[u8] = b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n\
Max-Forwards: 70\r\nTo: Bob <sip:bob@biloxi.example.com>\r\n\
From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\nCSeq: 314159 INVITE\r\n\
Contact: <sip:alice@pc33.atlanta.example.com>\r\n\
Record-Route: <sip:p2.biloxi.example.com;lr>, <sip:p1.atlanta.example.com;lr>\r\n\
Content-Length: 0\r\n\r\n";

    const OK: &[u8] = b"SIP/2.0 200 OK\r\n\
Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n\
To: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf\r\n\
From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\nCSeq: 314159 INVITE\r\n\
Contact: <sip:bob@192.0.2.4>\r\n\
Record-Route: <sip:p2.biloxi.example.com;lr>, <sip:p1.atlanta.example.com;lr>\r\n\
Content-Length: 0\r\n\r\n";

    fn with2(f: impl FnOnce(&Message<'_, '_>, &Message<'_, '_>)) {
        let mut a = [Header::EMPTY; 16];
        let mut b = [Header::EMPTY; 16];
        let req = Parser::datagram()
            .parse(INVITE, &mut a)
            .unwrap()
            .complete()
            .unwrap();
        let resp = Parser::datagram()
            .parse(OK, &mut b)
            .unwrap()
            .complete()
            .unwrap();
        f(&req, &resp);
    }

    #[test]
    fn uac_dialog_reverses_record_route() {
        with2(|req, resp| {
            let mut d: Dialog = Dialog::uac(req, resp).unwrap();
            assert_eq!(d.state(), DialogState::Confirmed);
            assert_eq!(d.call_id(), "a84b4c76e66710@pc33.atlanta.example.com");
            assert_eq!((d.local_tag(), d.remote_tag()), ("1928301774", "a6c85cf"));
            assert_eq!(d.remote_target(), "sip:bob@192.0.2.4");
            let routes: [&str; 2] = [d.route_set().next().unwrap(), d.route_set().nth(1).unwrap()];
            assert_eq!(
                routes,
                [
                    "sip:p1.atlanta.example.com;lr",
                    "sip:p2.biloxi.example.com;lr"
                ]
            );
            assert_eq!(
                d.next_hop(),
                Some(NextHop::Resolve {
                    host: "p1.atlanta.example.com",
                    port: None
                })
            );
            let seq = d.next_seq();
            assert_eq!(seq, 314160);
            let mut r = [""; MAX_ROUTES + 1];
            let bye = d.request("BYE", seq, None, &mut r);
            assert_eq!(bye.request_uri, "sip:bob@192.0.2.4");
            assert_eq!(
                bye.route,
                [
                    "sip:p1.atlanta.example.com;lr",
                    "sip:p2.biloxi.example.com;lr"
                ]
            );
            assert_eq!(bye.to.tag, Some("a6c85cf"));
            assert_eq!(bye.from.tag, Some("1928301774"));
            assert!(d.matches(
                "a84b4c76e66710@pc33.atlanta.example.com",
                "1928301774",
                "a6c85cf"
            ));
        });
    }

    #[test]
    fn uas_dialog_keeps_record_route_order() {
        with2(|req, _| {
            let mut d: Dialog = Dialog::uas(req, "a6c85cf").unwrap();
            assert_eq!(d.remote_target(), "sip:alice@pc33.atlanta.example.com");
            assert_eq!(d.route_set().next(), Some("sip:p2.biloxi.example.com;lr"));
            assert_eq!(d.check_remote_cseq(314159), Ok(()));
            assert_eq!(d.check_remote_cseq(314158), Err(DialogError::OutOfOrder));
            assert_eq!(d.check_remote_cseq(314160), Ok(()));
        });
    }

    #[test]
    fn strict_router_first() {
        let strict = OK.to_vec();
        let text = core::str::from_utf8(&strict).unwrap().replace(
            "Record-Route: <sip:p2.biloxi.example.com;lr>, <sip:p1.atlanta.example.com;lr>",
            "Record-Route: <sip:p2.biloxi.example.com;lr>, <sip:p1.atlanta.example.com>",
        );
        let mut a = [Header::EMPTY; 16];
        let mut b = [Header::EMPTY; 16];
        let req = Parser::datagram()
            .parse(INVITE, &mut a)
            .unwrap()
            .complete()
            .unwrap();
        let resp = Parser::datagram()
            .parse(text.as_bytes(), &mut b)
            .unwrap()
            .complete()
            .unwrap();
        let d: Dialog = Dialog::uac(&req, &resp).unwrap();
        let mut r = [""; MAX_ROUTES + 1];
        let bye = d.request("BYE", 2, None, &mut r);
        // §12.2.1.1: the strict router is the Request-URI; the target goes last in Route.
        assert_eq!(bye.request_uri, "sip:p1.atlanta.example.com");
        assert_eq!(
            bye.route,
            ["sip:p2.biloxi.example.com;lr", "sip:bob@192.0.2.4"]
        );
    }

    extern crate std;
    #[cfg(feature = "ipv6")]
    use std::string::ToString;

    #[test]
    fn many_target_refreshes_do_not_fill_the_store() {
        with2(|req, resp| {
            let mut d: Dialog = Dialog::uac(req, resp).unwrap();
            for i in 0..200 {
                let text = std::format!(
                    "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\r\n\
To: <sip:b@x>;tag=1\r\nFrom: <sip:a@x>;tag=2\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\
Contact: <sip:bob@192.0.2.{}:5060;transport=udp;some=longer-parameter-value>\r\nContent-Length: 0\r\n\r\n",
                    i % 250
                );
                let mut h = [Header::EMPTY; 16];
                let m = Parser::datagram()
                    .parse(text.as_bytes(), &mut h)
                    .unwrap()
                    .complete()
                    .unwrap();
                d.set_target_from(&m).unwrap();
                assert!(d
                    .remote_target()
                    .contains(&std::format!("192.0.2.{}:", i % 250)));
            }
            assert_eq!(d.call_id(), "a84b4c76e66710@pc33.atlanta.example.com");
            assert_eq!(d.route_set().count(), 2);
            assert_eq!(d.remote_tag(), "a6c85cf");
        });
    }

    #[test]
    #[cfg(feature = "ipv6")] // IPv6 literals
    fn next_hop_of_literals() {
        let u = Uri::parse(b"sip:bob@192.0.2.4:5070").unwrap();
        assert_eq!(
            next_hop(&u),
            Some(NextHop::Addr("192.0.2.4:5070".parse().unwrap()))
        );
        let u = Uri::parse(b"sips:bob@[2001:db8::1]").unwrap();
        assert_eq!(
            next_hop(&u).map(|h| match h {
                NextHop::Addr(a) => a.to_string(),
                _ => std::string::String::new(),
            }),
            Some("[2001:db8::1]:5061".to_string())
        );
        let u = Uri::parse(b"sip:bob@example.com;maddr=192.0.2.9").unwrap();
        assert_eq!(
            next_hop(&u),
            Some(NextHop::Addr("192.0.2.9:5060".parse().unwrap()))
        );
    }
}
