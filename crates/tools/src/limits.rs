//! Bounds of the file tools. Each default is a `*_MAX` constant; a host may pass
//! other values in [`Limits`]. The VFS's own bounds (file count, bytes, path depth)
//! are in [`Limits::vfs`].

/// Default of [`Limits::read_lines_max`]: lines one `read_file` returns (and the
/// default window).
pub const READ_LINES_MAX: usize = 2_000;
/// Default of [`Limits::line_chars_max`]: characters of one line shown by `read_file`
/// before it is cut with a marker.
pub const LINE_CHARS_MAX: usize = 2_000;
/// Default of [`Limits::output_bytes_max`]: bytes of any tool's output (about 25k
/// tokens); longer output is cut at a line boundary with an explicit marker.
pub const OUTPUT_BYTES_MAX: usize = 100 * 1024;
/// Default of [`Limits::grep_results_max`]: matching lines (or files, or counts)
/// `grep` returns.
pub const GREP_RESULTS_MAX: usize = 500;
/// Default of [`Limits::grep_line_chars_max`]: characters of a matching line shown.
pub const GREP_LINE_CHARS_MAX: usize = 300;
/// Default of [`Limits::grep_scan_bytes_max`]: file bytes one `grep` reads (256 MiB).
pub const GREP_SCAN_BYTES_MAX: u64 = 256 << 20;
/// Default of [`Limits::regex_bytes_max`]: compiled size of a `grep` pattern (1 MiB),
/// which bounds the memory and time a pattern can cost.
pub const REGEX_BYTES_MAX: usize = 1 << 20;
/// Default of [`Limits::glob_results_max`]: paths one `glob` returns.
pub const GLOB_RESULTS_MAX: usize = 1_000;
/// Default of [`Limits::list_entries_max`]: entries one `list_dir` returns.
pub const LIST_ENTRIES_MAX: usize = 1_000;
/// Default of [`Limits::list_depth_max`]: levels `list_dir` descends.
pub const LIST_DEPTH_MAX: usize = 5;
/// Default of [`Limits::patch_bytes_max`]: bytes of one `apply_patch` input (1 MiB).
pub const PATCH_BYTES_MAX: usize = 1 << 20;
/// Default of [`Limits::patch_files_max`]: file operations in one patch.
pub const PATCH_FILES_MAX: usize = 256;
/// Default of [`Limits::write_attempts_max`]: how often a write re-reads the
/// workspace and re-applies itself when another write moved the head first.
pub const WRITE_ATTEMPTS_MAX: u32 = 3;
/// Bytes inspected for a NUL byte to call a file binary (what git and ripgrep do).
pub const BINARY_SNIFF_BYTES: usize = 8 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub read_lines_max: usize,
    pub line_chars_max: usize,
    pub output_bytes_max: usize,
    pub grep_results_max: usize,
    pub grep_line_chars_max: usize,
    pub grep_scan_bytes_max: u64,
    pub regex_bytes_max: usize,
    pub glob_results_max: usize,
    pub list_entries_max: usize,
    pub list_depth_max: usize,
    pub patch_bytes_max: usize,
    pub patch_files_max: usize,
    pub write_attempts_max: u32,
    pub vfs: vfs::Limits,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            read_lines_max: READ_LINES_MAX,
            line_chars_max: LINE_CHARS_MAX,
            output_bytes_max: OUTPUT_BYTES_MAX,
            grep_results_max: GREP_RESULTS_MAX,
            grep_line_chars_max: GREP_LINE_CHARS_MAX,
            grep_scan_bytes_max: GREP_SCAN_BYTES_MAX,
            regex_bytes_max: REGEX_BYTES_MAX,
            glob_results_max: GLOB_RESULTS_MAX,
            list_entries_max: LIST_ENTRIES_MAX,
            list_depth_max: LIST_DEPTH_MAX,
            patch_bytes_max: PATCH_BYTES_MAX,
            patch_files_max: PATCH_FILES_MAX,
            write_attempts_max: WRITE_ATTEMPTS_MAX,
            vfs: vfs::Limits::default(),
        }
    }
}
