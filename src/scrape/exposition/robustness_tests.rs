//! No-panic checks: every truncation and many byte mutations of the shared
//! fixtures, in both formats.
