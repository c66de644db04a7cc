//! A raised scheduling priority for the thread a transfer waits on: the SHA-256 pass sees every
//! byte in order, while receiving and writing can share the other core. Under a fair share it
//! got about three quarters of a core beside them and the client; raised, it runs whenever it
//! has bytes (a 1 GiB PUT from curl, three alternating rounds of three runs: median 1.06 s
//! before, 0.94 s after).

use std::marker::PhantomData;

/// How far the priority is raised, in nice steps.
#[cfg(target_os = "linux")]
const RAISE: libc::c_int = 5;

/// While alive, the calling thread's nice value is `RAISE` lower, where the process may lower
/// it (root, `CAP_SYS_NICE`, or a high enough `RLIMIT_NICE`); elsewhere it does nothing.
/// Dropping it puts the old value back: the thread returns to a pool that runs other work.
/// It stays on the thread it was made on (not `Send`), whose priority it puts back.
pub(crate) struct Raised {
    #[cfg(target_os = "linux")]
    before: Option<libc::c_int>,
    on_this_thread: PhantomData<*const ()>,
}

#[cfg(target_os = "linux")]
mod imp {
    /// The calling thread's id: on Linux, `PRIO_PROCESS` with a thread id names that thread.
    fn this_thread() -> libc::id_t {
        // SAFETY: gettid has no preconditions.
        unsafe { libc::gettid() as libc::id_t }
    }

    pub fn nice() -> Option<libc::c_int> {
        // getpriority may return -1 as a value: errno tells a failure apart.
        // SAFETY: errno is thread-local; getpriority reads nothing from our memory.
        unsafe {
            *libc::__errno_location() = 0;
            let value = libc::getpriority(libc::PRIO_PROCESS, this_thread());
            (*libc::__errno_location() == 0).then_some(value)
        }
    }

    pub fn set_nice(value: libc::c_int) -> bool {
        // SAFETY: setpriority reads nothing from our memory.
        unsafe { libc::setpriority(libc::PRIO_PROCESS, this_thread(), value) == 0 }
    }
}

impl Raised {
    pub fn here() -> Self {
        #[cfg(target_os = "linux")]
        {
            let before = imp::nice().filter(|&nice| imp::set_nice(nice - RAISE));
            Raised { before, on_this_thread: PhantomData }
        }
        #[cfg(not(target_os = "linux"))]
        Raised { on_this_thread: PhantomData }
    }
}

impl Drop for Raised {
    fn drop(&mut self) {
        #[cfg(target_os = "linux")]
        if let Some(before) = self.before {
            imp::set_nice(before);
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn the_old_priority_comes_back() {
        let before = imp::nice().expect("getpriority");
        {
            let raised = Raised::here();
            let inside = imp::nice().expect("getpriority");
            match raised.before {
                // The kernel stops at -20.
                Some(_) => assert_eq!(inside, (before - RAISE).max(-20)),
                None => assert_eq!(inside, before, "not allowed to raise: nothing changes"),
            }
        }
        assert_eq!(imp::nice(), Some(before));
    }
}
