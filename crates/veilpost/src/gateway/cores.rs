//! The CPU-bound work on a message (a scan, an RSA signature: a millisecond or more each)
//! runs on threads of its own, one per core, fed from one queue: not on an async worker
//! (it would stall every session on it) and not on the blocking pool (a hand-over to a
//! thread that was last doing file I/O, under a semaphore, per message).
//!
//! Measured beside the blocking pool (`bench/relay.sh`, README "Sixth round"): 6 % more
//! messages delivered a second at the same CPU per message. Running these threads at a
//! lower priority (nice 10) halved the accept latency's median but cost 12 % more CPU per
//! message and 3 % fewer deliveries a second, and was not kept.

use std::sync::{Arc, Mutex, mpsc};

use anyhow::{Context, Result, anyhow};

type Job = Box<dyn FnOnce() + Send>;

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
