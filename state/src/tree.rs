//! The sparse Merkle tree: its hashes, and the pages that store it.
//!
//! ```text
//!  path(key)      = H("accord/state-key", key)                       256 bits, MSB first
//!  leaf(key, v)   = H("accord/state-leaf", path(key) ‖ H("accord/state-value", v))
//!  node(l, r)     = H("accord/state-node", l ‖ r)
//!  empty subtree  = EMPTY_ROOT = H("accord/state-empty", "")
//! ```
//!
//! The tree is binary over the 256-bit path. A subtree holding no key hashes to
//! [`EMPTY_ROOT`]; a subtree holding one key hashes to that key's leaf (the leaf sits
//! at the shallowest depth where it is alone); any other subtree hashes to the node of
//! its two halves. The root is therefore a function of the key/value set only.
//!
//! Storage groups four binary levels into a *page*: the page at nibble depth `j` for a
//! path prefix of `j` nibbles holds the 16 subtrees four levels below it, each empty, a
//! single leaf, or a child page (by its hash). A page is stored only when two or more
//! keys lie under it (the root page when one or more do), so each leaf lives in
//! exactly one slot of one page. Node hashes inside a page are recomputed from its
//! slots when needed.
//!
//! ```text
//!   page (j, prefix) ── 4 binary levels ──► slots 0..16 at binary depth 4j+4
//!        slot = empty | leaf{path, value hash, leaf hash} | child page hash
//!
//!   raw key  0x02 ‖ nibble 0 ‖ … ‖ nibble j-1            (one byte per nibble)
//!   record   occupied: u16 LE ‖ leaves: u16 LE ‖ per occupied slot, in order,
//!            path ‖ value hash ‖ leaf hash (96 bytes) or child hash (32 bytes)
//! ```
//!
//! `H(tag, data)` is [`accord_types::Hash::digest`]: blake3 of the tag's length, the
//! tag, then the data.

use accord_types::{Domain, Hash};

/// Domain of a key's path in the tree.
pub const KEY_PATH: Domain = Domain::new("accord/state-key");
/// Domain of value hashes.
pub const VALUE: Domain = Domain::new("accord/state-value");
/// Domain of leaves: a key's path and its value hash.
pub const LEAF: Domain = Domain::new("accord/state-leaf");
/// Domain of inner nodes: the hashes of two halves.
pub const NODE: Domain = Domain::new("accord/state-node");
/// Domain of the empty subtree's hash.
pub const EMPTY: Domain = Domain::new("accord/state-empty");

/// The hash of an empty subtree, and so the root of the empty state:
/// `H("accord/state-empty", "")`.
pub const EMPTY_ROOT: Hash = Hash::from_bytes([
    0x13, 0xd2, 0xa0, 0x21, 0x38, 0xe4, 0x55, 0x40, 0xb4, 0xf5, 0x93, 0xa4, 0xcd, 0x6d, 0x32, 0x36,
    0x83, 0xda, 0xd6, 0xbc, 0xc7, 0xdd, 0x29, 0x1a, 0xe8, 0x5e, 0x19, 0xd5, 0x9c, 0xda, 0x33, 0x5f,
]);

/// Number of binary levels in the tree (and bits in a path).
pub const TREE_DEPTH: usize = 256;

/// The 256-bit path of `key` in the tree.
pub fn key_path(key: &[u8]) -> Hash {
    digest(KEY_PATH, &[key])
}

/// The hash of a value, as committed in its leaf.
pub fn value_hash(value: &[u8]) -> Hash {
    digest(VALUE, &[value])
}

/// The hash of the leaf of the key with `path` whose value hashes to `value_hash`.
pub fn leaf_hash(path: &Hash, value_hash: &Hash) -> Hash {
    digest(LEAF, &[path.as_bytes(), value_hash.as_bytes()])
}

/// The hash of an inner node from the hashes of its halves.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    digest(NODE, &[left.as_bytes(), right.as_bytes()])
}

