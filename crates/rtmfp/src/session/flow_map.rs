//! [`FlowMap`]: a session's flows by flow ID (RFC 7016 §3.6.2, §3.6.3), a sorted vector.
//!
//! A session carries one to a few flows each way. A B-tree allocates a leaf with room for 11
//! entries (≈ 190 bytes of keys and pointers) for the first; a sorted vector of exact capacity
//! costs 16 bytes per flow and finds a flow by binary search. Iteration is in flow-ID order,
//! as with a B-tree, so the order flows are served in is the same. Flows are boxed so that
//! opening or closing one moves pointers, not flow state.

/// Flows keyed by flow ID, iterated in increasing ID order.
#[derive(Debug)]
pub(crate) struct FlowMap<V> {
    entries: Vec<(u64, Box<V>)>,
}

impl<V> Default for FlowMap<V> {
    fn default() -> Self {
        FlowMap {
            entries: Vec::new(),
        }
    }
}

impl<V> FlowMap<V> {
    fn find(&self, id: u64) -> Result<usize, usize> {
        self.entries.binary_search_by_key(&id, |(k, _)| *k)
    }

    /// Number of flows.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Flow `id`.
    pub fn get(&self, id: &u64) -> Option<&V> {
        self.find(*id).ok().map(|i| &*self.entries[i].1)
    }

    /// Flow `id`, mutably.
    pub fn get_mut(&mut self, id: &u64) -> Option<&mut V> {
        let i = self.find(*id).ok()?;
        Some(&mut *self.entries[i].1)
    }

    /// Inserts flow `id`, returning the flow it replaces.
    pub fn insert(&mut self, id: u64, flow: Box<V>) -> Option<Box<V>> {
        match self.find(id) {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].1, flow)),
            Err(i) => {
                // Flows open rarely: grow one slot at a time rather than doubling.
                self.entries.reserve_exact(1);
                self.entries.insert(i, (id, flow));
                None
            }
        }
    }

    /// Removes flow `id`.
    pub fn remove(&mut self, id: &u64) -> Option<Box<V>> {
        let i = self.find(*id).ok()?;
        let (_, flow) = self.entries.remove(i);
        if self.entries.len() <= self.entries.capacity() / 2 {
            self.entries.shrink_to_fit();
        }
        Some(flow)
    }

    /// Removes every flow and frees the storage.
    pub fn clear(&mut self) {
        self.entries = Vec::new();
    }

    /// (flow ID, flow) in increasing ID order.
    pub fn iter(&self) -> impl Iterator<Item = (&u64, &V)> {
        self.entries.iter().map(|(id, f)| (id, &**f))
    }

    /// The flows in increasing ID order.
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.entries.iter().map(|(_, f)| &**f)
    }

    /// The flows in increasing ID order, mutably.
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut V> {
        self.entries.iter_mut().map(|(_, f)| &mut **f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_as_an_ordered_map() {
        let mut m = FlowMap::default();
        assert!(m.insert(5, Box::new("e")).is_none());
        assert!(m.insert(1, Box::new("a")).is_none());
        assert!(m.insert(3, Box::new("c")).is_none());
        assert_eq!(m.insert(3, Box::new("C")).as_deref(), Some(&"c"));
        assert_eq!(m.values().copied().collect::<Vec<_>>(), ["a", "C", "e"]);
        assert_eq!(m.len(), 3);
        assert_eq!(m.iter().map(|(k, _)| *k).collect::<Vec<_>>(), [1, 3, 5]);
        assert!(m.get(&5).is_some() && m.get(&4).is_none());
        *m.get_mut(&1).unwrap() = "A";
        assert_eq!(m.get(&1), Some(&"A"));
        assert_eq!(m.remove(&5).as_deref(), Some(&"e"));
        assert!(m.remove(&5).is_none());
        assert!(m.get(&5).is_none() && m.get_mut(&5).is_none());
        for v in m.values_mut() {
            *v = "z";
        }
        assert_eq!(m.values().copied().collect::<Vec<_>>(), ["z", "z"]);
        m.clear();
        assert_eq!(m.len(), 0);
        assert_eq!(m.entries.capacity(), 0);
    }
}
