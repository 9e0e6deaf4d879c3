//! PDF extraction in child processes with CPU, memory and time limits.
//!
//! pdf-extract can panic, loop, exhaust memory or overflow its stack on hostile PDFs. The
//! gateway must survive all of that, so PDFs are parsed by `veilpost pdf-worker` children.
//! A worker limits its own address space and CPU time (setrlimit) before it reads any
//! input, then answers requests on stdin/stdout until told to stop. The parent kills a
//! worker that overruns its wall-clock budget and starts a fresh one for the next PDF.
//! Workers are pooled, so a message with a PDF costs a pipe round trip, not a process start.
//!
//! Frames (little endian): request `VPDF u64:len bytes`; response `VPDF u8:status` then
//! for status 0 `u32:pages (u8:has_images u32:len utf8)*`, for 1 nothing (encrypted), for 2
//! `u32:len utf8` (unreadable, with the reason).

use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Mutex;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::Duration;

use veilpost_dlp::{PdfExtractor, PdfOutcome, PdfPage};

const MAGIC: &[u8; 4] = b"VPDF";
/// The largest PDF a worker accepts (the scanner's byte budget is smaller anyway).
const MAX_REQUEST: u64 = 512 * 1024 * 1024;
/// A worker is replaced after this many PDFs, so its CPU limit is never reached by
/// honest work.
const JOBS_PER_WORKER: usize = 64;

/// Limits for each worker.
#[derive(Debug, Clone)]
pub struct SandboxLimits {
    /// Wall time for one PDF.
    pub timeout: Duration,
    /// Address-space limit of a worker process.
    pub memory_bytes: u64,
    /// CPU seconds a worker may use over its life.
    pub cpu_seconds: u64,
}

impl Default for SandboxLimits {
    fn default() -> Self {
        SandboxLimits {
            timeout: Duration::from_secs(15),
            memory_bytes: 1024 * 1024 * 1024,
            cpu_seconds: 300,
        }
    }
}

/// A [`PdfExtractor`] that runs each PDF in a pooled, resource-limited child process.
#[derive(Debug)]
pub struct SandboxedPdf {
    exe: PathBuf,
    limits: SandboxLimits,
    idle: Mutex<Vec<Worker>>,
}

#[derive(Debug)]
struct Worker {
    child: Child,
    stdin: BufWriter<ChildStdin>,
    replies: Receiver<io::Result<PdfOutcome>>,
    jobs: usize,
}

