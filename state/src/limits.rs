//! Size limits on application keys and values, shared by reads, commits and proofs.

/// Longest application key.
pub const MAX_KEY_BYTES: usize = 1024;
/// Longest value.
pub const MAX_VALUE_BYTES: usize = 4 * 1024 * 1024;
