//! A firmware-sized sipwire user agent: `no_std`, no heap, for a Cortex-M4F
//! (`thumbv7em-none-eabihf`).
//!
//! It links the *phone profile* — one registration, two calls — so that `size.sh` can measure
//! what sipwire costs in flash and static RAM on a microcontroller. It is also the shape of a
//! real SIP phone's main loop over the sans-IO core:
//!
//! ```text
//! loop {
//!     radio.recv into ua.inbox_mut() -> ua.handle_inbox(now, ..); send what it queued
//!     deadline passed -> ua.handle(now, Input::Timeout); send what it queued
//!     keypad -> ua.invite / ua.reinvite (hold) / ua.hangup
//!     ua.poll_event   -> ring + answer an incoming call, count ended calls
//!     ua.poll_transmit -> radio.send
//!     wfi (SysTick wakes us every millisecond)
//! }
//! ```
//!
//! The radio and the keypad are traits; the implementations here are opaque stand-ins
//! (`core::hint::black_box`) so that the optimizer must keep every path a real driver would
//! reach, and the measured size is the size of a phone, not of a program that does nothing.
//!
//! All memory is fixed at link time: every buffer is a `cortex_m::singleton!` (a named
//! `static` handed out once as `&'static mut`), so `.bss` shows the whole working set.
#![no_std]
#![no_main]

use core::hint::black_box;
use core::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use core::sync::atomic::{AtomicU32, Ordering};

use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::{entry, exception};
use panic_halt as _;

use sipwire_core::endpoint::{Config, Endpoint, Input, Tx};
use sipwire_core::message::validate::Policy;
use sipwire_core::time::Instant;
use sipwire_core::transaction::{Slot, TimerConfig};
use sipwire_core::transport::Transport;
use sipwire_core::ua::{Call, CallId, UaConfig, UaEvent, UserAgent};

mod vectors;

// ---------------------------------------------------------------------------------------------
// The phone profile: capacities, and why.
// ---------------------------------------------------------------------------------------------

/// Calls at once: one placed and one received (call waiting / transfer needs two).
const CALLS: usize = 2;

/// Transaction slots. The profile's peak is: the REGISTER refresh, the INVITE of each of
/// the two calls (RFC 6026 keeps an answered INVITE transaction 64·T1 = 32 s for its 2xx
/// retransmissions), and one in-dialog request (the hold re-INVITE, or a BYE). A fifth at
/// once is not lost: an outgoing request gets `TableFull` to retry, an incoming one a 503
/// with Retry-After (§21.5.4) that the peer retries.
const TRANSACTIONS: usize = 4;

/// The largest message kept, in bytes. A phone call's INVITE with a one-stream audio SDP is
/// well under 1 KiB. §18.1.1 lets a UDP request grow to 1300 bytes when the path MTU is
/// unknown; a request between 1024 and 1300 bytes (many codecs, ICE candidates) is answered
/// 513 here. 1300 would admit all of them for 9 × 276 = 2,484 more bytes of RAM (8 arena
/// regions and the UA inbox, which is also the radio's receive buffer). This is the
/// profile's main RAM knob.
const MAX_MESSAGE: usize = 1024;

/// Arena regions of `MAX_MESSAGE` bytes, lent to transactions on demand (a request, a last
/// response) and returned when the state no longer needs them: a REGISTER or BYE holds none
/// once answered, an INVITE transaction holds two through its 32 s Accepted state, a server
/// non-INVITE one in Completed. Six cover one call at its peak (the INVITE's two, a BYE or
/// re-INVITE, a REGISTER refresh) and two calls with one more request; a request beyond
/// that (both calls' INVITEs within 32 s of their 2xx, plus a refresh, plus a BYE) is
/// refused like a full table: `TableFull` for ours (the registration retries), 503 with
/// Retry-After for the peer's. Two per slot (8) would never refuse; each region is 1 KiB.
/// The arena adds its own scratch region (stateless answers, ACKs for a 2xx, a CANCEL
/// being built: the phone drains its outputs after every input, so one is enough); an ACK
/// for a non-2xx final, built when polled, borrows whichever region is free at that moment.
const REGIONS: usize = 6;

/// The endpoint's byte arena: the region pool and the scratch region.
const ARENA: usize = Endpoint::arena_len_with_regions(REGIONS, MAX_MESSAGE);

/// Bytes of session descriptions a call keeps: ours, the peer's and a pending re-INVITE
/// offer together, each at most `SDP_MAX`. Our descriptions are under 200 bytes and a
/// phone's peer sends one audio stream, so three fit with room to spare; a peer's offer that
/// does not fit is answered 488/500, ours is refused with `BadInput`, never truncated.
const SDP_BYTES: usize = 1024;

