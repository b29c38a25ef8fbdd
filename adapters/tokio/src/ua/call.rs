//! Call handles: an outgoing or answered call ([`Call`]) and one still ringing here
//! ([`IncomingCall`]).

use std::sync::{Arc, Mutex};

use sipwire_core::sdp::Direction;
use sipwire_core::ua::{CallId, EndReason};
use tokio::sync::{mpsc, oneshot};

use super::driver::Command;
use super::Error;
use crate::media::Media;

/// What happened to a call.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallEvent {
    /// A provisional response to our INVITE (180 Ringing, 183 Session Progress ...);
    /// `early_media` when it carried a session description.
    Ringing {
        /// The status.
        code: u16,
        /// Whether the response carried SDP (early media).
        early_media: bool,
        /// The early media negotiated, when that SDP answers our offer with a common codec.
        media: Option<Media>,
    },
    /// Our INVITE was answered (for an outgoing call), with what the offer/answer agreed.
    Answered {
        /// The negotiated media, when the descriptions have a common codec.
        media: Option<Media>,
    },
    /// The ACK for our 2xx arrived: the call is up (an answered incoming call).
    Confirmed,
    /// The peer re-INVITEd (§14.2) and we answered: hold, resume or a change.
    Reinvited {
        /// The media as it is now; `None` when we refused the offer with 488 and kept the
        /// old session.
        media: Option<Media>,
    },
    /// Our re-INVITE got its final status: 2xx changed the session, anything else left it
    /// as it was (§14.1).
    ReinviteDone {
        /// The status.
        code: u16,
        /// The media as it is now.
        media: Option<Media>,
    },
    /// The call is over.
    Ended {
        /// Why.
        reason: EndReason,
    },
}

/// What the task and the handles share about one call.
#[derive(Debug, Default)]
pub(crate) struct CallInfo {
    pub(crate) ended: Option<EndReason>,
    pub(crate) media: Option<Media>,
    /// The peer's URI (From of an incoming call, To of ours).
    pub(crate) remote: String,
}

pub(crate) type SharedInfo = Arc<Mutex<CallInfo>>;

fn lock(info: &SharedInfo) -> std::sync::MutexGuard<'_, CallInfo> {
    info.lock().unwrap_or_else(|e| e.into_inner())
}

/// A call: ours, or an incoming one we answered. Dropping it hangs up (CANCEL before an
/// answer, BYE after); the user agent's task completes that exchange.
pub struct Call {
    id: CallId,
    commands: mpsc::UnboundedSender<Command>,
    events: mpsc::Receiver<CallEvent>,
    info: SharedInfo,
}

impl Call {
    pub(crate) fn new(
        id: CallId,
        commands: mpsc::UnboundedSender<Command>,
        events: mpsc::Receiver<CallEvent>,
        info: SharedInfo,
    ) -> Call {
        Call {
            id,
            commands,
            events,
            info,
        }
    }

    /// The core's name for the call.
    pub fn id(&self) -> CallId {
        self.id
    }

    /// The peer's URI.
    pub fn remote_uri(&self) -> String {
        lock(&self.info).remote.clone()
    }

    /// The media as last negotiated (the codec, the peer's RTP address, the direction).
    pub fn media(&self) -> Option<Media> {
        lock(&self.info).media
    }

    /// Why the call ended, once it has.
    pub fn end_reason(&self) -> Option<EndReason> {
        lock(&self.info).ended
    }

    /// The next event; `None` after [`CallEvent::Ended`].
    pub async fn next_event(&mut self) -> Option<CallEvent> {
        self.events.recv().await
    }

    /// Waits for the answer to our INVITE (skipping provisional responses): the negotiated
    /// media, or why the call ended instead ([`Error::Ended`] with
    /// [`EndReason::Rejected`] for a final non-2xx).
    pub async fn answered(&mut self) -> Result<Media, Error> {
        loop {
            match self.next_event().await {
                Some(CallEvent::Answered { media }) => {
                    return media.ok_or(Error::NotAcceptable);
                }
                Some(CallEvent::Confirmed) => {
                    if let Some(m) = self.media() {
                        return Ok(m);
                    }
                }
                Some(CallEvent::Ended { reason }) => return Err(Error::Ended(reason)),
                Some(_) => {}
                None => return Err(self.end_reason().map_or(Error::Closed, Error::Ended)),
            }
        }
    }

    /// Waits until the call ends (the peer hangs up, say) and says why.
    pub async fn ended(&mut self) -> EndReason {
        loop {
            match self.next_event().await {
                Some(CallEvent::Ended { reason }) => return reason,
                Some(_) => {}
                None => return self.end_reason().unwrap_or(EndReason::Timeout),
            }
        }
    }

