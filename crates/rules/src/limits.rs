//! Hard limits on rules, so no request can make validation or evaluation
//! unboundedly expensive.

/// Deepest nesting of `all`/`any`/`not`.
pub const MAX_DEPTH: usize = 32;
/// Most nodes in one rule (referenced segments are counted separately).
pub const MAX_NODES: usize = 2_000;
/// Longest `in`/`not_in` list.
pub const MAX_LIST: usize = 10_000;
/// Longest regular expression source, and the compiled size cap.
pub const MAX_REGEX_LEN: usize = 1_000;
pub const MAX_REGEX_SIZE: usize = 1 << 20;
/// Deepest chain of segment references.
pub const MAX_REFERENCE_DEPTH: usize = 16;