/// Bytes of dialog text a call keeps: Call-ID, tags, the two URIs, the remote target and
/// the route set (two Record-Routes through a PBX fit with room to spare).
const DIALOG_BYTES: usize = 512;

/// Bytes of a call's own text: its Call-ID, our tag, the peer's From tag or the number we
/// dialled, then the To tags of up to four early dialogs. A PBX's Call-ID and tags take well
/// under 200 bytes; identity text that does not fit refuses the call (500), a fork tag that
/// does not fit is not remembered. The server default is 768.
const CALL_ID_BYTES: usize = 384;

/// Events the UA holds until the loop takes them. One input raises a few at most (a
/// response: Ringing or Answered; a timer: an ended call, a registration's outcome), and the
/// loop takes them every millisecond, after the datagrams that arrived meanwhile: eight
/// cover a burst of them. When full, the oldest is lost. Each costs 76 bytes of RAM.
const EVENTS: usize = 8;

/// The phone's call slot and user agent, with the capacities above.
type PhoneCall = Call<SDP_BYTES, DIALOG_BYTES, CALL_ID_BYTES>;
type Phone = UserAgent<'static, 'static, SDP_BYTES, DIALOG_BYTES, EVENTS, CALL_ID_BYTES>;

/// Core clock, Hz (an STM32F4's 16 MHz internal oscillator after reset). SysTick ticks at
/// 1 kHz from it.
const SYSCLK_HZ: u32 = 16_000_000;

/// Registration lifetime asked for, seconds (the UA refreshes before it runs out).
const REGISTER_EXPIRES: u32 = 600;

// Where the phone is. On a device these come from DHCP and provisioning.
const LOCAL: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 10), 5060));
const PBX: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), 5060));
const CALLEE: &str = "sip:bob@pbx.example.com";

/// Our offer for an outgoing call, and our answer to an incoming one (PCMU/PCMA + DTMF).
const SDP: &[u8] = b"v=0\r\no=phone 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\n\
t=0 0\r\nm=audio 4000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n";
/// The hold offer (RFC 3264 §8.4: `sendonly`), version 2 of the session.
const HOLD: &[u8] = b"v=0\r\no=phone 1 2 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\n\
t=0 0\r\nm=audio 4000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=sendonly\r\n";

/// RFC 3264 offer/answer with the core's SDP module (feature `sdp`): our answer to the peer's
/// offer, from the codecs we run.
#[cfg(feature = "sdp")]
mod media {
    use sipwire_core::sdp::{self, Codec, Direction, LocalMedia, LocalStream, SessionDescription};

    /// G.711 both laws and DTMF events (RFC 4733).
    const CODECS: [Codec; 3] = [Codec::PCMU, Codec::PCMA, Codec::TELEPHONE_EVENT];
    const LOCAL: LocalMedia<'static> = LocalMedia {
        username: "phone",
        session_id: 1,
        address: "192.0.2.10",
        streams: &[LocalStream {
            media: "audio",
            port: 4000,
            direction: Direction::SendRecv,
            ptime: None,
        }],
    };

    /// Room for our answer: one audio stream with three codecs takes a few hundred bytes.
    pub const ANSWER_MAX: usize = 512;

    /// Our answer to `offer` in `out`, or `None` if the offer is malformed or shares no codec
    /// with us (answer 488 Not Acceptable Here then).
    pub fn answer<'o>(offer: &[u8], version: u64, out: &'o mut [u8]) -> Option<&'o [u8]> {
        let offer = SessionDescription::parse(offer).ok()?;
        sdp::answer(&offer, &CODECS, &LOCAL, version, out).ok()
    }
}

// ---------------------------------------------------------------------------------------------
// Time: SysTick at 1 kHz.
// ---------------------------------------------------------------------------------------------

/// Milliseconds since boot, modulo 2^32 (an atomic add is one LDREX/STREX loop on ARMv7-M:
/// no critical section).
static TICKS: AtomicU32 = AtomicU32::new(0);

#[exception]
fn SysTick() {
    TICKS.fetch_add(1, Ordering::Relaxed);
}

/// Extends the 32-bit millisecond counter to the core's 64-bit [`Instant`]: read it at
/// least once every 49 days (the loop reads it every millisecond).
struct Clock {
    last: u32,
    millis: u64,
}

impl Clock {
    fn now(&mut self) -> Instant {
        let t = TICKS.load(Ordering::Relaxed);
        self.millis += u64::from(t.wrapping_sub(self.last));
        self.last = t;
        Instant::from_millis(self.millis)
    }
}

// ---------------------------------------------------------------------------------------------
// The radio (a UDP socket on a network stack, a Wi-Fi or cellular modem ...).
// ---------------------------------------------------------------------------------------------

