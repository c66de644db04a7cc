//! The blocking client keeps working in a child after `fork()`: no hang on the parent's
//! runtime, no reuse of the parent's sockets. Alone in its binary: forking a process whose
//! other threads are busy would test luck, not the SDK.

mod support;

use fluidcloud::blocking;

#[test]
fn a_forked_child_can_use_the_client() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let emu = rt.block_on(support::start());
    let client = blocking::Client::new(emu.options()).unwrap();
    // The parent has a runtime and a pooled connection by now.
    let before = client.spaces().list().unwrap();
    assert_eq!(before.len(), 1);

    // SAFETY: the child only makes SDK calls and leaves with _exit; the alarm turns a hang
    // into a failure instead of a stuck test.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        unsafe { libc::alarm(20) };
        let ok = match client.spaces().create("from the child") {
            Ok(space) => client.spaces().list().map(|l| l.iter().any(|s| s.id == space.id)).unwrap_or(false),
            Err(_) => false,
        };
        unsafe { libc::_exit(if ok { 0 } else { 1 }) };
    }
    let mut status = 0;
    let waited = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(waited, pid);
    assert!(libc::WIFEXITED(status), "the child did not exit normally (status {status}): it hung or crashed");
    assert_eq!(libc::WEXITSTATUS(status), 0, "the child's calls failed");
    // The parent's client still works, and sees what the child made.
    let after = client.spaces().list().unwrap();
    assert!(after.iter().any(|s| s.name == "from the child"));
    rt.block_on(emu.shutdown());
}
