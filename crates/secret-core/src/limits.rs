//! Size limits applied to every secret, whatever its backend.

/// The largest serialized (JSON) value accepted, in bytes.
pub const MAX_VALUE_JSON_BYTES: usize = 64 * 1024;
/// The longest description accepted, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 1_000;
/// The most tags a secret may carry.
pub const MAX_TAGS: usize = 50;
/// The longest tag accepted, in characters.
pub const MAX_TAG_CHARS: usize = 64;
/// The most entries in a secret's free-form metadata map.
pub const MAX_METADATA_ENTRIES: usize = 50;
/// The longest metadata key, in characters.
pub const MAX_METADATA_KEY_CHARS: usize = 128;
/// The longest metadata value, in characters.
pub const MAX_METADATA_VALUE_CHARS: usize = 1_024;
/// The longest change reason accepted, in characters.
pub const MAX_CHANGE_REASON_CHARS: usize = 500;
/// Days a soft-deleted secret can be restored before it is purged.
pub const RECOVERY_PERIOD_DAYS: i64 = 30;
/// The largest page a listing returns.
pub const MAX_PAGE_LIMIT: u64 = 500;
/// The largest number of items a listing may skip (`(page - 1) x limit`): deeper pages are
/// refused rather than computed, so no request number can overflow an offset.
pub const MAX_PAGE_OFFSET: u64 = 1_000_000_000;
/// The page size of a listing that names none.
pub const DEFAULT_PAGE_LIMIT: u64 = 20;