/// Datagram I/O as the phone needs it.
trait Radio {
    /// One received datagram into `buf`: its length and sender, or `None` if none waits.
    fn recv(&mut self, buf: &mut [u8]) -> Option<(usize, SocketAddr)>;
    /// Sends one datagram.
    fn send(&mut self, to: SocketAddr, bytes: &[u8]);
}

/// A stand-in radio whose behaviour the optimizer cannot see: it may fill the buffer with any
/// bytes from any sender, so the whole receive path stays in the image.
struct OpaqueRadio;

impl Radio for OpaqueRadio {
    fn recv(&mut self, buf: &mut [u8]) -> Option<(usize, SocketAddr)> {
        cortex_m::asm::nop();
        // The "driver" may have written any bytes into `buf`.
        let buf = black_box(buf);
        let len = black_box(0usize);
        (len > 0 && len <= buf.len()).then(|| (len, black_box(PBX)))
    }

    fn send(&mut self, to: SocketAddr, bytes: &[u8]) {
        cortex_m::asm::nop();
        black_box((to, bytes));
    }
}

// ---------------------------------------------------------------------------------------------
// The keypad.
// ---------------------------------------------------------------------------------------------

/// What the user asks for.
#[derive(Clone, Copy)]
enum Key {
    /// Call the configured callee.
    Dial,
    /// Put the current call on hold (a re-INVITE with a `sendonly` offer).
    Hold,
    /// End the current call.
    Hangup,
}

/// Key presses as the phone needs them.
trait Keypad {
    fn key(&mut self) -> Option<Key>;
}

/// A stand-in keypad: any key, any time, as far as the optimizer knows.
struct OpaqueKeypad;