    async fn ask<R>(&self, make: impl FnOnce(oneshot::Sender<R>) -> Command) -> Result<R, Error> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(make(tx)).map_err(|_| Error::Closed)?;
        rx.await.map_err(|_| Error::Closed)
    }

    async fn reinvite(&self, direction: Direction) -> Result<Media, Error> {
        let id = self.id;
        self.ask(|reply| Command::Reinvite {
            call: id,
            direction,
            reply,
        })
        .await?
    }

    /// Puts the peer on hold: a re-INVITE offering `sendonly` (RFC 3264 §8.4). On a
    /// non-2xx ([`Error::Status`]) the call goes on as it was.
    pub async fn hold(&self) -> Result<Media, Error> {
        self.reinvite(Direction::SendOnly).await
    }

    /// Takes the peer off hold: a re-INVITE offering `sendrecv`.
    pub async fn resume(&self) -> Result<Media, Error> {
        self.reinvite(Direction::SendRecv).await
    }

    /// Hangs up (CANCEL before an answer, §9.1; BYE after, §15.1) and waits until the call
    /// has ended; says why it ended (the peer may have hung up first).
    pub async fn hangup(mut self) -> Result<EndReason, Error> {
        if let Some(reason) = self.end_reason() {
            return Ok(reason);
        }
        let id = self.id;
        let reason = self
            .ask(|reply| Command::Hangup {
                call: id,
                reply: Some(reply),
            })
            .await?;
        // Nothing left to hang up on drop.
        self.events.close();
        Ok(reason)
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        if self.end_reason().is_none() {
            let _ = self.commands.send(Command::Hangup {
                call: self.id,
                reply: None,
            });
        }
    }
}

/// A call ringing here (§13.3.1): answer it, reject it, or let it ring. Dropping it
/// declines the call (603).
pub struct IncomingCall {
    id: CallId,
    commands: mpsc::UnboundedSender<Command>,
    events: Option<mpsc::Receiver<CallEvent>>,
    info: SharedInfo,
    offer: Option<Vec<u8>>,
    decided: bool,
}

impl IncomingCall {
    pub(crate) fn new(
        id: CallId,
        commands: mpsc::UnboundedSender<Command>,
        events: mpsc::Receiver<CallEvent>,
        info: SharedInfo,
        offer: Option<Vec<u8>>,
    ) -> IncomingCall {
        IncomingCall {
            id,
            commands,
            events: Some(events),
            info,
            offer,
            decided: false,
        }
    }

    /// The core's name for the call.
    pub fn id(&self) -> CallId {
        self.id
    }

    /// The caller's URI (the INVITE's From).
    pub fn from(&self) -> String {
        lock(&self.info).remote.clone()
    }

    /// The caller's offer, if the INVITE had one.
    pub fn offer(&self) -> Option<&[u8]> {
        self.offer.as_deref()
    }

    /// Why the call ended before we decided (the caller cancelled it, say).
    pub fn end_reason(&self) -> Option<EndReason> {
        lock(&self.info).ended
    }

    async fn ask<R>(&self, make: impl FnOnce(oneshot::Sender<R>) -> Command) -> Result<R, Error> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(make(tx)).map_err(|_| Error::Closed)?;
        rx.await.map_err(|_| Error::Closed)
    }

    /// Sends 180 Ringing.
    pub async fn ring(&self) -> Result<(), Error> {
        let id = self.id;
        self.ask(|reply| Command::Ring { call: id, reply }).await?
    }

    /// Answers with 200 OK and our answer to the offer, written from the configured media
    /// (or our offer, when the INVITE had none). With no common codec the call is refused
    /// with 488 and this is [`Error::NotAcceptable`].
    pub async fn answer(self) -> Result<Call, Error> {
        self.answer_with(None).await
    }

    /// Answers with 200 OK carrying `sdp`, a session description the application wrote.
    pub async fn answer_sdp(self, sdp: Vec<u8>) -> Result<Call, Error> {
        self.answer_with(Some(sdp)).await
    }

    async fn answer_with(mut self, sdp: Option<Vec<u8>>) -> Result<Call, Error> {
        let id = self.id;
        self.decided = true;
        let result = self
            .ask(|reply| Command::Answer {
                call: id,
                sdp,
                reply,
            })
            .await;
        let events = self.events.take().ok_or(Error::Closed)?;
        match result {
            Ok(Ok(())) => Ok(Call::new(
                id,
                self.commands.clone(),
                events,
                self.info.clone(),
            )),
            Ok(Err(e)) => Err(e),
            Err(e) => Err(e),
        }
    }

    /// Rejects the call with a final status (486 Busy Here, 603 Decline ...).
    pub async fn reject(mut self, code: u16) -> Result<(), Error> {
        let id = self.id;
        self.decided = true;
        self.ask(|reply| Command::Reject {
            call: id,
            code,
            reply,
        })
        .await?
    }
}

impl Drop for IncomingCall {
    fn drop(&mut self) {
        if !self.decided && self.end_reason().is_none() {
            let _ = self.commands.send(Command::Hangup {
                call: self.id,
                reply: None,
            });
        }
    }
}
