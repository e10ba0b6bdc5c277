//! Stack overflows as libFuzzer crashes.
//!
//! A stack overflow is a SIGSEGV on the thread's guard page. libFuzzer's
//! SIGSEGV handler runs on the faulting thread's stack, which is exhausted,
//! so the process dies by a second SIGSEGV before any artifact is written
//! (AddressSanitizer avoids this with signal stacks, but the targets run
//! without a sanitizer: see `fuzz/run.sh`). Rust's own overflow handler is
//! not installed either, because `main` is libFuzzer's. So the fuzz thread
//! gets an alternate signal stack and SIGSEGV/SIGBUS a handler that runs on
//! it, says what happened and aborts; libFuzzer's SIGABRT handler then saves
//! the input as `crash-…` and exits with an error.
//!
//! The only `unsafe` of the fuzz harness: two libc calls the standard
//! library does not expose. The watchfire crate itself forbids `unsafe`.

#![allow(unsafe_code)]

use std::sync::Once;

/// Room for the handler and for libFuzzer's crash callback (which writes the
/// artifact and prints statistics) that runs on the same stack after
/// `abort`.
const ALT_STACK_BYTES: usize = 256 << 10;

type Handler = extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void);

extern "C" fn on_fault(_sig: libc::c_int, _info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    const MSG: &[u8] =
        b"\n==fuzz== SIGSEGV/SIGBUS on the fuzz thread: stack overflow (server-size 2 MiB stack)\n";
    // SAFETY: write(2) and abort(3) are async-signal-safe; MSG is static.
    unsafe {
        libc::write(2, MSG.as_ptr().cast(), MSG.len());
        libc::abort();
    }
}

/// Installs the SIGSEGV/SIGBUS handler once, replacing libFuzzer's (which
/// cannot run on an exhausted stack).
pub(crate) fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for sig in [libc::SIGSEGV, libc::SIGBUS] {
            // SAFETY: a zeroed sigaction is a valid value; the handler is an
            // `extern "C"` function with the SA_SIGINFO signature.
            unsafe {
                let mut sa: libc::sigaction = std::mem::zeroed();
                sa.sa_sigaction = on_fault as Handler as usize;
                sa.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
                libc::sigemptyset(&mut sa.sa_mask);
                libc::sigaction(sig, &sa, std::ptr::null_mut());
            }
        }
    });
}

/// Runs `f` with an alternate signal stack set for the current thread.
pub(crate) fn with_alt_stack<T>(f: impl FnOnce() -> T) -> T {
    let mut stack = vec![0u8; ALT_STACK_BYTES];
    let on = libc::stack_t {
        ss_sp: stack.as_mut_ptr().cast(),
        ss_flags: 0,
        ss_size: stack.len(),
    };
    // SAFETY: `stack` outlives its use as the signal stack: it is disabled
    // below before `stack` is dropped.
    unsafe { libc::sigaltstack(&on, std::ptr::null_mut()) };
    let result = f();
    let off = libc::stack_t {
        ss_sp: std::ptr::null_mut(),
        ss_flags: libc::SS_DISABLE,
        ss_size: 0,
    };
    // SAFETY: disabling the signal stack of the current thread.
    unsafe { libc::sigaltstack(&off, std::ptr::null_mut()) };
    drop(stack);
    result
}
