//! Native threads for the big products: a persistent pool (std only), spawned once and grown on
//! demand, never a spawn per call. `run(parts, f)` calls f(0..parts) across the pool's threads
//! and the caller, and returns when all are done. The GEMMs give each part its own output block,
//! so the result does not depend on which thread ran which part, nor on the thread count.
//!
//! Thread count: `set_threads(n)` (ABI `rk_set_threads`), else env RNNKIT_THREADS, else the
//! available cores. wasm32 has no threads: there `threads()` is 1 and `run` is a loop.
//!
//! Waiting: an idle worker spins for a short while (the next step's product usually follows
//! within microseconds), then sleeps on a condition variable. A second caller arriving while the
//! pool is busy (another JS worker thread) runs its parts on its own thread.

/// Upper bound for `set_threads`.
pub const MAX_THREADS: usize = 256;

pub use imp::{run, run_pinned, set_threads, threads};

#[cfg(target_arch = "wasm32")]
mod imp {
    /// Always 1: wasm32-unknown-unknown has no threads.
    pub fn threads() -> usize {
        1
    }
    /// Accepts 0 (default) or 1.
    pub fn set_threads(n: usize) -> Result<usize, String> {
        match n {
            0 | 1 => Ok(1),
            _ => Err(format!("threads: this build (wasm32) runs on one thread, got {}", n)),
        }
    }
    pub fn run(parts: usize, f: &(dyn Fn(usize) + Sync)) {
        for i in 0..parts {
            f(i);
        }
    }
    pub fn run_pinned(parts: usize, f: &(dyn Fn(usize) + Sync)) {
        run(parts, f)
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use super::MAX_THREADS;
    use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::{Arc, Condvar, Mutex, MutexGuard};
    use std::time::{Duration, Instant};

    /// 0 = not decided yet.
    static THREADS: AtomicUsize = AtomicUsize::new(0);
    /// Held by the thread that is using the pool.
    static BUSY: Mutex<()> = Mutex::new(());
    static POOL: Mutex<Option<&'static Shared>> = Mutex::new(None);
    /// How long an idle worker spins before it sleeps.
    const SPIN: Duration = Duration::from_micros(60);

    fn default_threads() -> usize {
        if let Ok(v) = std::env::var("RNNKIT_THREADS") {
            if let Ok(n) = v.trim().parse::<usize>() {
                if n >= 1 {
                    return n.min(MAX_THREADS);
                }
            }
        }
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(MAX_THREADS)
    }

    /// Threads the products use (the caller counts as one).
    pub fn threads() -> usize {
        let t = THREADS.load(Ordering::Relaxed);
        if t != 0 {
            return t;
        }
        let d = default_threads();
        THREADS.store(d, Ordering::Relaxed);
        d
    }

    /// Sets the thread count; 0 = the default (RNNKIT_THREADS, else the available cores).
    /// Returns the count now in effect.
    pub fn set_threads(n: usize) -> Result<usize, String> {
        if n > MAX_THREADS {
            return Err(format!("threads: at most {}, got {}", MAX_THREADS, n));
        }
        let t = if n == 0 { default_threads() } else { n };
        THREADS.store(t, Ordering::Relaxed);
        Ok(t)
    }

    /// One call of `run`: parts are claimed through `next`, counted in `done`. `pinned`: part i
    /// belongs to participant i (0 = the caller, worker w = w + 1) instead.
    struct Job {
        f: *const (dyn Fn(usize) + Sync + 'static),
        parts: usize,
        pinned: bool,
        next: AtomicUsize,
        done: AtomicUsize,
        panicked: AtomicBool,
    }
    // `f` is only called for a claimed part, and `run` returns after every claimed part is done.
    unsafe impl Send for Job {}
    unsafe impl Sync for Job {}

    impl Job {
        /// Runs the parts of participant `who` (pinned), or claims parts until none is left.
        fn work(&self, who: usize) {
            if self.pinned {
                if who < self.parts {
                    self.run_part(who);
                }
                return;
            }
            loop {
                let i = self.next.fetch_add(1, Ordering::Relaxed);
                if i >= self.parts {
                    return;
                }
                self.run_part(i);
            }
        }

        fn run_part(&self, i: usize) {
            // SAFETY: part i is this thread's (claimed or pinned), so `run` is still waiting for
            // it and f is alive.
            let f = unsafe { &*self.f };
            if catch_unwind(AssertUnwindSafe(|| f(i))).is_err() {
                self.panicked.store(true, Ordering::Relaxed);
            }
            self.done.fetch_add(1, Ordering::Release);
        }
    }

    struct State {
        generation: usize,
        job: Option<Arc<Job>>,
        /// Workers with an index below this take part in the current job.
        helpers: usize,
    }

    struct Shared {
        state: Mutex<State>,
        wake: Condvar,
        /// Copy of `state.generation` for spinning workers.
        posted: AtomicUsize,
        sleepers: AtomicUsize,
        spawned: AtomicUsize,
    }

    fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
        m.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn worker(sh: &'static Shared, index: usize, mut seen: usize) {
        loop {
            let start = Instant::now();
            let mut spins = 0u32;
            while sh.posted.load(Ordering::Acquire) == seen {
                std::hint::spin_loop();
                spins += 1;
                if spins % 128 == 0 && start.elapsed() > SPIN {
                    break;
                }
            }
            let job = {
                let mut st = lock(&sh.state);
                while st.generation == seen {
                    sh.sleepers.fetch_add(1, Ordering::SeqCst);
                    st = sh.wake.wait(st).unwrap_or_else(|e| e.into_inner());
                    sh.sleepers.fetch_sub(1, Ordering::SeqCst);
                }
                seen = st.generation;
                if index < st.helpers {
                    st.job.clone()
                } else {
                    None
                }
            };
            if let Some(job) = job {
                job.work(index + 1);
            }
        }
    }

    /// The pool with at least `helpers` workers (spawning the missing ones), or None if the OS
    /// refuses threads (then everything runs on the caller).
    fn pool(helpers: usize) -> Option<&'static Shared> {
        let mut slot = lock(&POOL);
        let sh: &'static Shared = match *slot {
            Some(sh) => sh,
            None => {
                let sh = Box::leak(Box::new(Shared {
                    state: Mutex::new(State { generation: 0, job: None, helpers: 0 }),
                    wake: Condvar::new(),
                    posted: AtomicUsize::new(0),
                    sleepers: AtomicUsize::new(0),
                    spawned: AtomicUsize::new(0),
                }));
                *slot = Some(sh);
                sh
            }
        };
        while sh.spawned.load(Ordering::Relaxed) < helpers {
            let index = sh.spawned.load(Ordering::Relaxed);
            let seen = lock(&sh.state).generation;
            let ok = std::thread::Builder::new()
                .name(format!("rnnkit-{}", index + 1))
                .spawn(move || worker(sh, index, seen))
                .is_ok();
            if !ok {
                break;
            }
            sh.spawned.fetch_add(1, Ordering::Relaxed);
        }
        let have = sh.spawned.load(Ordering::Relaxed);
        if have == 0 {
            None
        } else {
            Some(sh)
        }
    }

