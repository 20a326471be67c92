//! The set of live nodes, in a deterministic order, with O(1) insert and remove.

use crate::node::NodeId;

const ABSENT: u32 = u32::MAX;

/// Live nodes (joined and not leaving). Order: join order, perturbed by swap-removal; always the
/// same for the same sequence of joins and leaves.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    live: Vec<NodeId>,
    pos: Vec<u32>,
}

impl Directory {
    /// A directory for `slots` node slots, all down.
    pub fn new(slots: usize) -> Self {
        Directory {
            live: Vec::new(),
            pos: vec![ABSENT; slots],
        }
    }

    /// Marks `n` live (no-op if it already is).
    pub fn insert(&mut self, n: NodeId) {
        if self.pos[n.idx()] == ABSENT {
            self.pos[n.idx()] = self.live.len() as u32;
            self.live.push(n);
        }
    }

    /// Marks `n` not live (no-op if it is not).
    pub fn remove(&mut self, n: NodeId) {
        let p = self.pos[n.idx()];
        if p == ABSENT {
            return;
        }
        self.live.swap_remove(p as usize);
        if let Some(moved) = self.live.get(p as usize) {
            self.pos[moved.idx()] = p;
        }
        self.pos[n.idx()] = ABSENT;
    }

    /// Whether `n` is live.
    pub fn contains(&self, n: NodeId) -> bool {
        self.pos.get(n.idx()).is_some_and(|&p| p != ABSENT)
    }

    /// The live nodes.
    pub fn live(&self) -> &[NodeId] {
        &self.live
    }

    /// Number of live nodes.
    pub fn len(&self) -> usize {
        self.live.len()
    }

    /// Whether no node is live.
    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_remove() {
        let mut d = Directory::new(5);
        for i in 0..5 {
            d.insert(NodeId(i));
        }
        d.remove(NodeId(1));
        d.remove(NodeId(1));
        assert_eq!(d.len(), 4);
        assert!(!d.contains(NodeId(1)));
        assert!(d.contains(NodeId(4)));
        d.remove(NodeId(4));
        d.insert(NodeId(1));
        let mut l = d.live().to_vec();
        l.sort();
        assert_eq!(l, vec![NodeId(0), NodeId(1), NodeId(2), NodeId(3)]);
    }
}
