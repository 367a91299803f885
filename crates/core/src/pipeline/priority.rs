//! clawtrace's threads yield the CPU to the gateway. On a busy machine, the gateway's event loop competes for cores
//! with the addon's worker, sinks and encoders. At equal priority, the kernel preempts the event loop for a
//! scheduler slice now and then, and the gateway sees that as event-loop delay (`bench/gateway.mjs`, `eld_ms`).
//! Every thread clawtrace starts therefore runs at a lower priority (nice +`NICE`). When the machine is idle, this
//! costs nothing. When it is saturated, clawtrace still gets its CFS share (weight 335 against the gateway's 1024 at
//! nice 0): its queue keeps draining, and what cannot wait is dropped and counted, as it always is.

/// How much lower than the host's threads: enough that the event loop wins every contended slice, not so much that
/// a saturated host starves the export (nice 19 would leave about 1.5%).
#[cfg(target_os = "linux")]
const NICE: libc::c_int = 5;

/// Sets the calling thread `NICE` below the host's main thread. On Linux the nice value belongs to each thread
/// (setpriority(2), "BUGS"): `PRIO_PROCESS` with a thread id reads or changes that thread alone, and the main
/// thread's id is the process id. Relative to the main thread, not to the caller's own value: a thread started by
/// a clawtrace thread inherits its lowered value, and must not be lowered twice. Best effort: when the calls fail
/// (a sandbox without them), the thread runs as before.
pub fn lower_this_thread() {
    #[cfg(target_os = "linux")]
    // SAFETY: getpriority/setpriority take no pointers; errno is cleared first because -1 is a valid priority.
    unsafe {
        *libc::__errno_location() = 0;
        let host = libc::getpriority(libc::PRIO_PROCESS, libc::getpid() as libc::id_t);
        if host == -1 && *libc::__errno_location() != 0 {
            return;
        }
        libc::setpriority(libc::PRIO_PROCESS, 0, (host + NICE).min(19));
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn nice_of_this_thread() -> libc::c_int {
        // SAFETY: as above.
        unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) }
    }

    #[test]
    fn lowers_only_the_calling_thread_and_never_twice() {
        let before = nice_of_this_thread();
        let (first, nested) = std::thread::spawn(|| {
            lower_this_thread();
            // A thread it starts inherits the lowered value; lowering that one again changes nothing.
            let nested = std::thread::spawn(|| {
                lower_this_thread();
                nice_of_this_thread()
            });
            (nice_of_this_thread(), nested.join().unwrap())
        })
        .join()
        .unwrap();
        let host = unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::getpid() as libc::id_t) };
        assert_eq!(first, (host + NICE).min(19), "the thread runs below the host's main thread");
        assert_eq!(nested, first, "a thread started by a lowered one is not lowered twice");
        assert_eq!(nice_of_this_thread(), before, "the calling thread keeps its own");
    }
}
