//! The id hasher: shared by assembly's id-keyed tables and ingest's per-event lookups, so it lives in neither.

use std::hash::{BuildHasher, Hasher};

/// Hashing for maps keyed by trace and span ids, which are looked up several times per event (and for the few
/// other per-event lookups: the reorder buffer's pids, the catalogue's names). The ids are 8 or 16
/// bytes: a multiply-rotate per 8-byte word from a per-process random seed is a fraction of SipHash's cost, and
/// without the seed, ids chosen on the wire cannot be made to collide.
#[derive(Clone, Copy)]
pub struct IdHash(u64);

impl Default for IdHash {
    fn default() -> Self {
        static SEED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
        IdHash(*SEED.get_or_init(|| std::collections::hash_map::RandomState::new().hash_one(0u64) | 1))
    }
}

impl BuildHasher for IdHash {
    type Hasher = IdHasher;
    fn build_hasher(&self) -> IdHasher {
        IdHasher(self.0)
    }
}

pub struct IdHasher(u64);

const MUL: u64 = 0x9e37_79b9_7f4a_7c15;

impl IdHasher {
    fn mix(&mut self, word: u64) {
        self.0 = (self.0 ^ word).wrapping_mul(MUL).rotate_left(29);
    }
}

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.mix(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            self.mix(u64::from_le_bytes(last) ^ ((rest.len() as u64) << 59));
        }
    }
    fn write_usize(&mut self, n: usize) {
        self.mix(n as u64);
    }
    fn finish(&self) -> u64 {
        // A last avalanche, so the table's low bits depend on every input bit.
        let h = self.0.wrapping_mul(MUL);
        h ^ (h >> 32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_hash_depends_on_every_byte_and_spreads_sequential_ids() {
        let h = IdHash::default();
        let base = [7u8; 16];
        for i in 0..16 {
            let mut other = base;
            other[i] ^= 1;
            assert_ne!(h.hash_one(base), h.hash_one(other), "byte {i} changes the hash");
        }
        // Ids that differ only in their first or last bytes still use the whole table (its low bits).
        for at in [0usize, 7, 15] {
            let buckets: std::collections::HashSet<u64> = (0..4096u32)
                .map(|n| {
                    let mut id = [0u8; 16];
                    id[at] = n as u8;
                    id[(at + 1) % 16] = (n >> 8) as u8;
                    h.hash_one(id) & 4095
                })
                .collect();
            assert!(buckets.len() > 2400, "{} of 4096 buckets used (bytes at {at})", buckets.len());
        }
    }
}
