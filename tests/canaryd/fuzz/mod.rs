//! Fuzzing the edges where input enters (issue 12, item 13): property-based, with proptest,
//! on stable Rust. Generators are in [`gen`]; minimal crashers found are in [`regressions`].
//!
//! Each target is a function `target_x(cases)`. In the normal test run each runs a short count
//! with a fixed seed (reproducible CI); `scripts/fuzz.sh [CASES]` runs them in release mode at
//! `FUZZ_CASES` (default 100,000) with a fresh seed and prints the cases and time per target.
//! `FUZZ_SEED=N` replays a seed. Failures are not persisted to `proptest-regressions` files:
//! each crasher becomes a named test in `regressions.rs` with its minimal input, which reads
//! better and survives generator changes.
//!
//! The invariant of every target: no panic; the input is accepted or refused with an error
//! value. For API bodies: an HTTP 2xx, or a 4xx with `{"error": {"code", "message"}}`; never a
//! 5xx for bad input (the in-process app is configured so that no metric source can fail),
//! never a dropped connection (a panicking handler is how a connection drops). For numbers:
//! a report whose every number is finite or null, so that it reads back from its JSON.
//!
//! Any panic fails the run. Every crasher found is a named test in `regressions`.

pub mod gen;
mod regressions;

use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Once;
use std::time::Instant;

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestError, TestRunner};

pub mod app;

/// A panic caught in a case: its message and where it happened.
#[derive(Debug, Clone, Default)]
pub struct Panic {
    /// The payload, as text.
    pub message: String,
    /// `file:line:column`.
    pub location: String,
}

thread_local! {
    static CATCHING: RefCell<Option<Panic>> = const { RefCell::new(None) };
    static QUIET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Records panics of fuzz cases (quietly: a 100,000-case run would print thousands) and hands
/// every other panic to the hook that was there before.
fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if QUIET.with(|q| q.get()) {
                let message = if let Some(s) = info.payload().downcast_ref::<&str>() {
                    s.to_string()
                } else if let Some(s) = info.payload().downcast_ref::<String>() {
                    s.clone()
                } else {
                    "(non-text panic payload)".into()
                };
                let location = info
                    .location()
                    .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
                    .unwrap_or_default();
                CATCHING.with(|c| *c.borrow_mut() = Some(Panic { message, location }));
            } else {
                previous(info);
            }
        }));
    });
}

/// Runs `f`, turning a panic into `Err(Panic)`.
pub fn catch<R>(f: impl FnOnce() -> R) -> Result<R, Panic> {
    install_hook();
    QUIET.with(|q| q.set(true));
    CATCHING.with(|c| *c.borrow_mut() = None);
    let result = catch_unwind(AssertUnwindSafe(f));
    QUIET.with(|q| q.set(false));
    result.map_err(|_| CATCHING.with(|c| c.borrow_mut().take()).unwrap_or_default())
}

/// Cases per target: `FUZZ_CASES`, else `short` (the normal test run).
pub fn cases(short: u32) -> u32 {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(short)
}

fn seed() -> u64 {
    if let Some(s) = std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|v| v.trim().parse().ok())
    {
        return s;
    }
    if std::env::var_os("FUZZ_CASES").is_some() {
        // A long run explores: a new seed each time (printed, so that it can be replayed).
        return std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
    }
    0x00f0_2201
}

/// Runs `cases` cases of `strategy` through `check`. `check` returns `Err(why)` when an
/// invariant other than "no panic" is broken. A panic or an `Err` fails the run with the
/// minimal input proptest shrank it to.
pub fn run<S>(name: &str, cases: u32, strategy: S, check: impl Fn(&S::Value) -> Result<(), String>)
where
    S: Strategy,
{
    let seed = seed();
    let config = Config {
        cases,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(seed),
        max_shrink_iters: 4096,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let started = Instant::now();
    let result = runner.run(&strategy, |value| match catch(|| check(&value)) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(why)) => Err(TestCaseError::fail(why)),
        Err(panic) => Err(TestCaseError::fail(format!(
            "panicked at {}: {}",
            panic.location, panic.message
        ))),
    });
    let took = started.elapsed().as_secs_f64();
    eprintln!(
        "\nfuzz {name}: {cases} cases in {took:.1} s ({:.0} cases/s), seed {seed}",
        f64::from(cases) / took.max(1e-9)
    );
    match result {
        Ok(()) => {}
        Err(TestError::Fail(why, value)) => panic!(
            "fuzz {name} (seed {seed}, replay with FUZZ_SEED={seed}): {why}\nminimal input: \
             {value:#?}"
        ),
        Err(TestError::Abort(why)) => panic!("fuzz {name} (seed {seed}) aborted: {why}"),
    }
}

mod targets;
