//! [`PeerIdTable`]: one shared copy of each peer ID that heard lists name.
//!
//! A heard list (docs/protocol/netgroup.md, "Identities and the ring") holds hundreds of records,
//! each naming a member by its 32-byte peer ID; in a process that runs many group engines (the
//! simulator's 100,000 members, a server hosting several nodes) the same IDs recur in every
//! engine's list. A record keeps a [`SharedPeerId`] instead, an 8-byte reference to the table's
//! copy, so a record is 24 bytes (docs/performance-history.md, stop 20).
//!
//! The table is memory only: it decides nothing, and nothing read from it depends on which
//! engines share it or in which order they added IDs. It is a B-tree of references ordered by
//! ID (no hashing, so IDs chosen to collide cost nothing more); an ID leaves it once no record
//! refers to it, in a sweep that runs when the table has doubled since the last one. Its size
//! is bounded by the records that refer to it (each heard list is bounded by
//! [`crate::GroupConfig::max_heard`]) plus at most as many again awaiting a sweep.

use std::borrow::Borrow;
use std::collections::BTreeSet;
use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, Mutex, PoisonError};

use crate::id::PeerId;

/// Fewest entries before the table sweeps out IDs no record refers to.
const MIN_SWEEP: usize = 1024;

/// A peer ID held in a [`PeerIdTable`]: 8 bytes, dereferences to the [`PeerId`].
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SharedPeerId(Arc<PeerId>);

impl Deref for SharedPeerId {
    type Target = PeerId;

    fn deref(&self) -> &PeerId {
        &self.0
    }
}

/// Maps keyed by [`SharedPeerId`] are looked up by [`PeerId`] (equality and order are the
/// ID's).
impl Borrow<PeerId> for SharedPeerId {
    fn borrow(&self) -> &PeerId {
        &self.0
    }
}

impl fmt::Debug for SharedPeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

#[derive(Default)]
struct Inner {
    ids: BTreeSet<Arc<PeerId>>,
    /// Entries left by the last sweep.
    live: usize,
}

/// The shared copies of peer IDs (see the module docs). Cloning gives another handle to the
/// same table: group engines whose [`crate::GroupConfig`] is a clone of one value share it. A
/// fresh table is empty. Safe to share between threads (one lock, taken only when a heard list
/// adds a member).
#[derive(Clone, Default)]
pub struct PeerIdTable(Arc<Mutex<Inner>>);

impl PeerIdTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// The table's copy of `id`, added if absent.
    pub fn intern(&self, id: &PeerId) -> SharedPeerId {
        // A panic elsewhere while the lock was held leaves the set consistent (every change
        // is one insertion or one retain), so a poisoned lock is taken as is.
        let mut t = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(a) = t.ids.get(id) {
            return SharedPeerId(Arc::clone(a));
        }
        if t.ids.len() >= MIN_SWEEP.max(2 * t.live) {
            // Only the table refers to them any more.
            t.ids.retain(|a| Arc::strong_count(a) > 1);
            t.live = t.ids.len();
        }
        let a = Arc::new(*id);
        t.ids.insert(Arc::clone(&a));
        SharedPeerId(a)
    }

    /// Number of IDs held, those awaiting a sweep included.
    pub fn len(&self) -> usize {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .ids
            .len()
    }

    /// Whether the table holds no ID.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Debug for PeerIdTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PeerIdTable")
            .field("len", &self.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(i: u32) -> PeerId {
        let mut b = [0u8; 32];
        b[..4].copy_from_slice(&i.to_be_bytes());
        b[31] = 0x5a;
        PeerId(b)
    }

    #[test]
    fn one_copy_per_id_shared_by_clones() {
        let t = PeerIdTable::new();
        let t2 = t.clone();
        let a = t.intern(&id(1));
        let b = t2.intern(&id(1));
        assert!(Arc::ptr_eq(&a.0, &b.0), "clones of the table share copies");
        assert_eq!(*a, id(1));
        assert_ne!(*t.intern(&id(2)), id(1));
        assert_eq!(t.len(), 2);
        assert_eq!(std::mem::size_of::<SharedPeerId>(), 8);
        // Separate tables do not share.
        let other = PeerIdTable::new().intern(&id(1));
        assert!(!Arc::ptr_eq(&a.0, &other.0));
        assert_eq!(a, other, "equality is by ID");
    }

    #[test]
    fn unreferenced_ids_are_swept_and_the_table_stays_bounded() {
        let t = PeerIdTable::new();
        let kept: Vec<SharedPeerId> = (0..100).map(|i| t.intern(&id(i))).collect();
        // Many IDs that nothing keeps: the table never holds more than twice the larger of
        // the sweep floor and what is referenced.
        for i in 1000..20_000 {
            drop(t.intern(&id(i)));
            assert!(t.len() <= 2 * MIN_SWEEP + 1, "len {}", t.len());
        }
        // The referenced ones survived every sweep and are still the table's copies.
        for (i, k) in kept.iter().enumerate() {
            assert_eq!(**k, id(i as u32));
            assert!(Arc::ptr_eq(&k.0, &t.intern(&id(i as u32)).0));
        }
    }
}
