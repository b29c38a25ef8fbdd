//! Framing messages on a byte stream (TCP, TLS) inside a caller-provided buffer
//! (RFC 3261 §18.3, §7.5; CRLF keep-alives of RFC 5626 §4.4.1).

use core::fmt;

use crate::message::headers::content_length;
use crate::message::{Header, HeaderName, ParseError, Parser, Status, DEFAULT_MAX_SIZE};
use crate::storage::Storage;

/// The header slots [`StreamBuffer::frame`] parses into. A message with more header lines is
/// [`Frame::Error`]`(`[`ParseError::TooManyHeaders`]`)`; use [`StreamBuffer::frame_with`] to
/// choose another number.
pub const DEFAULT_HEADER_SLOTS: usize = 64;

/// The stream buffer is full: the caller answers by closing the connection (the buffer never
/// grows).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Overflow;

impl fmt::Display for Overflow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("stream buffer full")
    }
}

impl core::error::Error for Overflow {}

/// What the start of a [`StreamBuffer`] holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame {
    /// The first `len` bytes are one SIP message framed by its Content-Length (§18.3).
    /// Parse them with [`Parser::stream`] and [`consume`](StreamBuffer::consume) them.
    ///
    /// Framing does not judge the start line: a request whose start line is malformed but
    /// whose header section and Content-Length frame it is still a `Message`, so the caller
    /// can parse it, answer 400 (§8.2, RFC 4475) and keep the connection.
    Message {
        /// Bytes the message takes, including any line ends skipped before it (§7.5).
        len: usize,
    },
    /// A keep-alive ping, `CRLF CRLF` (RFC 5626 §4.4.1): answer with a pong, `CRLF`, then
    /// consume `len` bytes.
    Ping {
        /// Bytes the ping takes (4).
        len: usize,
    },
    /// A keep-alive pong, a lone `CRLF` (RFC 5626 §4.4.1): the flow is alive; consume `len`
    /// bytes. A server may simply ignore it (§7.5: CRLFs before a start line are ignored).
    Pong {
        /// Bytes the pong takes (2).
        len: usize,
    },
    /// More bytes are needed to decide.
    Partial,
    /// The stream cannot be framed (a bad header line, a missing, malformed or conflicting
    /// Content-Length, too many headers, or a message larger than the buffer): there is no
    /// telling where the next message starts, so the caller closes the connection, after
    /// answering 400 or 513 ([`ParseError::status_code`]) if it can.
    Error(ParseError),
}

/// Bytes read from one stream connection, held in a caller-provided buffer until they make
/// whole messages.
///
/// ```
/// use sipwire_core::transport::{Frame, StreamBuffer};
///
/// let mut storage = [0u8; 1024];
/// let mut stream = StreamBuffer::new(&mut storage);
/// stream.push(b"\r\n\r\nSIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n")?;
/// assert_eq!(stream.frame(), Frame::Ping { len: 4 }); // answer "\r\n"
/// stream.consume(4);
/// let Frame::Message { len } = stream.frame() else { panic!() };
/// assert_eq!(&stream.bytes()[..len], b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n");
/// stream.consume(len);
/// assert_eq!(stream.frame(), Frame::Partial);
/// # Ok::<(), sipwire_core::transport::Overflow>(())
/// ```
#[derive(Debug)]
pub struct StreamBuffer<'a> {
    buf: Storage<'a, u8>,
    len: usize,
    parser: Parser,
    max_size: usize,
    expect_pong: bool,
}

impl<'a> StreamBuffer<'a> {
    /// An empty stream buffer over `buf` (borrowed, or an owned `Vec` with the `alloc`
    /// feature, one per connection on a server). Its size bounds the largest message
    /// accepted.
    pub fn new(buf: impl Into<Storage<'a, u8>>) -> Self {
        let buf = buf.into();
        let max = buf.len().min(DEFAULT_MAX_SIZE);
        StreamBuffer {
            buf,
            len: 0,
            parser: Parser::stream().max_size(max),
            max_size: max,
            expect_pong: false,
        }
    }