    /// Calls f(i) for i in 0..parts on up to `threads()` threads (the caller is one of them) and
    /// returns when all calls have returned. A panic in any part is re-raised here, afterwards.
    pub fn run(parts: usize, f: &(dyn Fn(usize) + Sync)) {
        run_job(parts, false, f)
    }

    /// `run` with part i on thread i (0 = the caller; parts ≤ `threads()`): a product repeated
    /// every time step then finds its share of the weights in the same core's cache each step.
    pub fn run_pinned(parts: usize, f: &(dyn Fn(usize) + Sync)) {
        run_job(parts, true, f)
    }

    fn run_job(parts: usize, pinned: bool, f: &(dyn Fn(usize) + Sync)) {
        let t = threads();
        if parts <= 1 || t <= 1 {
            for i in 0..parts {
                f(i);
            }
            return;
        }
        let busy = match BUSY.try_lock() {
            Ok(g) => g,
            Err(_) => {
                for i in 0..parts {
                    f(i);
                }
                return;
            }
        };
        let want = (t - 1).min(parts - 1);
        let sh = match pool(want) {
            Some(sh) => sh,
            None => {
                drop(busy);
                for i in 0..parts {
                    f(i);
                }
                return;
            }
        };
        // SAFETY: the lifetime is erased only for the duration of this call; see Job.
        let f_static: *const (dyn Fn(usize) + Sync + 'static) = unsafe { std::mem::transmute(f as *const (dyn Fn(usize) + Sync)) };
        let job = Arc::new(Job {
            f: f_static,
            parts,
            pinned,
            next: AtomicUsize::new(0),
            done: AtomicUsize::new(0),
            panicked: AtomicBool::new(false),
        });
        let helpers = {
            let mut st = lock(&sh.state);
            st.generation = st.generation.wrapping_add(1);
            st.job = Some(job.clone());
            st.helpers = want.min(sh.spawned.load(Ordering::Relaxed));
            sh.posted.store(st.generation, Ordering::Release);
            st.helpers
        };
        if sh.sleepers.load(Ordering::SeqCst) > 0 {
            sh.wake.notify_all();
        }
        job.work(0);
        if pinned {
            // Parts of participants that do not exist (fewer workers than asked): the caller's.
            for i in helpers + 1..parts {
                job.run_part(i);
            }
        }
        let mut spins = 0u32;
        while job.done.load(Ordering::Acquire) < parts {
            if spins < 1 << 14 {
                std::hint::spin_loop();
                spins += 1;
            } else {
                std::thread::yield_now();
            }
        }
        lock(&sh.state).job = None;
        drop(busy);
        if job.panicked.load(Ordering::Relaxed) {
            resume_unwind(Box::new("rnnkit: a kernel panicked on a worker thread"));
        }
    }
}
