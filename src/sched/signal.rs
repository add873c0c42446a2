//! Ctrl-C, SIGTERM and SIGHUP as the cancel signal of [`super::run`].
//!
//! CI cancels a job with SIGTERM and a closed terminal sends SIGHUP: both are treated as
//! Ctrl-C. This only turns the first of them into `true` on a watch channel; what to print,
//! what to save and whether a second signal should end the process are the caller's
//! decisions.

use std::io;

use tokio::sync::watch;

use super::Error;

/// A receiver that turns `true` on the first Ctrl-C (SIGINT), SIGTERM or SIGHUP on Unix
/// (Ctrl-C on Windows) and stays `true`.
///
/// Must be called inside a Tokio runtime with signals enabled. The handler is installed
/// before this returns, so an interrupt from then on is never lost, and from then on Ctrl-C
/// no longer ends the process by default: Tokio keeps its handler until the process exits,
/// so later interrupts are swallowed unless the caller listens for them itself.
pub fn cancel_channel() -> Result<watch::Receiver<bool>, Error> {
    let interrupted = listen().map_err(Error::Signal)?;
    let (sender, receiver) = watch::channel(false);
    tokio::spawn(async move {
        if interrupted.await {
            // Every receiver may be gone already; then nobody needs to know.
            let _ = sender.send(true);
        }
    });
    Ok(receiver)
}

/// Installs the handler now; the future ends with `true` on the first interrupt, or with
/// `false` if the runtime shuts down first.
#[cfg(unix)]
fn listen() -> io::Result<impl Future<Output = bool>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupts = signal(SignalKind::interrupt())?;
    let mut terminations = signal(SignalKind::terminate())?;
    let mut hangups = signal(SignalKind::hangup())?;
    Ok(async move {
        tokio::select! {
            got = interrupts.recv() => got.is_some(),
            got = terminations.recv() => got.is_some(),
            got = hangups.recv() => got.is_some(),
        }
    })
}

#[cfg(windows)]
fn listen() -> io::Result<impl Future<Output = bool>> {
    let mut interrupts = tokio::signal::windows::ctrl_c()?;
    Ok(async move { interrupts.recv().await.is_some() })
}

#[cfg(test)]
#[allow(clippy::print_stdout, clippy::disallowed_methods)] // a child test reports to its parent
mod tests {
    use std::io::{BufRead, BufReader, Read};
    use std::process::{Command, Stdio};
    use std::time::Duration;

    const CHILD_ENV: &str = "MTM_SCHED_SIGNAL_CHILD";
    const CHILD_TEST: &str = "sched::signal::tests::child_waits_for_ctrl_c";

    /// Sends each cancelling signal to a child copy of this test binary (never to this
    /// process, whose other tests could be listening) and checks that its receiver flipped.
    #[cfg(unix)]
    #[test]
    fn ctrl_c_sigterm_and_sighup_flip_the_receiver() {
        for signal in ["-INT", "-TERM", "-HUP"] {
            signal_child(signal);
        }
    }

    #[cfg(unix)]
    fn signal_child(signal: &str) {
        let exe = std::env::current_exe().expect("the test binary");
        let mut child = Command::new(exe)
            .args([CHILD_TEST, "--exact", "--nocapture"])
            .env(CHILD_ENV, "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the child test");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut seen = String::new();
        while !seen.lines().any(|line| line == "ready") {
            let before = seen.len();
            stdout.read_line(&mut seen).expect("read the child");
            if seen.len() == before {
                let mut stderr = String::new();
                let _ = child
                    .stderr
                    .take()
                    .map(|mut e| e.read_to_string(&mut stderr));
                panic!("the child ended before it was ready:\n{seen}\n{stderr}");
            }
        }
        let kill = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(kill.success());
        stdout.read_to_string(&mut seen).expect("read the child");
        let status = child.wait().expect("wait for the child");
        assert!(
            status.success(),
            "child failed on {signal}: {status}\n{seen}"
        );
        assert!(seen.lines().any(|line| line == "cancelled"), "{seen}");
    }

    /// The child half of the test above, which starts it with `CHILD_ENV` set; in a
    /// normal run (without it) it returns at once and asserts nothing.
    #[tokio::test]
    async fn child_waits_for_ctrl_c() {
        if std::env::var_os(CHILD_ENV).is_none() {
            return;
        }
        let mut cancel = super::cancel_channel().expect("listen for signals");
        assert!(!*cancel.borrow());
        println!("ready");
        let flipped = tokio::time::timeout(Duration::from_secs(20), cancel.wait_for(|&c| c));
        assert!(flipped.await.expect("no signal within 20s").is_ok());
        println!("cancelled");
    }
}