    /// Limits messages to `bytes` (headers and body), below the buffer size; larger ones are
    /// [`Frame::Error`]`(`[`ParseError::TooLarge`]`)` (answered 513, §21.5.14) as soon as
    /// their header section is read.
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_size = bytes.min(self.buf.len());
        self.parser = Parser::stream().max_size(self.max_size);
        self
    }

    /// The buffer's size.
    pub fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// Bytes buffered.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is buffered.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The buffered bytes, from the start of the next frame.
    pub fn bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }

    /// Appends as many of `bytes` as fit and returns how many were taken; push the rest after
    /// consuming a frame. Pushing into a full buffer is [`Overflow`].
    pub fn push(&mut self, bytes: &[u8]) -> Result<usize, Overflow> {
        let spare = self.spare_mut();
        if spare.is_empty() && !bytes.is_empty() {
            return Err(Overflow);
        }
        let n = spare.len().min(bytes.len());
        spare[..n].copy_from_slice(&bytes[..n]);
        self.len += n;
        Ok(n)
    }

    /// The free space after the buffered bytes, to read into directly (`socket.read(..)`)
    /// before calling [`commit`](StreamBuffer::commit).
    pub fn spare_mut(&mut self) -> &mut [u8] {
        self.buf.get_mut(self.len..).unwrap_or_default()
    }

    /// Marks `n` bytes written into [`spare_mut`](StreamBuffer::spare_mut) as buffered (at
    /// most the free space).
    pub fn commit(&mut self, n: usize) {
        self.len = self.len.saturating_add(n).min(self.buf.len());
    }

    /// Drops the first `n` bytes (at most all of them), moving the rest to the front.
    pub fn consume(&mut self, n: usize) {
        let n = n.min(self.len);
        self.buf.copy_within(n..self.len, 0);
        self.len -= n;
    }

    /// Tells the buffer whether this side has sent a ping and waits for its pong
    /// (RFC 5626 §4.4.1, the client's side). While it waits, a leading `CRLF` is a
    /// [`Frame::Pong`] at once; otherwise a lone `CRLF` stays [`Frame::Partial`] until the
    /// next byte shows it is not the start of a ping. Clear it when the pong arrives.
    pub fn expect_pong(&mut self, waiting: bool) {
        self.expect_pong = waiting;
    }

    /// Whether a pong is awaited (see [`expect_pong`](StreamBuffer::expect_pong)).
    pub fn expecting_pong(&self) -> bool {
        self.expect_pong
    }

    /// What the buffer starts with, parsing into [`DEFAULT_HEADER_SLOTS`] header slots on the
    /// stack.
    pub fn frame(&self) -> Frame {
        let mut slots = [Header::EMPTY; DEFAULT_HEADER_SLOTS];
        self.frame_with(&mut slots)
    }

    /// What the buffer starts with, parsing into the caller's header slots.
    ///
    /// - `CRLF CRLF`: [`Frame::Ping`] (RFC 5626 §4.4.1).
    /// - `CRLF` not followed by `CRLF`: [`Frame::Pong`]. Since a ping may arrive split across
    ///   reads, `CRLF` alone or `CRLF CR` is [`Frame::Partial`] unless a pong is expected.
    /// - Anything else: a message, framed by [`Parser::stream`] (§18.3); other line ends
    ///   before its start line are skipped (§7.5) and counted in its length.
    ///
    /// A buffer that is full yet holds no whole frame can never complete:
    /// [`Frame::Error`]`(`[`ParseError::TooLarge`]`)`.
    pub fn frame_with<'s>(&'s self, slots: &mut [Header<'s>]) -> Frame {
        let frame = self.frame_inner(slots);
        if frame == Frame::Partial && self.len >= self.buf.len() {
            return Frame::Error(ParseError::TooLarge);
        }
        frame
    }

    fn frame_inner<'s>(&'s self, slots: &mut [Header<'s>]) -> Frame {
        let bytes = self.bytes();
        match bytes {
            [] => Frame::Partial,
            [b'\r', b'\n', ..] if self.expect_pong => Frame::Pong { len: 2 },
            [b'\r', b'\n', b'\r', b'\n', ..] => Frame::Ping { len: 4 },
            // Possibly the start of a ping.
            [b'\r'] | [b'\r', b'\n'] | [b'\r', b'\n', b'\r'] => Frame::Partial,
            [b'\r', b'\n', ..] => Frame::Pong { len: 2 },
            _ => match self.parser.parse(bytes, slots) {
                Ok(Status::Complete(msg)) => Frame::Message { len: msg.len() },
                Ok(Status::Partial) => Frame::Partial,
                Err(e) if is_start_line_error(e) => self.frame_bad_start_line(bytes, slots, e),
                Err(e) => Frame::Error(e),
            },
        }
    }

    /// Frames a message whose start line the parser rejected. The parser judges the start
    /// line only after splitting the header lines and checking Content-Length, so both are
    /// sound here; what is left is to find where the message ends.
    fn frame_bad_start_line<'s>(
        &self,
        bytes: &'s [u8],
        slots: &mut [Header<'s>],
        error: ParseError,
    ) -> Frame {
        let Ok(Status::Complete(head)) = self.parser.parse_head(bytes, slots) else {
            return Frame::Error(error);
        };
        let Some(body_len) = head
            .headers
            .iter()
            .find(|h| h.name == HeaderName::ContentLength)
            .and_then(|h| content_length(h.value))
        else {
            return Frame::Error(error);
        };
        let Some(head_end) = head_end(bytes) else {
            return Frame::Error(error);
        };
        let Some(end) = usize::try_from(body_len)
            .ok()
            .and_then(|body| head_end.checked_add(body))
        else {
            return Frame::Error(ParseError::TooLarge);
        };
        let start = bytes
            .iter()
            .position(|&b| b != b'\r' && b != b'\n')
            .unwrap_or(0);
        if end - start > self.max_size {
            Frame::Error(ParseError::TooLarge)
        } else if end > bytes.len() {
            Frame::Partial
        } else {
            Frame::Message { len: end }
        }
    }
}

