//! The CPU-bound work on a message (a scan, an RSA signature: a millisecond or more each)
//! runs on threads of its own, one per core, fed from one queue: not on an async worker
//! (it would stall every session on it) and not on the blocking pool (a hand-over to a
//! thread that was last doing file I/O, under a semaphore, per message).
//!
//! Measured beside the blocking pool (`bench/relay.sh`, README "Sixth round"): 6 % more
//! messages delivered a second at the same CPU per message. The threads run at nice 5,
//! below the sessions and the database's writers, so a 250 is not kept waiting behind a
//! signature: with SQLite's writers taking turns (README "Seventh round") that cut the
//! accept latency's median by a third at no measurable cost (nice 10 before the turns:
//! half the median, but 12 % more CPU per message, not kept).

use std::sync::{Arc, Mutex, mpsc};

use anyhow::{Context, Result, anyhow};

type Job = Box<dyn FnOnce() + Send>;

/// How much nicer than the rest of the process the CPU threads are: sessions and commits
/// get a core first (the kernel gives a thread 5 steps nicer about a third of the other's
/// share when both want one), yet these threads still take all the time no one else wants.
const NICER: i32 = 5;

/// Make the calling thread [`NICER`] than it is (at most 19). Lowering one's own priority
/// needs no privilege; should it fail, the thread keeps the process's priority.
fn lower_priority() {
    let me = Some(rustix::thread::gettid());
    if let Ok(now) = rustix::process::getpriority_process(me) {
        let _ = rustix::process::setpriority_process(me, (now + NICER).min(19));
    }
}

/// A fixed set of threads for CPU-bound work.
#[derive(Debug)]
pub struct Cores {
    jobs: mpsc::Sender<Job>,
}

impl Cores {
    /// `n` threads (at least one).
    pub fn new(n: usize) -> Result<Cores> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for k in 0..n.max(1) {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("veilpost-cpu-{k}"))
                .spawn(move || {
                    lower_priority();
                    loop {
                        let next = match queue.lock() {
                            Ok(q) => q.recv(),
                            Err(_) => return,
                        };
                        let Ok(job) = next else { return };
                        // A panic fails that job (its caller sees the answer dropped),
                        // not the thread.
                        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                    }
                })
                .context("starting a CPU thread")?;
        }
        Ok(Cores { jobs })
    }

    /// Run `work` on one of the threads and wait for its answer.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move || {
                let _ = answer.send(work());
            }))
            .map_err(|_| anyhow!("the CPU threads have stopped"))?;
        answered.await.context("the CPU work failed")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_runs_on_the_threads_and_a_panic_fails_only_its_job() {
        let cores = Cores::new(2).expect("threads");
        let name = cores
            .run(|| std::thread::current().name().map(str::to_string))
            .await
            .expect("answer");
        assert!(name.is_some_and(|n| n.starts_with("veilpost-cpu-")));
        // Nicer than the caller by NICER (capped at 19).
        let mine = rustix::process::getpriority_process(None).expect("own priority");
        let theirs = cores
            .run(|| rustix::process::getpriority_process(Some(rustix::thread::gettid())))
            .await
            .expect("answer")
            .expect("thread priority");
        assert_eq!(theirs, (mine + NICER).min(19));
        let failed = cores.run(|| -> u32 { panic!("hostile input") }).await;
        assert!(failed.is_err());
        // Both threads still work, and answers come back to their callers.
        let mut answers = Vec::new();
        for k in 1..=4u32 {
            answers.push(cores.run(move || k * 10).await.expect("answer"));
        }
        assert_eq!(answers, vec![10, 20, 30, 40]);
    }
}