/// `Hash::digest_parts(domain, parts)`: the same bytes (tag length, tag, parts) hashed,
/// for small inputs in one call over a stack buffer. Commits hash several times per
/// touched key, and building an incremental hasher costs more than hashing 82 bytes.
fn digest(domain: Domain, parts: &[&[u8]]) -> Hash {
    const BUFFER: usize = 192;
    let tag = domain.tag().as_bytes();
    let mut buffer = [0u8; BUFFER];
    let mut len = 0;
    let fits = u8::try_from(tag.len()).is_ok_and(|tag_len| {
        append(&mut buffer, &mut len, &[tag_len])
            && append(&mut buffer, &mut len, tag)
            && parts.iter().all(|part| append(&mut buffer, &mut len, part))
    });
    match buffer.get(..len) {
        Some(input) if fits => Hash::from_bytes(*blake3::hash(input).as_bytes()),
        _ => Hash::digest_parts(domain, parts),
    }
}

/// Appends `bytes` at `*len` if they fit.
fn append(buffer: &mut [u8], len: &mut usize, bytes: &[u8]) -> bool {
    let end = len.saturating_add(bytes.len());
    match buffer.get_mut(*len..end) {
        Some(space) => {
            space.copy_from_slice(bytes);
            *len = end;
            true
        }
        None => false,
    }
}

/// Bit `index` (0 = most significant) of a path.
pub fn path_bit(path: &Hash, index: usize) -> bool {
    path.as_bytes()
        .get(index / 8)
        .is_some_and(|byte| byte & (0x80 >> (index % 8)) != 0)
}

/// Whether two paths agree on their first `bits` bits.
pub(crate) fn shares_prefix(a: &Hash, b: &Hash, bits: usize) -> bool {
    let whole = bits / 8;
    let (Some(a_head), Some(b_head)) = (a.as_bytes().get(..whole), b.as_bytes().get(..whole))
    else {
        return a == b;
    };
    if a_head != b_head {
        return false;
    }
    let rest = bits % 8;
    if rest == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rest);
    match (a.as_bytes().get(whole), b.as_bytes().get(whole)) {
        (Some(x), Some(y)) => x & mask == y & mask,
        _ => false,
    }
}

/// Nibble `depth` (0 = most significant) of a path: the slot it takes in the page at
/// that depth.
pub(crate) fn nibble(path: &Hash, depth: u8) -> u8 {
    let byte = path
        .as_bytes()
        .get(usize::from(depth / 2))
        .copied()
        .unwrap_or(0);
    if depth % 2 == 0 {
        byte >> 4
    } else {
        byte & 0x0f
    }
}

/// Binary levels per page.
pub(crate) const PAGE_LEVELS: usize = 4;
/// Slots per page.
pub(crate) const PAGE_SLOTS: usize = 16;
/// Deepest page: two distinct paths share at most 63 nibbles.
pub(crate) const MAX_PAGE_DEPTH: u8 = 63;
/// Raw key prefix of tree pages.
pub(crate) const TREE_PREFIX: u8 = 0x02;

/// The raw store key of the page at nibble `depth` on `path`: `0x02` then the first
/// `depth` nibbles of the path, one byte each. A page's key is a prefix of the keys of
/// the pages below it, so the keys of a subtree's pages sort in pre-order.
pub(crate) fn page_key(depth: u8, path: &Hash) -> Vec<u8> {
    let mut key = Vec::with_capacity(usize::from(depth) + 1);
    key.push(TREE_PREFIX);
    key.extend((0..depth).map(|d| nibble(path, d)));
    key
}

/// A key/value pair as the tree holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Leaf {
    /// The key's path.
    pub path: Hash,
    /// The hash of its value.
    pub value_hash: Hash,
    /// `leaf_hash(path, value_hash)`.
    pub hash: Hash,
}

impl Leaf {
    pub(crate) fn new(path: Hash, value_hash: Hash) -> Self {
        Self {
            path,
            value_hash,
            hash: leaf_hash(&path, &value_hash),
        }
    }
}

/// What a subtree holds, as far as hashing needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Subtree {
    /// No key.
    Empty,
    /// Exactly one key.
    Leaf(Leaf),
    /// Two or more keys; the hash of the subtree.
    Node(Hash),
}

impl Subtree {
    pub(crate) fn hash(&self) -> Hash {
        match self {
            Self::Empty => EMPTY_ROOT,
            Self::Leaf(leaf) => leaf.hash,
            Self::Node(hash) => *hash,
        }
    }