impl Keypad for OpaqueKeypad {
    fn key(&mut self) -> Option<Key> {
        match black_box(0u8) {
            1 => Some(Key::Dial),
            2 => Some(Key::Hold),
            3 => Some(Key::Hangup),
            _ => None,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The phone.
// ---------------------------------------------------------------------------------------------

/// Calls that ended, for a status LED or a log.
static ENDED: AtomicU32 = AtomicU32::new(0);

/// UA command failures (full tables, wrong state): a real phone beeps.
static FAILED: AtomicU32 = AtomicU32::new(0);

fn count<T, E>(r: Result<T, E>) -> Option<T> {
    r.map_err(|_| FAILED.fetch_add(1, Ordering::Relaxed)).ok()
}

/// Our session description for a call: the answer to the peer's offer, or our offer when
/// the peer sent none. `None`: the offer is unacceptable (488).
#[cfg(feature = "sdp")]
fn local_sdp(ua: &Phone, call: CallId, version: u64) -> Option<SdpBytes> {
    let mut out = SdpBytes {
        bytes: [0; media::ANSWER_MAX],
        len: 0,
    };
    match ua.remote_sdp(call) {
        Some(offer) => out.len = media::answer(offer, version, &mut out.bytes)?.len(),
        None => {
            out.bytes[..SDP.len()].copy_from_slice(SDP);
            out.len = SDP.len();
        }
    }
    Some(out)
}

/// Without the `sdp` feature every call gets the one static description.
#[cfg(not(feature = "sdp"))]
fn local_sdp(_: &Phone, _: CallId, _: u64) -> Option<SdpBytes> {
    Some(SdpBytes)
}

/// A session description built for one answer.
#[cfg(feature = "sdp")]
struct SdpBytes {
    bytes: [u8; media::ANSWER_MAX],
    len: usize,
}

/// The static description, as a zero-sized stand-in.
#[cfg(not(feature = "sdp"))]
struct SdpBytes;

impl SdpBytes {
    #[cfg(feature = "sdp")]
    fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    #[cfg(not(feature = "sdp"))]
    fn as_slice(&self) -> &[u8] {
        SDP
    }
}

/// The call slots, in their static storage; out of line so that the temporary `Call`s of
/// `Default` (over 4 KiB for two) are not in the same frame as the UA's.
#[inline(never)]
fn call_slots() -> &'static mut [PhoneCall; CALLS] {
    // `singleton!` runs once, here: the unwrap cannot fail.
    cortex_m::singleton!(CALL_SLOTS: [PhoneCall; CALLS] = Default::default()).unwrap()
}

/// Builds the UA in its static storage. Out of line, so that the temporaries of construction
/// live in this frame, freed before the main loop runs, not in `main`'s permanent frame.
#[inline(never)]
fn init(calls: &'static mut [PhoneCall; CALLS]) -> &'static mut Phone {
    // Each `singleton!` runs once, here, so none of these unwraps can fail.
    let slots = cortex_m::singleton!(SLOTS: [Slot<Tx>; TRANSACTIONS] = core::array::from_fn(|_| Slot::default())).unwrap();
    let arena = cortex_m::singleton!(ARENA_BUF: [u8; ARENA] = [0; ARENA]).unwrap();
    let inbox = cortex_m::singleton!(INBOX: [u8; MAX_MESSAGE] = [0; MAX_MESSAGE]).unwrap();

    let config = Config {
        timers: TimerConfig::default(),
        // A per-device seed (from the unique ID or a TRNG) keeps tags and branches unique.
        seed: black_box(0x5eed_5eed),
        max_message: MAX_MESSAGE,
        retry_after: 5,
        path_mtu: None,
        stateless: false,
        keep_accepted: true,
    };
    let endpoint = Endpoint::new(config, &mut slots[..], &mut arena[..]);
    let ua_config = UaConfig {
        local: LOCAL,
        transport: Transport::Udp,
        user: "alice",
        domain: "pbx.example.com",
        display_name: Some("Alice"),
        outbound_proxy: Some(PBX),
        policy: Policy {
            methods: &["INVITE", "ACK", "CANCEL", "BYE", "OPTIONS"],
            ..Policy::UAS
        },
    };
    // `new` fails only on names too long for the UA's text buffer; these are short.
    let ua = UserAgent::new(ua_config, endpoint, &mut calls[..], &mut inbox[..]).unwrap();
    cortex_m::singleton!(UA: Phone = ua).unwrap()
}

/// Sends everything the UA has queued (out of line: it runs after every input).
#[inline(never)]
fn send_all(ua: &mut Phone, radio: &mut impl Radio) {
    while let Some(t) = ua.poll_transmit() {
        radio.send(t.remote, t.bytes);
    }
}

#[entry]
fn main() -> ! {
    // `take` is `None` only on a second call; this is the first and only one.
    let mut cp = cortex_m::Peripherals::take().unwrap();
    cp.SYST.set_clock_source(SystClkSource::Core);
    cp.SYST.set_reload(SYSCLK_HZ / 1000 - 1);
    cp.SYST.clear_current();
    cp.SYST.enable_counter();
    cp.SYST.enable_interrupt();

    let ua = init(call_slots());

    let mut clock = Clock { last: 0, millis: 0 };
    let mut radio = OpaqueRadio;
    let mut keypad = OpaqueKeypad;
    // The call the keypad acts on: the one placed, or the one answered last.
    let mut current: Option<CallId> = None;

    count(ua.register(clock.now(), PBX, REGISTER_EXPIRES));

    loop {
        let now = clock.now();

        // The radio reads straight into the UA's inbox (no second receive buffer), and what
        // each datagram makes us send leaves before the next one is read: the endpoint's
        // one scratch region is free again for the next input.
        while let Some((len, remote)) = radio.recv(ua.inbox_mut()) {
            ua.handle_inbox(now, Transport::Udp, LOCAL, remote, len);
            send_all(ua, &mut radio);
        }

        if ua.poll_timeout().is_some_and(|at| at <= now) {
            ua.handle(now, Input::Timeout);
            send_all(ua, &mut radio);
        }

        match keypad.key() {
            Some(Key::Dial) => current = count(ua.invite(now, CALLEE, Some(SDP))).or(current),
            Some(Key::Hold) => {
                if let Some(call) = current {
                    count(ua.reinvite(now, call, HOLD));
                }
            }
            Some(Key::Hangup) => {
                if let Some(call) = current.take() {
                    count(ua.hangup(now, call));
                }
            }
            None => {}
        }

        while let Some(event) = ua.poll_event() {
            match event {
                UaEvent::IncomingCall { call } => {
                    count(ua.ring(now, call));
                    match local_sdp(ua, call, 1) {
                        Some(sdp) => {
                            count(ua.answer(now, call, sdp.as_slice()));
                            current = Some(call);
                        }
                        None => {
                            count(ua.reject(now, call, 488));
                        }
                    }
                }
                // No arm for `Answered`: the phone's INVITE always carries its offer (Dial
                // above), so the UA ACKs the 2xx itself (§13.2.2.4) and a call never waits in
                // `CallState::AwaitingAck` for `ua.ack` (a delayed offer, which we never make).
                // The peer holds or resumes: accept with our answer, or refuse with 488.
                UaEvent::Reinvite { call } => match local_sdp(ua, call, 2) {
                    Some(sdp) => {
                        count(ua.accept_reinvite(now, call, sdp.as_slice()));
                    }
                    None => {
                        count(ua.reject_reinvite(now, call, 488));
                    }
                },
                UaEvent::Ended { call, .. } => {
                    ENDED.fetch_add(1, Ordering::Relaxed);
                    if current == Some(call) {
                        current = None;
                    }
                }
                _ => {}
            }
        }

        send_all(ua, &mut radio);

        // Sleep until the next interrupt: SysTick every millisecond, or the radio's.
        cortex_m::asm::wfi();
    }
}
