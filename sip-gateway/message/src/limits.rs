/// Bounds on what the parser accepts, so hostile input cannot make it allocate or scan without limit.
///
/// The defaults are generous for a PBX (the largest real INVITE with SDP and a dozen Via headers is a few KB)
/// and small enough that a flood of maximum-size messages costs little memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Whole message, headers and body.
    pub max_message_bytes: usize,
    /// Number of header lines (after unfolding).
    pub max_headers: usize,
    /// Length of one unfolded header line.
    pub max_line_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: 64 * 1024,
            max_headers: 128,
            max_line_bytes: 8 * 1024,
        }
    }
}