    /// The subtree whose halves are `left` and `right`: a lone leaf rises, otherwise a node.
    pub(crate) fn join(left: &Self, right: &Self) -> Self {
        match (left, right) {
            (Self::Empty, Self::Empty) => Self::Empty,
            (Self::Leaf(leaf), Self::Empty) | (Self::Empty, Self::Leaf(leaf)) => Self::Leaf(*leaf),
            _ => Self::Node(node_hash(&left.hash(), &right.hash())),
        }
    }
}

/// Every binary level of a page, from its top (`level(0)`, one subtree) to its slots
/// (`level(4)`, sixteen).
pub(crate) struct PageLevels {
    top: [Subtree; 1],
    l1: [Subtree; 2],
    l2: [Subtree; 4],
    l3: [Subtree; 8],
    slots: [Subtree; PAGE_SLOTS],
}

impl PageLevels {
    pub(crate) fn level(&self, level: usize) -> &[Subtree] {
        match level {
            0 => &self.top,
            1 => &self.l1,
            2 => &self.l2,
            3 => &self.l3,
            _ => &self.slots,
        }
    }
}

/// The level above `level`: each pair of neighbours joined.
fn halve<T: Copy, const M: usize>(level: &[T], empty: T, join: fn(&T, &T) -> T) -> [T; M] {
    let mut out = [empty; M];
    for (joined, pair) in out.iter_mut().zip(level.chunks_exact(2)) {
        if let [left, right] = pair {
            *joined = join(left, right);
        }
    }
    out
}

/// A subtree reduced to what hashing a page needs.
#[derive(Clone, Copy)]
enum Hashed {
    Empty,
    /// A lone leaf, from this slot of the page.
    Leaf {
        slot: u8,
        hash: Hash,
    },
    Node(Hash),
}

impl Hashed {
    fn join(left: &Self, right: &Self) -> Self {
        match (left, right) {
            (Self::Empty, Self::Empty) => Self::Empty,
            (leaf @ Self::Leaf { .. }, Self::Empty) | (Self::Empty, leaf @ Self::Leaf { .. }) => {
                *leaf
            }
            _ => Self::Node(node_hash(&left.hash(), &right.hash())),
        }
    }

    fn hash(&self) -> Hash {
        match self {
            Self::Empty => EMPTY_ROOT,
            Self::Leaf { hash, .. } | Self::Node(hash) => *hash,
        }
    }
}

/// Four binary levels of the tree, stored as one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Page {
    pub slots: [Subtree; PAGE_SLOTS],
}

/// Bytes of a stored leaf slot: path, value hash, leaf hash.
const LEAF_BYTES: usize = 96;
/// Bytes of a stored child slot: the child page's hash.
const CHILD_BYTES: usize = 32;
/// Bytes of the header: occupied-slot and leaf-slot bitmaps.
const HEADER_BYTES: usize = 4;

impl Page {
    pub(crate) const EMPTY: Self = Self {
        slots: [Subtree::Empty; PAGE_SLOTS],
    };

    pub(crate) fn levels(&self) -> PageLevels {
        let l3: [Subtree; 8] = halve(&self.slots, Subtree::Empty, Subtree::join);
        let l2: [Subtree; 4] = halve(&l3, Subtree::Empty, Subtree::join);
        let l1: [Subtree; 2] = halve(&l2, Subtree::Empty, Subtree::join);
        let top: [Subtree; 1] = halve(&l1, Subtree::Empty, Subtree::join);
        PageLevels {
            top,
            l1,
            l2,
            l3,
            slots: self.slots,
        }
    }

    /// The subtree the whole page amounts to. Works on hashes alone (a lone leaf is
    /// tracked by its slot), which keeps the data moved per level small.
    pub(crate) fn top(&self) -> Subtree {
        let mut slots = [Hashed::Empty; PAGE_SLOTS];
        for ((hashed, slot), index) in slots.iter_mut().zip(&self.slots).zip(0u8..) {
            *hashed = match slot {
                Subtree::Empty => Hashed::Empty,
                Subtree::Leaf(leaf) => Hashed::Leaf {
                    slot: index,
                    hash: leaf.hash,
                },
                Subtree::Node(hash) => Hashed::Node(*hash),
            };
        }
        let l3: [Hashed; 8] = halve(&slots, Hashed::Empty, Hashed::join);
        let l2: [Hashed; 4] = halve(&l3, Hashed::Empty, Hashed::join);
        let l1: [Hashed; 2] = halve(&l2, Hashed::Empty, Hashed::join);
        let [top]: [Hashed; 1] = halve(&l1, Hashed::Empty, Hashed::join);
        match top {
            Hashed::Empty => Subtree::Empty,
            Hashed::Node(hash) => Subtree::Node(hash),
            Hashed::Leaf { slot, .. } => self
                .slots
                .get(usize::from(slot))
                .copied()
                .unwrap_or(Subtree::Empty),
        }
    }

