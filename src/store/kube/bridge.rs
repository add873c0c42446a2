//! The bridge from the synchronous `Store` to the asynchronous kube client: a runtime of
//! the store's own, with one worker thread, that every call runs on.
//!
//! A caller blocks its thread until the call is done, whether it is plain code or a task
//! of the command's runtime (as a write to sled blocks it today); the call itself runs on
//! the store's thread, so it never waits for the caller's runtime. This module knows
//! tokio; it does not know what the calls do.

use std::future::Future;
use tokio::runtime::{Builder, Runtime};
use tokio::task::JoinHandle;

#[derive(Debug)]
pub struct Bridge {
    /// Always `Some` until dropped.
    rt: Option<Runtime>,
}

impl Bridge {
    pub fn new() -> std::io::Result<Bridge> {
        let rt = Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("mtm-state")
            .enable_all()
            .build()?;
        Ok(Bridge { rt: Some(rt) })
    }

    fn rt(&self) -> &Runtime {
        self.rt
            .as_ref()
            .expect("the runtime lives as long as the bridge")
    }

    /// Run `future` on the store's runtime and wait for its output.
    pub fn run<T, F>(&self, future: F) -> T
    where
        T: Send + 'static,
        F: Future<Output = T> + Send + 'static,
    {
        let task = self.rt().spawn(future);
        // futures' executor only parks this thread: it never needs a tokio context, so it
        // is safe inside a task of another runtime too.
        match futures::executor::block_on(task) {
            Ok(output) => output,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => panic!("the state's runtime dropped a call: {e}"),
        }
    }

    /// Start `future` in the background (the lease's renewal).
    pub fn spawn<F>(&self, future: F) -> JoinHandle<()>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.rt().spawn(future)
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        // Without waiting: a bridge may be dropped inside another runtime's task, where
        // a blocking shutdown would panic. Every call has finished by now.
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Bridge;

    #[test]
    fn runs_from_plain_code_and_from_inside_another_runtime() {
        let bridge = std::sync::Arc::new(Bridge::new().unwrap());
        assert_eq!(bridge.run(async { 1 + 1 }), 2);
        let outer = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let inner = bridge.clone();
        let got = outer.block_on(async move {
            inner.run(async {
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                7
            })
        });
        assert_eq!(got, 7);
        // Dropped inside a task of another runtime: no panic.
        outer.block_on(async move { drop(bridge) });
    }
}
