//! Routing of the group engine's events to the channel of the [`crate::NetGroup`] they belong
//! to.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rtmfp_netgroup::{GroupEvent, GroupHandle};
use tokio::sync::mpsc;

/// Each joined group's event channel, by group.
pub(crate) type Routes = Arc<Mutex<HashMap<GroupHandle, mpsc::Sender<GroupEvent>>>>;

pub(crate) fn lock(
    r: &Routes,
) -> std::sync::MutexGuard<'_, HashMap<GroupHandle, mpsc::Sender<GroupEvent>>> {
    // A panic while holding this lock cannot leave the map inconsistent (single inserts and
    // removes), so a poisoned lock is still usable.
    r.lock().unwrap_or_else(|p| p.into_inner())
}

/// The group an event belongs to.
pub(crate) fn event_group(e: &GroupEvent) -> Option<GroupHandle> {
    match e {
        GroupEvent::ConnectSuccess { group }
        | GroupEvent::ConnectRejected { group, .. }
        | GroupEvent::ConnectFailed { group, .. }
        | GroupEvent::NeighborConnect { group, .. }
        | GroupEvent::NeighborDisconnect { group, .. }
        | GroupEvent::PostingNotify { group, .. }
        | GroupEvent::LocalCoverageNotify { group }
        | GroupEvent::ReplicationRequest { group, .. }
        | GroupEvent::ReplicationFetchSendNotify { group, .. }
        | GroupEvent::ReplicationFetchFailed { group, .. }
        | GroupEvent::ReplicationFetchResult { group, .. }
        | GroupEvent::MulticastPublishNotify { group, .. }
        | GroupEvent::MulticastUnpublishNotify { group, .. }
        | GroupEvent::MulticastMessage { group, .. }
        | GroupEvent::MulticastPlayEnded { group, .. } => Some(*group),
        GroupEvent::SendToNotify(s) => Some(s.group),
        GroupEvent::NetConnection(_) | GroupEvent::Session(_) => None,
    }
}