    /// `occupied: u16 LE ‖ leaves: u16 LE ‖` per occupied slot in order, a leaf
    /// `path ‖ value hash ‖ leaf hash` or a child `hash`.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut occupied = 0u16;
        let mut leaves = 0u16;
        let mut len = HEADER_BYTES;
        for (index, slot) in self.slots.iter().enumerate() {
            let bit = 1u16 << index;
            match slot {
                Subtree::Empty => {}
                Subtree::Leaf(_) => {
                    occupied |= bit;
                    leaves |= bit;
                    len += LEAF_BYTES;
                }
                Subtree::Node(_) => {
                    occupied |= bit;
                    len += CHILD_BYTES;
                }
            }
        }
        let mut out = Vec::with_capacity(len);
        out.extend_from_slice(&occupied.to_le_bytes());
        out.extend_from_slice(&leaves.to_le_bytes());
        for slot in &self.slots {
            match slot {
                Subtree::Empty => {}
                Subtree::Leaf(leaf) => {
                    out.extend_from_slice(leaf.path.as_bytes());
                    out.extend_from_slice(leaf.value_hash.as_bytes());
                    out.extend_from_slice(leaf.hash.as_bytes());
                }
                Subtree::Node(hash) => out.extend_from_slice(hash.as_bytes()),
            }
        }
        out
    }

    /// Decodes the page stored at nibble `depth` on `path`, checking that it is one the
    /// tree can hold there: exact length, leaves whose paths lie under the page's
    /// prefix and slot, and enough keys to need a page.
    pub(crate) fn decode(depth: u8, path: &Hash, bytes: &[u8]) -> Result<Self, &'static str> {
        let (header, mut rest) = bytes
            .split_first_chunk::<HEADER_BYTES>()
            .ok_or("shorter than its header")?;
        let [o0, o1, l0, l1] = *header;
        let occupied = u16::from_le_bytes([o0, o1]);
        let leaves = u16::from_le_bytes([l0, l1]);
        if leaves & !occupied != 0 {
            return Err("a leaf bit is set for an empty slot");
        }
        let mut page = Self::EMPTY;
        for (index, slot) in page.slots.iter_mut().enumerate() {
            let bit = 1u16 << index;
            if occupied & bit == 0 {
                continue;
            }
            let (first, tail) = take_hash(rest)?;
            if leaves & bit == 0 {
                if first == EMPTY_ROOT {
                    return Err("a child slot holds the empty hash");
                }
                *slot = Subtree::Node(first);
                rest = tail;
                continue;
            }
            let (value_hash, tail) = take_hash(tail)?;
            let (hash, tail) = take_hash(tail)?;
            rest = tail;
            let prefix_bits = usize::from(depth) * PAGE_LEVELS;
            if !shares_prefix(&first, path, prefix_bits)
                || usize::from(nibble(&first, depth)) != index
            {
                return Err("a leaf's path does not lie under its slot");
            }
            *slot = Subtree::Leaf(Leaf {
                path: first,
                value_hash,
                hash,
            });
        }
        if !rest.is_empty() {
            return Err("trailing bytes after the last slot");
        }
        let lone_leaf = occupied.count_ones() == 1 && leaves == occupied;
        if occupied == 0 || (depth > 0 && lone_leaf) {
            return Err("too few keys for a page");
        }
        Ok(page)
    }
}