/// Errors in the start line alone (§7.1, §7.2), which do not stop the message from framing.
fn is_start_line_error(e: ParseError) -> bool {
    matches!(
        e,
        ParseError::BadStartLine
            | ParseError::BadMethod
            | ParseError::BadRequestUri(_)
            | ParseError::BadVersion
            | ParseError::BadStatusCode
            | ParseError::BadReasonPhrase
    )
}

/// The offset just past the empty line that ends the header section, reading lines as the
/// parser does: line ends before the start line are skipped, every line ends at LF, and the
/// header section ends at the first line that is empty (`CRLF` or a bare `LF`).
fn head_end(bytes: &[u8]) -> Option<usize> {
    let start = bytes.iter().position(|&b| b != b'\r' && b != b'\n')?;
    let mut i = start;
    while i < bytes.len() {
        if bytes[i] == b'\n' {
            match bytes.get(i + 1..) {
                Some([b'\n', ..]) => return Some(i + 2),
                Some([b'\r', b'\n', ..]) => return Some(i + 3),
                _ => {}
            }
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use std::vec::Vec;

    const OPTIONS: &[u8] = b"OPTIONS sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/TCP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n\
Max-Forwards: 70\r\n\
To: <sip:bob@biloxi.example.com>\r\n\
From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710\r\n\
CSeq: 63104 OPTIONS\r\n\
Content-Length: 4\r\n\r\nbody";

    const OK: &[u8] = b"SIP/2.0 200 OK\r\nl: 0\r\n\r\n";

    /// Frames and consumes everything buffered, recording the frames.
    fn drain(s: &mut StreamBuffer<'_>, out: &mut Vec<(Frame, Vec<u8>)>) {
        loop {
            let f = s.frame();
            let n = match f {
                Frame::Message { len } | Frame::Ping { len } | Frame::Pong { len } => len,
                Frame::Partial | Frame::Error(_) => return,
            };
            out.push((f, s.bytes()[..n].to_vec()));
            s.consume(n);
        }
    }

    #[test]
    fn two_messages_in_one_push() {
        let mut storage = [0u8; 1024];
        let mut s = StreamBuffer::new(&mut storage);
        let mut all = Vec::new();
        all.extend_from_slice(OPTIONS);
        all.extend_from_slice(OK);
        assert_eq!(s.push(&all), Ok(all.len()));
        assert_eq!(s.frame(), Frame::Message { len: OPTIONS.len() });
        s.consume(OPTIONS.len());
        assert_eq!(s.frame(), Frame::Message { len: OK.len() });
        assert_eq!(s.bytes(), OK);
        s.consume(OK.len());
        assert!(s.is_empty());
        assert_eq!(s.frame(), Frame::Partial);
    }

    #[test]
    fn split_across_three_pushes_at_every_cut() {
        let mut msg = Vec::new();
        msg.extend_from_slice(OPTIONS);
        for i in 0..=msg.len() {
            for j in i..=msg.len() {
                let mut storage = [0u8; 512];
                let mut s = StreamBuffer::new(&mut storage);
                let mut frames = Vec::new();
                for part in [&msg[..i], &msg[i..j], &msg[j..]] {
                    assert_eq!(s.push(part), Ok(part.len()));
                    drain(&mut s, &mut frames);
                    assert_eq!(s.frame(), Frame::Partial, "cut {i}/{j}");
                }
                assert_eq!(frames.len(), 1, "cut {i}/{j}");
                assert_eq!(frames[0].0, Frame::Message { len: msg.len() });
                assert_eq!(frames[0].1, msg);
                assert!(s.is_empty());
            }
        }
    }

    #[test]
    fn ping_pong_and_split_ping() {
        let mut storage = [0u8; 256];
        let mut s = StreamBuffer::new(&mut storage);
        s.push(b"\r\n\r\n").expect("fits");
        assert_eq!(s.frame(), Frame::Ping { len: 4 });
        s.consume(4);
        // A lone CRLF might be half a ping.
        s.push(b"\r\n").expect("fits");
        assert_eq!(s.frame(), Frame::Partial);
        s.push(b"\r").expect("fits");
        assert_eq!(s.frame(), Frame::Partial);
        s.push(b"\n").expect("fits");
        assert_eq!(s.frame(), Frame::Ping { len: 4 });
        s.consume(4);
        // A CRLF followed by a message is a pong.
        s.push(b"\r\n").expect("fits");
        s.push(OK).expect("fits");
        assert_eq!(s.frame(), Frame::Pong { len: 2 });
        s.consume(2);
        assert_eq!(s.frame(), Frame::Message { len: OK.len() });
        s.consume(OK.len());
        // CRLF CR followed by something else: a pong, then the parser skips the CR.
        s.push(b"\r\n\r").expect("fits");
        assert_eq!(s.frame(), Frame::Partial);
        s.push(OK).expect("fits");
        assert_eq!(s.frame(), Frame::Pong { len: 2 });
        s.consume(2);
        assert_eq!(s.frame(), Frame::Message { len: OK.len() + 1 });
    }

    #[test]
    fn pings_byte_by_byte() {
        let stream = b"\r\n\r\n\r\n\r\nSIP/2.0 200 OK\r\nl: 0\r\n\r\n\r\n\r\n";
        let mut storage = [0u8; 64];
        let mut s = StreamBuffer::new(&mut storage);
        let mut frames = Vec::new();
        for b in stream {
            s.push(core::slice::from_ref(b)).expect("fits");
            drain(&mut s, &mut frames);
        }
        let kinds: Vec<Frame> = frames.iter().map(|f| f.0).collect();
        assert_eq!(
            kinds,
            [
                Frame::Ping { len: 4 },
                Frame::Ping { len: 4 },
                Frame::Message { len: OK.len() },
                Frame::Ping { len: 4 },
            ]
        );
    }

    #[test]
    fn expected_pong_is_immediate() {
        let mut storage = [0u8; 64];
        let mut s = StreamBuffer::new(&mut storage);
        s.expect_pong(true);
        assert!(s.expecting_pong());
        s.push(b"\r\n").expect("fits");
        assert_eq!(s.frame(), Frame::Pong { len: 2 });
        s.consume(2);
        s.expect_pong(false);
        s.push(b"\r\n").expect("fits");
        assert_eq!(s.frame(), Frame::Partial);
    }

    #[test]
    fn overflow() {
        let mut storage = [0u8; 8];
        let mut s = StreamBuffer::new(&mut storage);
        assert_eq!(s.push(b"SIP/2.0 "), Ok(8));
        assert_eq!(s.push(b""), Ok(0));
        assert_eq!(s.push(b"2"), Err(Overflow));
        // Full without a whole frame: it never will be.
        assert_eq!(s.frame(), Frame::Error(ParseError::TooLarge));
        // Partial acceptance.
        let mut storage = [0u8; 10];
        let mut s = StreamBuffer::new(&mut storage);
        assert_eq!(s.push(b"\r\n\r\nabcdefgh"), Ok(10));
        assert_eq!(s.bytes(), b"\r\n\r\nabcdef");
        assert_eq!(s.frame(), Frame::Ping { len: 4 });
        s.consume(4);
        assert_eq!(s.push(b"gh"), Ok(2));
        assert_eq!(s.len(), 8);
    }

    #[test]
    fn message_larger_than_buffer() {
        let mut storage = [0u8; 64];
        let mut s = StreamBuffer::new(&mut storage);
        s.push(b"SIP/2.0 200 OK\r\nContent-Length: 100\r\n\r\n")
            .expect("fits");
        assert_eq!(s.frame(), Frame::Error(ParseError::TooLarge));
        // A smaller configured limit.
        let mut storage = [0u8; 256];
        let mut s = StreamBuffer::new(&mut storage).max_message_size(30);
        s.push(OK).expect("fits");
        assert_eq!(s.frame(), Frame::Message { len: OK.len() });
        s.consume(OK.len());
        s.push(b"SIP/2.0 200 OK\r\nContent-Length: 10\r\n\r\n")
            .expect("fits");
        assert_eq!(s.frame(), Frame::Error(ParseError::TooLarge));
    }

    #[test]
    fn garbage_is_an_error() {
        for (garbage, err) in [
            (&b"hello\r\nworld\r\n\r\n"[..], ParseError::BadHeaderLine),
            (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", ParseError::BadVersion),
            (
                b"SIP/2.0 200 OK\r\nCall-ID: x\r\n\r\n",
                ParseError::MissingContentLength,
            ),
            (
                b"SIP/2.0 200 OK\r\nl: 1\r\nContent-Length: 2\r\n\r\nab",
                ParseError::ConflictingContentLength,
            ),
            (
                b"SIP/2.0 200 OK\r\nl: -1\r\n\r\n",
                ParseError::BadHeaderValue(HeaderName::ContentLength),
            ),
            (
                b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\n\x00:",
                ParseError::BadHeaderLine,
            ),
        ] {
            let mut storage = [0u8; 256];
            let mut s = StreamBuffer::new(&mut storage);
            s.push(garbage).expect("fits");
            assert_eq!(s.frame(), Frame::Error(err), "{garbage:?}");
        }
    }

    #[test]
    fn too_many_headers() {
        let mut storage = [0u8; 512];
        let mut s = StreamBuffer::new(&mut storage);
        s.push(OPTIONS).expect("fits");
        let mut slots = [Header::EMPTY; 4];
        assert_eq!(
            s.frame_with(&mut slots),
            Frame::Error(ParseError::TooManyHeaders)
        );
        let mut slots = [Header::EMPTY; 8];
        assert_eq!(
            s.frame_with(&mut slots),
            Frame::Message { len: OPTIONS.len() }
        );
    }

    #[test]
    fn bad_start_line_still_frames() {
        let bad =
            b"INVITE sip:bob@biloxi.example.com SIP/2.0 extra\r\nContent-Length: 3\r\n\r\nabc";
        let mut storage = [0u8; 256];
        let mut s = StreamBuffer::new(&mut storage);
        // Partial until the body is in.
        s.push(&bad[..bad.len() - 1]).expect("fits");
        assert_eq!(s.frame(), Frame::Partial);
        s.push(&bad[bad.len() - 1..]).expect("fits");
        s.push(OK).expect("fits");
        assert_eq!(s.frame(), Frame::Message { len: bad.len() });
        let mut slots = [Header::EMPTY; 4];
        assert_eq!(
            Parser::stream().parse(&s.bytes()[..bad.len()], &mut slots),
            Err(ParseError::BadStartLine)
        );
        s.consume(bad.len());
        assert_eq!(s.frame(), Frame::Message { len: OK.len() });
        // Bare LF line ends, and a lone leading LF.
        let lf = b"\nSIP/2.0 99 x\nl: 1\n\nZ";
        s.consume(OK.len());
        s.push(lf).expect("fits");
        assert_eq!(s.frame(), Frame::Message { len: lf.len() });
        // Without a Content-Length it cannot frame.
        s.consume(lf.len());
        s.push(b"INVITE  sip:a@b SIP/2.0\r\nCall-ID: 1\r\n\r\n")
            .expect("fits");
        assert_eq!(s.frame(), Frame::Error(ParseError::BadStartLine));
    }

    #[test]
    fn spare_and_commit() {
        let mut storage = [0u8; 32];
        let mut s = StreamBuffer::new(&mut storage);
        let spare = s.spare_mut();
        assert_eq!(spare.len(), 32);
        spare[..OK.len()].copy_from_slice(OK);
        s.commit(OK.len());
        assert_eq!(s.frame(), Frame::Message { len: OK.len() });
        s.commit(1000);
        assert_eq!(s.len(), 32);
        assert!(s.spare_mut().is_empty());
        s.consume(1000);
        assert!(s.is_empty());
        assert_eq!(s.capacity(), 32);
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A small deterministic generator over an alphabet rich in SIP syntax.
        const ALPHABET: &[u8] =
            b"\r\n\r\n :;,SIP/2.0 200 OK INVITE sip:a@b Content-Length l: 0123456789\x00\xff";
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..2000 {
            let mut storage = [0u8; 96];
            let mut s = StreamBuffer::new(&mut storage);
            for _ in 0..8 {
                let n = (next() % 40) as usize;
                let chunk: Vec<u8> = (0..n)
                    .map(|_| ALPHABET[(next() % ALPHABET.len() as u64) as usize])
                    .collect();
                if s.push(&chunk).is_err() {
                    break;
                }
                loop {
                    match s.frame() {
                        Frame::Message { len } | Frame::Ping { len } | Frame::Pong { len } => {
                            assert!(len > 0 && len <= s.len());
                            s.consume(len);
                        }
                        Frame::Partial => break,
                        Frame::Error(_) => {
                            s.consume(s.len());
                            break;
                        }
                    }
                }
            }
        }
    }
}
