//! Header lines as the parser hands them out, and the names SIP knows (RFC 3261 §7.3, §20).

macro_rules! header_names {
    ($( $(#[$doc:meta])* $variant:ident = $canon:literal $(, compact $c:literal)? ; )*) => {
        /// A header field name, recognised case-insensitively in its full or compact form
        /// (§7.3.3). Unknown names are [`HeaderName::Other`]; compare those by
        /// [`Header::raw_name`].
        #[non_exhaustive]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum HeaderName {
            $( $(#[$doc])* $variant, )*
            /// A header sipwire does not know by name (still carried and forwarded).
            Other,
        }


        /// Every known name, for tests.
        #[cfg(test)]
        const ALL: &[HeaderName] = &[ $( HeaderName::$variant, )* ];

        impl HeaderName {
            /// The canonical spelling (for `Other`, an empty string).
            pub const fn as_str(&self) -> &'static str {
                match self {
                    $( HeaderName::$variant => $canon, )*
                    HeaderName::Other => "",
                }
            }

            /// The compact form (§7.3.3), if the header has one.
            pub const fn compact(&self) -> Option<u8> {
                match self {
                    $( $( HeaderName::$variant => Some($c), )? )*
                    #[allow(unreachable_patterns)]
                    _ => None,
                }
            }

            /// Looks a name up, ignoring ASCII case; compact forms included.
            pub fn from_bytes(name: &[u8]) -> HeaderName {
                if let [c] = name {
                    return match c.to_ascii_lowercase() {
                        $( $( $c => HeaderName::$variant, )? )*
                        _ => HeaderName::Other,
                    };
                }
                lookup_full(name)
            }
        }
    };
}

header_names! {
    /// Accept (§20.1).
    Accept = "Accept";
    /// Accept-Contact (RFC 3841).
    AcceptContact = "Accept-Contact", compact b'a';
    /// Accept-Encoding (§20.2).
    AcceptEncoding = "Accept-Encoding";
    /// Accept-Language (§20.3).
    AcceptLanguage = "Accept-Language";
    /// Alert-Info (§20.4).
    AlertInfo = "Alert-Info";
    /// Allow (§20.5).
    Allow = "Allow";
    /// Allow-Events (RFC 6665).
    AllowEvents = "Allow-Events", compact b'u';
    /// Authentication-Info (§20.6).
    AuthenticationInfo = "Authentication-Info";
    /// Authorization (§20.7).
    Authorization = "Authorization";
    /// Call-ID (§20.8).
    CallId = "Call-ID", compact b'i';
    /// Call-Info (§20.9).
    CallInfo = "Call-Info";
    /// Contact (§20.10).
    Contact = "Contact", compact b'm';
    /// Content-Disposition (§20.11).
    ContentDisposition = "Content-Disposition";
    /// Content-Encoding (§20.12).
    ContentEncoding = "Content-Encoding", compact b'e';
    /// Content-Language (§20.13).
    ContentLanguage = "Content-Language";
    /// Content-Length (§20.14).
    ContentLength = "Content-Length", compact b'l';
    /// Content-Type (§20.15).
    ContentType = "Content-Type", compact b'c';
    /// CSeq (§20.16).
    CSeq = "CSeq";
    /// Date (§20.17).
    Date = "Date";
    /// Error-Info (§20.18).
    ErrorInfo = "Error-Info";
    /// Event (RFC 6665).
    Event = "Event", compact b'o';
    /// Expires (§20.19).
    Expires = "Expires";
    /// From (§20.20).
    From = "From", compact b'f';
    /// Identity (RFC 8224).
    Identity = "Identity", compact b'y';
    /// In-Reply-To (§20.21).
    InReplyTo = "In-Reply-To";
    /// Max-Forwards (§20.22).
    MaxForwards = "Max-Forwards";
    /// MIME-Version (§20.24).
    MimeVersion = "MIME-Version";
    /// Min-Expires (§20.23).
    MinExpires = "Min-Expires";
    /// Organization (§20.25).
    Organization = "Organization";
    /// Priority (§20.26).
    Priority = "Priority";
    /// Proxy-Authenticate (§20.27).
    ProxyAuthenticate = "Proxy-Authenticate";
    /// Proxy-Authorization (§20.28).
    ProxyAuthorization = "Proxy-Authorization";
    /// Proxy-Require (§20.29).
    ProxyRequire = "Proxy-Require";
    /// Record-Route (§20.30).
    RecordRoute = "Record-Route";
    /// Refer-To (RFC 3515).
    ReferTo = "Refer-To", compact b'r';
    /// Referred-By (RFC 3892).
    ReferredBy = "Referred-By", compact b'b';
    /// Reject-Contact (RFC 3841).
    RejectContact = "Reject-Contact", compact b'j';
    /// Reply-To (§20.31).
    ReplyTo = "Reply-To";
    /// Request-Disposition (RFC 3841).
    RequestDisposition = "Request-Disposition", compact b'd';
    /// Require (§20.32).
    Require = "Require";
    /// Retry-After (§20.33).
    RetryAfter = "Retry-After";
    /// Route (§20.34).
    Route = "Route";
    /// Server (§20.35).
    Server = "Server";
    /// Session-Expires (RFC 4028).
    SessionExpires = "Session-Expires", compact b'x';
    /// Subject (§20.36).
    Subject = "Subject", compact b's';
    /// Supported (§20.37).
    Supported = "Supported", compact b'k';
    /// Timestamp (§20.38).
    Timestamp = "Timestamp";
    /// To (§20.39).
    To = "To", compact b't';
    /// Unsupported (§20.40).
    Unsupported = "Unsupported";
    /// User-Agent (§20.41).
    UserAgent = "User-Agent";
    /// Via (§20.42).
    Via = "Via", compact b'v';
    /// Warning (§20.43).
    Warning = "Warning";
    /// WWW-Authenticate (§20.44).
    WwwAuthenticate = "WWW-Authenticate";
}

/// Finds a full (non-compact) header name: dispatch on the length, then the first letter,
/// then one case-insensitive comparison. Generated from the table above; the test
/// `lookup_full_and_compact` checks every name round-trips.
fn lookup_full(name: &[u8]) -> HeaderName {
    let Some(&first) = name.first() else {
        return HeaderName::Other;
    };
    let candidate = match (name.len(), first | 0x20) {
        (2, b't') => (HeaderName::To, "To"),
        (3, b'v') => (HeaderName::Via, "Via"),
        (4, b'c') => (HeaderName::CSeq, "CSeq"),
        (4, b'd') => (HeaderName::Date, "Date"),
        (4, b'f') => (HeaderName::From, "From"),
        (5, b'a') => (HeaderName::Allow, "Allow"),
        (5, b'e') => (HeaderName::Event, "Event"),
        (5, b'r') => (HeaderName::Route, "Route"),
        (6, b'a') => (HeaderName::Accept, "Accept"),
        (6, b's') => (HeaderName::Server, "Server"),
        (7, b'c') => match name[6] | 0x20 {
            b'd' => (HeaderName::CallId, "Call-ID"),
            b't' => (HeaderName::Contact, "Contact"),
            _ => return HeaderName::Other,
        },
        (7, b'e') => (HeaderName::Expires, "Expires"),
        (7, b'r') => (HeaderName::Require, "Require"),
        (7, b's') => (HeaderName::Subject, "Subject"),
        (7, b'w') => (HeaderName::Warning, "Warning"),
        (8, b'i') => (HeaderName::Identity, "Identity"),
        (8, b'p') => (HeaderName::Priority, "Priority"),
        (8, b'r') => match name[2] | 0x20 {
            b'f' => (HeaderName::ReferTo, "Refer-To"),
            b'p' => (HeaderName::ReplyTo, "Reply-To"),
            _ => return HeaderName::Other,
        },
        (9, b'c') => (HeaderName::CallInfo, "Call-Info"),
        (9, b's') => (HeaderName::Supported, "Supported"),
        (9, b't') => (HeaderName::Timestamp, "Timestamp"),
        (10, b'a') => (HeaderName::AlertInfo, "Alert-Info"),
        (10, b'e') => (HeaderName::ErrorInfo, "Error-Info"),
        (10, b'u') => (HeaderName::UserAgent, "User-Agent"),
        (11, b'i') => (HeaderName::InReplyTo, "In-Reply-To"),
        (11, b'm') => (HeaderName::MinExpires, "Min-Expires"),
        (11, b'r') => match name[10] | 0x20 {
            b'y' => (HeaderName::ReferredBy, "Referred-By"),
            b'r' => (HeaderName::RetryAfter, "Retry-After"),
            _ => return HeaderName::Other,
        },
        (11, b'u') => (HeaderName::Unsupported, "Unsupported"),
        (12, b'a') => (HeaderName::AllowEvents, "Allow-Events"),
        (12, b'c') => (HeaderName::ContentType, "Content-Type"),
        (12, b'm') => match name[11] | 0x20 {
            b's' => (HeaderName::MaxForwards, "Max-Forwards"),
            b'n' => (HeaderName::MimeVersion, "MIME-Version"),
            _ => return HeaderName::Other,
        },
        (12, b'o') => (HeaderName::Organization, "Organization"),
        (12, b'r') => (HeaderName::RecordRoute, "Record-Route"),
        (13, b'a') => (HeaderName::Authorization, "Authorization"),
        (13, b'p') => (HeaderName::ProxyRequire, "Proxy-Require"),
        (14, b'a') => (HeaderName::AcceptContact, "Accept-Contact"),
        (14, b'c') => (HeaderName::ContentLength, "Content-Length"),
        (14, b'r') => (HeaderName::RejectContact, "Reject-Contact"),
        (15, b'a') => match name[14] | 0x20 {
            b'g' => (HeaderName::AcceptEncoding, "Accept-Encoding"),
            b'e' => (HeaderName::AcceptLanguage, "Accept-Language"),
            _ => return HeaderName::Other,
        },
        (15, b's') => (HeaderName::SessionExpires, "Session-Expires"),
        (16, b'c') => match name[15] | 0x20 {
            b'g' => (HeaderName::ContentEncoding, "Content-Encoding"),
            b'e' => (HeaderName::ContentLanguage, "Content-Language"),
            _ => return HeaderName::Other,
        },
        (16, b'w') => (HeaderName::WwwAuthenticate, "WWW-Authenticate"),
        (18, b'p') => (HeaderName::ProxyAuthenticate, "Proxy-Authenticate"),
        (19, b'a') => (HeaderName::AuthenticationInfo, "Authentication-Info"),
        (19, b'c') => (HeaderName::ContentDisposition, "Content-Disposition"),
        (19, b'p') => (HeaderName::ProxyAuthorization, "Proxy-Authorization"),
        (19, b'r') => (HeaderName::RequestDisposition, "Request-Disposition"),
        _ => return HeaderName::Other,
    };
    if name.eq_ignore_ascii_case(candidate.1.as_bytes()) {
        candidate.0
    } else {
        HeaderName::Other
    }
}

impl HeaderName {
    /// Whether the header's grammar is a comma-separated list, so that several values may
    /// share one line or be split over several lines (§7.3.1). Authorization-style headers
    /// separate their parameters with commas and are not lists.
    pub const fn is_list(&self) -> bool {
        matches!(
            self,
            HeaderName::Accept
                | HeaderName::AcceptContact
                | HeaderName::AcceptEncoding
                | HeaderName::AcceptLanguage
                | HeaderName::AlertInfo
                | HeaderName::Allow
                | HeaderName::AllowEvents
                | HeaderName::CallInfo
                | HeaderName::Contact
                | HeaderName::ContentEncoding
                | HeaderName::ContentLanguage
                | HeaderName::ErrorInfo
                | HeaderName::InReplyTo
                | HeaderName::ProxyRequire
                | HeaderName::RecordRoute
                | HeaderName::RejectContact
                | HeaderName::Require
                | HeaderName::Route
                | HeaderName::Supported
                | HeaderName::Unsupported
                | HeaderName::Via
                | HeaderName::Warning
        )
    }

    /// Whether at most one value may appear in a message (§7.3.1: the headers whose grammar
    /// is not a list). RFC 4475 §3.3.8 requires several To, From, Call-ID, CSeq or
    /// Max-Forwards values to be answered 400.
    pub const fn is_single(&self) -> bool {
        matches!(
            self,
            HeaderName::CallId
                | HeaderName::ContentLength
                | HeaderName::ContentType
                | HeaderName::CSeq
                | HeaderName::Expires
                | HeaderName::From
                | HeaderName::MaxForwards
                | HeaderName::MinExpires
                | HeaderName::To
        )
    }

    pub(crate) const fn missing_reason(&self) -> &'static str {
        match self {
            HeaderName::Via => "Missing Via",
            HeaderName::From => "Missing From",
            HeaderName::To => "Missing To",
            HeaderName::CallId => "Missing Call-ID",
            HeaderName::CSeq => "Missing CSeq",
            HeaderName::MaxForwards => "Missing Max-Forwards",
            HeaderName::Contact => "Missing Contact",
            _ => "Missing Header",
        }
    }

    pub(crate) const fn bad_value_reason(&self) -> &'static str {
        match self {
            HeaderName::Via => "Malformed Via",
            HeaderName::From => "Malformed From",
            HeaderName::To => "Malformed To",
            HeaderName::CallId => "Malformed Call-ID",
            HeaderName::CSeq => "Malformed CSeq",
            HeaderName::MaxForwards => "Malformed Max-Forwards",
            HeaderName::ContentLength => "Malformed Content-Length",
            HeaderName::ContentType => "Malformed Content-Type",
            HeaderName::Contact => "Malformed Contact",
            HeaderName::Expires => "Malformed Expires",
            HeaderName::Route => "Malformed Route",
            HeaderName::RecordRoute => "Malformed Record-Route",
            _ => "Malformed Header",
        }
    }
}

