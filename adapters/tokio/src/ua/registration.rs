//! A registration kept in place by the user agent's task (§10.2).

use sipwire_core::ua::register::RegistrationEvent;
use tokio::sync::{mpsc, oneshot};

use super::driver::Command;
use super::Error;

/// Our binding at a registrar, refreshed before it expires. Its events report refreshes,
/// failures (the task keeps retrying, §10.2.7 style) and expiry. Dropping it removes the
/// binding (a REGISTER with `Expires: 0`, §10.2.2).
pub struct Registration {
    commands: mpsc::UnboundedSender<Command>,
    events: mpsc::Receiver<RegistrationEvent>,
    expires: u32,
    active: bool,
}

impl Registration {
    pub(crate) fn new(
        commands: mpsc::UnboundedSender<Command>,
        events: mpsc::Receiver<RegistrationEvent>,
        expires: u32,
    ) -> Registration {
        Registration {
            commands,
            events,
            expires,
            active: true,
        }
    }

    /// The interval the registrar granted first, in seconds.
    pub fn expires(&self) -> u32 {
        self.expires
    }

    /// The next event: `Registered` at each refresh, `Failed` with the status (408: no
    /// answer, or the binding expired) when one fails.
    pub async fn next_event(&mut self) -> Option<RegistrationEvent> {
        self.events.recv().await
    }

    /// Removes the binding and waits for the registrar's answer.
    pub async fn unregister(mut self) -> Result<(), Error> {
        self.active = false;
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(Command::Unregister { reply: Some(tx) })
            .map_err(|_| Error::Closed)?;
        rx.await.map_err(|_| Error::Closed)?
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        if self.active {
            let _ = self.commands.send(Command::Unregister { reply: None });
        }
    }
}
