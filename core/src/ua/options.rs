//! OPTIONS sent by the UA (§11.1): ask a peer or a server what it supports, or only whether
//! it answers. The answer's status arrives as [`UaEvent::OptionsAnswered`].

use super::outbound::{outside_dialog, FromUs};
use super::{UaError, UaEvent, UserAgent};
use crate::endpoint::TransactionId;
use crate::time::Instant;

/// How many OPTIONS requests may be outstanding at once.
pub const OPTIONS_PENDING: usize = 2;

impl<'s, 'c, const S: usize, const T: usize, const E: usize, const I: usize>
    UserAgent<'s, 'c, S, T, E, I>
{
    /// Sends OPTIONS to `target` (a SIP URI with an address host, or any URI when an outbound
    /// proxy is set), outside any dialog (§11.1): its own Call-ID and From tag, `Accept:
    /// application/sdp`. The final status arrives as [`UaEvent::OptionsAnswered`] with the
    /// returned transaction (408 for no answer). [`UaError::TooManyCalls`] when
    /// [`OPTIONS_PENDING`] are outstanding.
    pub fn options(&mut self, now: Instant, target: &str) -> Result<TransactionId, UaError> {
        let slot = self
            .options_tx
            .iter()
            .position(Option::is_none)
            .ok_or(UaError::TooManyCalls)?;
        let dest = self.dest_for_uri(target)?;
        let mut buf = [0u8; 128];
        let (call_id, tag) = self.new_call_id(&mut buf)?;
        let route = [self.names.str(self.proxy_route)];
        let accept = [("Accept", &b"application/sdp"[..])];
        let names = (self.aor, self.contact);
        let from = FromUs::of(&self.config, &self.names, names, tag.as_str(), &route);
        let mut parts = outside_dialog("OPTIONS", target, call_id, 1, from);
        parts.extra = &accept;
        let tx = self.ep.send_request(now, dest, &parts)?;
        self.options_tx[slot] = Some(tx);
        Ok(tx)
    }

    /// A final response to, or the timeout of, one of our OPTIONS; `false` if `tx` is not
    /// one.
    pub(super) fn on_options_outcome(&mut self, tx: TransactionId, code: u16) -> bool {
        let Some(slot) = self.options_tx.iter().position(|t| *t == Some(tx)) else {
            return false;
        };
        if code >= 200 {
            self.options_tx[slot] = None;
            self.emit(UaEvent::OptionsAnswered { tx, code });
        }
        true
    }
}