/// One header line: its name and its raw value.
///
/// The value is zero-copy: white space around it is trimmed, but folded continuation lines
/// (`CRLF` + white space) stay inside it. The typed views in [`headers`](super::headers)
/// treat them as the `LWS` they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header<'b> {
    /// The recognised name, or [`HeaderName::Other`].
    pub name: HeaderName,
    /// The name as written in the message: a `token` (§7.3, §25.1), so ASCII; see
    /// [`Header::name_str`] for it as `str`.
    pub raw_name: &'b [u8],
    /// The value as written, trimmed of surrounding white space.
    pub value: &'b [u8],
}

impl<'b> Header<'b> {
    /// An empty slot, to initialise the caller's header array.
    pub const EMPTY: Header<'static> = Header {
        name: HeaderName::Other,
        raw_name: b"",
        value: b"",
    };

    /// The name as written, as `str`: always `Some` for a header the parser produced (a
    /// `token` is ASCII), `None` only for a hand-built header whose name is not UTF-8.
    pub fn name_str(&self) -> Option<&'b str> {
        core::str::from_utf8(self.raw_name).ok()
    }

    /// Whether this header is called `name` (case-insensitive; compact forms count).
    pub fn is(&self, name: &str) -> bool {
        match self.name {
            HeaderName::Other => self.raw_name.eq_ignore_ascii_case(name.as_bytes()),
            known => {
                known.as_str().eq_ignore_ascii_case(name)
                    || (name.len() == 1
                        && known.compact() == Some(name.as_bytes()[0].to_ascii_lowercase()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_full_and_compact() {
        assert_eq!(
            HeaderName::from_bytes(b"MaX-fOrWaRdS"),
            HeaderName::MaxForwards
        );
        assert_eq!(HeaderName::from_bytes(b"v"), HeaderName::Via);
        assert_eq!(HeaderName::from_bytes(b"V"), HeaderName::Via);
        assert_eq!(HeaderName::from_bytes(b"l"), HeaderName::ContentLength);
        assert_eq!(HeaderName::from_bytes(b"call-id"), HeaderName::CallId);
        assert_eq!(HeaderName::from_bytes(b"C%6Fntact"), HeaderName::Other);
        assert_eq!(HeaderName::from_bytes(b"q"), HeaderName::Other);
        for (c, h) in [
            (b'i', HeaderName::CallId),
            (b'm', HeaderName::Contact),
            (b'e', HeaderName::ContentEncoding),
            (b'c', HeaderName::ContentType),
            (b'f', HeaderName::From),
            (b's', HeaderName::Subject),
            (b'k', HeaderName::Supported),
            (b't', HeaderName::To),
            (b'o', HeaderName::Event),
            (b'u', HeaderName::AllowEvents),
            (b'r', HeaderName::ReferTo),
            (b'j', HeaderName::RejectContact),
        ] {
            assert_eq!(HeaderName::from_bytes(&[c]), h);
            assert_eq!(h.compact(), Some(c));
            assert_eq!(HeaderName::from_bytes(h.as_str().as_bytes()), h);
        }
    }

    #[test]
    fn every_name_round_trips_in_any_case() {
        let mut lower = [0u8; 32];
        for &h in ALL {
            let name = h.as_str().as_bytes();
            assert_eq!(HeaderName::from_bytes(name), h);
            let l = &mut lower[..name.len()];
            l.copy_from_slice(name);
            l.make_ascii_lowercase();
            assert_eq!(HeaderName::from_bytes(l), h);
            l.make_ascii_uppercase();
            assert_eq!(HeaderName::from_bytes(l), h);
            // One letter off is not the header.
            l[l.len() / 2] ^= 0x01;
            assert_ne!(HeaderName::from_bytes(l), h);
        }
    }

    #[test]
    fn header_is() {
        let h = Header {
            name: HeaderName::Via,
            raw_name: b"v",
            value: b"",
        };
        assert!(h.is("Via") && h.is("v") && h.is("V") && !h.is("To"));
        let h = Header {
            name: HeaderName::Other,
            raw_name: b"X-Foo",
            value: b"",
        };
        assert!(h.is("x-foo"));
    }
}
