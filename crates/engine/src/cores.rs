//! How many threads one evaluation may use.

/// The machine's cores, at most 8 (read once).
pub(crate) fn evaluation_threads() -> usize {
    static THREADS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *THREADS.get_or_init(|| {
        std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, 8)
    })
}