impl Worker {
    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl SandboxedPdf {
    /// Workers run `exe pdf-worker` (normally the current executable).
    pub fn new(exe: PathBuf, limits: SandboxLimits) -> SandboxedPdf {
        SandboxedPdf {
            exe,
            limits,
            idle: Mutex::new(Vec::new()),
        }
    }

    fn spawn(&self) -> io::Result<Worker> {
        let mut child = Command::new(&self.exe)
            .arg("pdf-worker")
            .arg("--memory-bytes")
            .arg(self.limits.memory_bytes.to_string())
            .arg("--cpu-seconds")
            .arg(self.limits.cpu_seconds.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let stdin = child
            .stdin
            .take()
            .ok_or_else(|| io::Error::other("no stdin"))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| io::Error::other("no stdout"))?;
        let (tx, replies) = mpsc::channel();
        thread::Builder::new()
            .name("pdf-worker-reader".into())
            .spawn(move || {
                let mut reader = BufReader::new(stdout);
                loop {
                    let reply = read_response(&mut reader);
                    let failed = reply.is_err();
                    if tx.send(reply).is_err() || failed {
                        break;
                    }
                }
            })?;
        Ok(Worker {
            child,
            stdin: BufWriter::new(stdin),
            replies,
            jobs: 0,
        })
    }

    fn take_worker(&self) -> io::Result<Worker> {
        let pooled = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        match pooled {
            Some(w) => Ok(w),
            None => self.spawn(),
        }
    }

    fn give_back(&self, worker: Worker) {
        if worker.jobs >= JOBS_PER_WORKER {
            worker.kill();
            return;
        }
        match self.idle.lock() {
            Ok(mut idle) => idle.push(worker),
            Err(_) => worker.kill(),
        }
    }
}

impl PdfExtractor for SandboxedPdf {
    fn extract(&self, pdf: &[u8]) -> PdfOutcome {
        let mut worker = match self.take_worker() {
            Ok(w) => w,
            Err(e) => return PdfOutcome::Unreadable(format!("PDF sandbox unavailable: {e}")),
        };
        let sent = write_request(&mut worker.stdin, pdf);
        if let Err(e) = sent {
            let reason = worker_death(&mut worker, &e.to_string());
            worker.kill();
            return PdfOutcome::Unreadable(reason);
        }
        match worker.replies.recv_timeout(self.limits.timeout) {
            Ok(Ok(outcome)) => {
                worker.jobs += 1;
                self.give_back(worker);
                outcome
            }
            Ok(Err(e)) => {
                let reason = worker_death(&mut worker, &e.to_string());
                worker.kill();
                PdfOutcome::Unreadable(reason)
            }
            Err(RecvTimeoutError::Disconnected) => {
                let reason = worker_death(&mut worker, "no reply");
                worker.kill();
                PdfOutcome::Unreadable(reason)
            }
            Err(RecvTimeoutError::Timeout) => {
                worker.kill();
                PdfOutcome::Unreadable(format!(
                    "PDF extraction took longer than {:?}",
                    self.limits.timeout
                ))
            }
        }
    }
}

impl Drop for SandboxedPdf {
    fn drop(&mut self) {
        if let Ok(mut idle) = self.idle.lock() {
            for w in idle.drain(..) {
                w.kill();
            }
        }
    }
}

/// Why a worker stopped answering: its exit status when it has one.
fn worker_death(worker: &mut Worker, detail: &str) -> String {
    thread::sleep(Duration::from_millis(5));
    match worker.child.try_wait() {
        Ok(Some(status)) => format!("PDF extractor crashed on this file ({status})"),
        _ => format!("PDF extractor failed on this file ({detail})"),
    }
}

fn write_request(w: &mut impl Write, pdf: &[u8]) -> io::Result<()> {
    w.write_all(MAGIC)?;
    w.write_all(&(pdf.len() as u64).to_le_bytes())?;
    w.write_all(pdf)?;
    w.flush()
}

fn read_u32(r: &mut impl Read) -> io::Result<u32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(u32::from_le_bytes(b))
}