fn take_hash(bytes: &[u8]) -> Result<(Hash, &[u8]), &'static str> {
    let (head, tail) = bytes
        .split_first_chunk::<32>()
        .ok_or("shorter than its slots")?;
    Ok((Hash::from_bytes(*head), tail))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_root_is_the_hash_of_the_empty_domain() {
        assert_eq!(EMPTY_ROOT, Hash::digest(EMPTY, b""));
    }

    #[test]
    fn stack_digests_equal_the_shared_hash_function() {
        let a = Hash::from_bytes([1; 32]);
        let b = Hash::from_bytes([2; 32]);
        assert_eq!(
            node_hash(&a, &b),
            Hash::digest_parts(NODE, &[a.as_bytes(), b.as_bytes()])
        );
        assert_eq!(
            leaf_hash(&a, &b),
            Hash::digest_parts(LEAF, &[a.as_bytes(), b.as_bytes()])
        );
        for len in [0, 1, 100, 173, 174, 175, 191, 192, 500, 5000] {
            let bytes = vec![7u8; len];
            assert_eq!(key_path(&bytes), Hash::digest(KEY_PATH, &bytes), "{len}");
            assert_eq!(value_hash(&bytes), Hash::digest(VALUE, &bytes), "{len}");
        }
    }

    #[test]
    fn page_keys_hold_the_prefix_nibbles() {
        let path = Hash::from_bytes([0xab; 32]);
        assert_eq!(page_key(0, &path), vec![0x02]);
        assert_eq!(page_key(1, &path), vec![0x02, 0xa]);
        assert_eq!(page_key(2, &path), vec![0x02, 0xa, 0xb]);
        assert_eq!(page_key(3, &path), vec![0x02, 0xa, 0xb, 0xa]);
        assert_eq!(page_key(64, &path).len(), 65);
    }

    #[test]
    fn nibbles_and_bits_agree() {
        let path = key_path(b"some key");
        for depth in 0..64u8 {
            let from_bits = (0..4).fold(0u8, |acc, i| {
                (acc << 1) | u8::from(path_bit(&path, usize::from(depth) * 4 + i))
            });
            assert_eq!(nibble(&path, depth), from_bits);
        }
    }

    #[test]
    fn shared_prefixes() {
        let a = Hash::from_bytes([0b1010_0000; 32]);
        let mut b_bytes = [0b1010_0000; 32];
        b_bytes[3] = 0b1011_0000;
        let b = Hash::from_bytes(b_bytes);
        assert!(shares_prefix(&a, &b, 27));
        assert!(!shares_prefix(&a, &b, 28));
        assert!(shares_prefix(&a, &a, 256));
        assert!(!shares_prefix(&a, &b, 256));
        assert!(shares_prefix(&a, &b, 0));
    }

    #[test]
    fn page_top_agrees_with_its_levels() {
        let mut page = Page::EMPTY;
        for seed in 0u8..200 {
            let path = key_path(&[seed]);
            let slot = usize::from(seed.wrapping_mul(7) % 16);
            page.slots[slot] = match seed % 3 {
                0 => Subtree::Empty,
                1 => Subtree::Leaf(Leaf::new(path, value_hash(&[seed]))),
                _ => Subtree::Node(path),
            };
            assert_eq!(page.top(), page.levels().level(0)[0]);
        }
    }

    #[test]
    fn page_codec_round_trips_and_is_strict() {
        let path = key_path(b"k");
        let mut page = Page::EMPTY;
        let leaf = Leaf::new(path, value_hash(b"v"));
        let slot = usize::from(nibble(&path, 0));
        page.slots[slot] = Subtree::Leaf(leaf);
        page.slots[(slot + 1) % 16] = Subtree::Node(Hash::from_bytes([7; 32]));
        let bytes = page.encode();
        assert_eq!(Page::decode(0, &path, &bytes), Ok(page));
        // Trailing and missing bytes, wrong slot, lone leaf below the root.
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(Page::decode(0, &path, &longer).is_err());
        assert!(Page::decode(0, &path, &bytes[..bytes.len() - 1]).is_err());
        let mut moved = Page::EMPTY;
        moved.slots[(slot + 2) % 16] = Subtree::Leaf(leaf);
        moved.slots[(slot + 1) % 16] = Subtree::Node(Hash::from_bytes([7; 32]));
        assert!(Page::decode(0, &path, &moved.encode()).is_err());
        let mut lone_root = Page::EMPTY;
        lone_root.slots[slot] = Subtree::Leaf(leaf);
        assert!(Page::decode(0, &path, &lone_root.encode()).is_ok());
        let mut lone = Page::EMPTY;
        lone.slots[usize::from(nibble(&path, 1))] = Subtree::Leaf(leaf);
        assert_eq!(
            Page::decode(1, &path, &lone.encode()),
            Err("too few keys for a page")
        );
        assert!(Page::decode(0, &path, &Page::EMPTY.encode()).is_err());
    }
}
