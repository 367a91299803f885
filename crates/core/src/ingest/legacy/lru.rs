//! The adapter's bounded maps: each holds at most `cap` entries, the least recently touched go first.

use std::collections::{HashMap, VecDeque};

/// A map bounded to `cap` entries, evicting the least recently touched. Touch order is kept in a queue with
/// lazy deletion (stale positions are skipped, and compacted away when they pile up).
pub struct Lru<V> {
    cap: usize,
    map: HashMap<String, (u64, V)>,
    order: VecDeque<(String, u64)>,
    clock: u64,
}

impl<V> Lru<V> {
    pub fn new(cap: usize) -> Self {
        Lru { cap, map: HashMap::new(), order: VecDeque::new(), clock: 0 }
    }

    pub fn get(&self, k: &str) -> Option<&V> {
        self.map.get(k).map(|(_, v)| v)
    }

    pub fn get_mut(&mut self, k: &str) -> Option<&mut V> {
        self.map.get_mut(k).map(|(_, v)| v)
    }

    pub fn remove(&mut self, k: &str) -> Option<V> {
        self.map.remove(k).map(|(_, v)| v)
    }

    /// Marks `k` most recently used (inserting `make()` if absent); returns what was evicted to make room.
    pub fn touch(&mut self, k: &str, make: impl FnOnce() -> V) -> Option<V> {
        self.clock += 1;
        let gen = self.clock;
        match self.map.get_mut(k) {
            Some(slot) => slot.0 = gen,
            None => {
                self.map.insert(k.to_string(), (gen, make()));
            }
        }
        self.order.push_back((k.to_string(), gen));
        let mut evicted = None;
        if self.map.len() > self.cap {
            while let Some((key, g)) = self.order.pop_front() {
                if self.map.get(&key).is_some_and(|(cur, _)| *cur == g) {
                    evicted = self.map.remove(&key).map(|(_, v)| v);
                    break;
                }
            }
        }
        if self.order.len() > 4 * self.cap.max(16) {
            let map = &self.map;
            self.order.retain(|(key, g)| map.get(key).is_some_and(|(cur, _)| cur == g));
        }
        evicted
    }

    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut V> {
        self.map.values_mut().map(|(_, v)| v)
    }
}