fn read_string(r: &mut impl Read, max: usize) -> io::Result<String> {
    let len = read_u32(r)? as usize;
    if len > max {
        return Err(io::Error::other("oversized frame"));
    }
    let mut buf = vec![0u8; len];
    r.read_exact(&mut buf)?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

fn read_response(r: &mut impl Read) -> io::Result<PdfOutcome> {
    let mut magic = [0u8; 5];
    r.read_exact(&mut magic)?;
    if &magic[..4] != MAGIC {
        return Err(io::Error::other("garbled reply"));
    }
    match magic[4] {
        0 => {
            let pages = read_u32(r)? as usize;
            let mut out = Vec::with_capacity(pages.min(10_000));
            for _ in 0..pages {
                let mut flag = [0u8; 1];
                r.read_exact(&mut flag)?;
                let text = read_string(r, MAX_REQUEST as usize)?;
                out.push(PdfPage {
                    text,
                    has_images: flag[0] == 1,
                });
            }
            Ok(PdfOutcome::Pages(out))
        }
        1 => Ok(PdfOutcome::Encrypted),
        2 => Ok(PdfOutcome::Unreadable(read_string(r, 64 * 1024)?)),
        _ => Err(io::Error::other("garbled reply")),
    }
}

fn write_response(w: &mut impl Write, outcome: &PdfOutcome) -> io::Result<()> {
    w.write_all(MAGIC)?;
    match outcome {
        PdfOutcome::Pages(pages) => {
            w.write_all(&[0])?;
            w.write_all(&(pages.len() as u32).to_le_bytes())?;
            for p in pages {
                w.write_all(&[u8::from(p.has_images)])?;
                w.write_all(&(p.text.len() as u32).to_le_bytes())?;
                w.write_all(p.text.as_bytes())?;
            }
        }
        PdfOutcome::Encrypted => w.write_all(&[1])?,
        PdfOutcome::Unreadable(why) => {
            w.write_all(&[2])?;
            let why = &why.as_bytes()[..why.len().min(4096)];
            w.write_all(&(why.len() as u32).to_le_bytes())?;
            w.write_all(why)?;
        }
    }
    w.flush()
}

/// The worker side: limit ourselves, then answer requests until stdin closes.
pub fn run_worker(memory_bytes: u64, cpu_seconds: u64) -> io::Result<()> {
    rlimit::setrlimit(rlimit::Resource::AS, memory_bytes, memory_bytes)?;
    rlimit::setrlimit(rlimit::Resource::CPU, cpu_seconds, cpu_seconds)?;
    rlimit::setrlimit(rlimit::Resource::CORE, 0, 0)?;
    // pdf-extract panics on malformed input; the panic is caught and reported as a reply,
    // so the default message on stderr is only noise.
    std::panic::set_hook(Box::new(|_| {}));
    let stdin = io::stdin();
    let mut input = BufReader::new(stdin.lock());
    let stdout = io::stdout();
    let mut output = BufWriter::new(stdout.lock());
    loop {
        let mut head = [0u8; 12];
        match input.read_exact(&mut head) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        }
        if &head[..4] != MAGIC {
            return Err(io::Error::other("garbled request"));
        }
        let mut len_bytes = [0u8; 8];
        len_bytes.copy_from_slice(&head[4..]);
        let len = u64::from_le_bytes(len_bytes);
        if len > MAX_REQUEST {
            return Err(io::Error::other("oversized request"));
        }
        let mut pdf = vec![0u8; len as usize];
        input.read_exact(&mut pdf)?;
        let outcome = veilpost_dlp::extract::pdf::extract_pdf(&pdf);
        write_response(&mut output, &outcome)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let outcomes = [
            PdfOutcome::Pages(vec![
                PdfPage {
                    text: "BSN 123456782".into(),
                    has_images: false,
                },
                PdfPage {
                    text: String::new(),
                    has_images: true,
                },
            ]),
            PdfOutcome::Encrypted,
            PdfOutcome::Unreadable("kapot".into()),
        ];
        for outcome in outcomes {
            let mut buf = Vec::new();
            write_response(&mut buf, &outcome).expect("write");
            let back = read_response(&mut buf.as_slice()).expect("read");
            assert_eq!(back, outcome);
        }
        assert!(read_response(&mut &b"XXXX\0"[..]).is_err());
        assert!(read_response(&mut &b"VPDF\x02\xff\xff\xff\xff"[..]).is_err());
    }

    /// A stand-in worker: a shell script that misbehaves in a chosen way.
    fn fake_worker(name: &str, body: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = std::env::temp_dir().join(format!("veilpost-{name}-{}", std::process::id()));
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write script");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        path
    }

    /// Extract, retrying while the fresh script is "text file busy" (another test thread
    /// forked while it was open for writing).
    fn extract(sandbox: &SandboxedPdf) -> PdfOutcome {
        for _ in 0..50 {
            match sandbox.extract(b"%PDF-1.4") {
                PdfOutcome::Unreadable(why) if why.contains("os error 26") => {
                    thread::sleep(Duration::from_millis(20));
                }
                other => return other,
            }
        }
        panic!("script stayed busy");
    }

    fn limits(timeout_ms: u64) -> SandboxLimits {
        SandboxLimits {
            timeout: Duration::from_millis(timeout_ms),
            ..SandboxLimits::default()
        }
    }

    #[test]
    fn a_crashing_worker_is_reported_not_fatal() {
        let exe = fake_worker("crash", "exit 3");
        let sandbox = SandboxedPdf::new(exe.clone(), limits(5000));
        for _ in 0..2 {
            match extract(&sandbox) {
                PdfOutcome::Unreadable(why) => assert!(why.contains("PDF extractor"), "{why}"),
                other => panic!("{other:?}"),
            }
        }
        let _ = std::fs::remove_file(exe);
    }

    #[test]
    fn a_hanging_worker_is_killed_at_the_timeout() {
        let exe = fake_worker("hang", "exec sleep 30");
        let sandbox = SandboxedPdf::new(exe.clone(), limits(300));
        let start = std::time::Instant::now();
        match extract(&sandbox) {
            PdfOutcome::Unreadable(why) => assert!(why.contains("longer than"), "{why}"),
            other => panic!("{other:?}"),
        }
        assert!(start.elapsed() < Duration::from_secs(10));
        let _ = std::fs::remove_file(exe);
    }

    #[test]
    fn a_missing_worker_is_reported() {
        let sandbox = SandboxedPdf::new(PathBuf::from("/nonexistent/veilpost"), limits(1000));
        match sandbox.extract(b"%PDF-1.4") {
            PdfOutcome::Unreadable(why) => assert!(why.contains("sandbox unavailable"), "{why}"),
            other => panic!("{other:?}"),
        }
    }
}
