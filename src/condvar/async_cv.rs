//! [`AsyncRwCondvar`]: the condition variable for async lock guards.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::collections::VecDeque;
use std::sync::Arc as StdArc;

use super::guard::Token;
use super::{two_locks, WaitTimeoutResult};
use crate::asynchronous::{
    Acquire, AsyncRwLock, AsyncRwLockReadGuard, AsyncRwLockWriteGuard, OwnedAsyncRwLockReadGuard,
    OwnedAsyncRwLockWriteGuard,
};
use crate::engine::waiter::{wake_all, Kind, Waiter, WakeList, CV_WAITING, NOTIFIED};
use crate::loom::{Arc, Mutex};
use crate::policy::Policy;

pub(crate) mod sealed {
    use super::*;

    /// What an async condvar wait needs from a guard: release it keeping a
    /// handle to the lock, then re-acquire through that handle.
    #[allow(private_interfaces)]
    pub trait Sealed: Sized {
        /// The lock reference the guard keeps (`&AsyncRwLock` or `Arc`).
        type Handle;
        /// The mode the guard holds.
        const KIND: Kind;
        /// The lock's identity.
        fn lock_id(&self, _: Token) -> usize;
        /// Releases the lock; keeps the handle.
        fn release(self, _: Token) -> Self::Handle;
        /// Polls a re-acquisition in the guard's mode.
        fn poll_acquire(handle: &Self::Handle, acquire: &mut Acquire, cx: &mut Context<'_>) -> Poll<()>;
        /// Cancels a re-acquisition (releasing a grant received).
        fn cancel_acquire(handle: &Self::Handle, acquire: &mut Acquire);
        /// Rebuilds the guard.
        ///
        /// # Safety
        /// The lock is held in `KIND` mode.
        unsafe fn rebuild(handle: Self::Handle, _: Token) -> Self;
    }
}

/// A guard [`AsyncRwCondvar`] can wait with: the read and write guards of
/// [`AsyncRwLock`], borrowed or owned, any policy.
///
/// The trait is sealed, and the hooks the condvar calls on a guard cannot
/// be called from outside this crate:
///
/// ```compile_fail,E0061
/// fn unlock<G: rwlocker::AsyncCondvarGuard>(guard: G) {
///     let _lock = guard.release(); // not callable outside rwlocker
/// }
/// ```
pub trait AsyncCondvarGuard: sealed::Sealed {}

macro_rules! async_guard {
    ($guard:ident $(<$a:lifetime>)?, $handle:ty, $kind:expr) => {
        // The sealed trait's items name crate-private types on purpose: no
        // one outside the crate can call or implement them.
        #[allow(private_interfaces)]
        impl<$($a,)? T: ?Sized, P: Policy> sealed::Sealed for $guard<$($a,)? T, P> {
            type Handle = $handle;
            const KIND: Kind = $kind;
            fn lock_id(&self, _: Token) -> usize {
                ($guard::rwlock(self) as *const AsyncRwLock<T, P>).cast::<()>() as usize
            }
            fn release(self, _: Token) -> $handle {
                let (handle, token) = $guard::into_parts(self);
                // SAFETY: the guard held the lock in this mode (the read
                // lock `token` stands for) and was consumed without
                // releasing it.
                unsafe { handle.raw().unlock_held($kind, token) };
                handle
            }
            fn poll_acquire(handle: &$handle, acquire: &mut Acquire, cx: &mut Context<'_>) -> Poll<()> {
                // (A counted acquisition: `rebuild` makes a counted guard.)
                acquire.poll(handle.raw(), cx).map(|_| ())
            }
            fn cancel_acquire(handle: &$handle, acquire: &mut Acquire) {
                acquire.cancel(handle.raw())
            }
            unsafe fn rebuild(handle: $handle, _: Token) -> Self {
                // SAFETY: forwarded from the caller's obligation.
                unsafe { $guard::new(handle) }
            }
        }
        impl<$($a,)? T: ?Sized, P: Policy> AsyncCondvarGuard for $guard<$($a,)? T, P> {}
    };
}

async_guard!(AsyncRwLockReadGuard<'a>, &'a AsyncRwLock<T, P>, Kind::Read);
async_guard!(AsyncRwLockWriteGuard<'a>, &'a AsyncRwLock<T, P>, Kind::Write);
async_guard!(OwnedAsyncRwLockReadGuard, StdArc<AsyncRwLock<T, P>>, Kind::Read);
async_guard!(OwnedAsyncRwLockWriteGuard, StdArc<AsyncRwLock<T, P>>, Kind::Write);

/// A condition variable for [`AsyncRwLock`] guards, read or write, borrowed
/// or owned (any policy, [`AsyncMutex`](crate::AsyncMutex) included).
///
/// * [`wait`](Self::wait) takes the guard by value: the waiter registers
///   **before** the lock is released (no wakeup can be lost in between),
///   and the future returns the guard, holding the same mode again.
/// * FIFO wake order; `notify(n)` wakes exactly `min(n, waiting)`; no
///   spurious wakeups.
/// * Cancellation: dropping a wait that had already been notified passes
///   the notification to the next waiter, so `notify(n)` always reaches `n`
///   live waiters; if it had also re-acquired the lock, that grant is
///   released too.
/// * A notified task re-acquires the lock when it next runs, as an arrival
///   at that moment (tasks are cheap to wake; unlike [`RwCondvar`], whose
///   sleeping threads are moved onto the lock's queue directly).
///
/// [`RwCondvar`]: crate::RwCondvar
///
/// ```
/// # futures::executor::block_on(async {
/// use rwlocker::{AsyncRwCondvar, AsyncRwLock};
///
/// let lock = AsyncRwLock::<_>::new(false);
/// let cv = AsyncRwCondvar::new();
/// let waiter = async {
///     let guard = lock.read().await;
///     let guard = cv.wait_while(guard, |ready| !*ready).await;
///     assert!(*guard);
/// };
/// let setter = async {
///     *lock.write().await = true;
///     cv.notify_all();
/// };
/// futures::join!(waiter, setter);
/// # });
/// ```
pub struct AsyncRwCondvar {
    state: Mutex<AsyncCvState>,
}

struct AsyncCvState {
    /// Identity of the lock the registered waiters belong to.
    lock: usize,
    waiters: VecDeque<Arc<Waiter>>,
}

impl Default for AsyncRwCondvar {
    fn default() -> Self {
        AsyncRwCondvar::new()
    }
}

impl fmt::Debug for AsyncRwCondvar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncRwCondvar").field("waiters", &self.state.lock().waiters.len()).finish()
    }
}

impl AsyncRwCondvar {
    crate::engine::maybe_const_fn! {
        /// A condition variable with no waiters.
        pub fn new() -> Self {
            AsyncRwCondvar { state: Mutex::new(AsyncCvState { lock: 0, waiters: VecDeque::new() }) }
        }
    }

    /// Releases the guard's lock, waits for a notification, and resolves to
    /// the guard, holding the same mode again.
    ///
    /// Nothing happens until the future is first polled; dropping it before
    /// then drops the guard (releasing the lock) and registers nothing.
    ///
    /// # Panics
    /// (When polled) if waiters of another lock are registered.
    pub fn wait<G: AsyncCondvarGuard>(&self, guard: G) -> AsyncRwCondvarWait<'_, G> {
        AsyncRwCondvarWait { cv: self, phase: Phase::Start(guard) }
    }

    /// Waits while `condition` holds; resolves to the guard once it is false.
    pub async fn wait_while<G, T>(&self, mut guard: G, mut condition: impl FnMut(&T) -> bool) -> G
    where
        G: AsyncCondvarGuard + core::ops::Deref<Target = T>,
        T: ?Sized,
    {
        while condition(&*guard) {
            guard = self.wait(guard).await;
        }
        guard
    }

    /// Like [`wait`](Self::wait), giving up when `timer` completes first:
    /// resolves to the guard, holding the same mode again, and whether the
    /// wait timed out. Any timer future works (`tokio::time::sleep(d)`, an
    /// `async-io` `Timer`, …), so the condvar stays runtime-agnostic.
    ///
    /// The timer bounds the wait for a notification, not the re-acquisition
    /// of the lock (as for [`RwCondvar::wait_until`](crate::RwCondvar::wait_until)).
    /// A notification that arrives as the timer fires is taken: the result
    /// is then not timed out. Unlike dropping a [`wait`](Self::wait) future
    /// (which drops the guard), the caller gets the guard back and can check
    /// its condition again under the lock.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
    /// use std::time::Duration;
    /// use rwlocker::{AsyncRwCondvar, AsyncRwLock};
    ///
    /// let lock = AsyncRwLock::<u32>::new(0);
    /// let cv = AsyncRwCondvar::new();
    /// let guard = lock.write().await;
    /// let (mut guard, r) = cv.wait_timeout(guard, tokio::time::sleep(Duration::from_millis(5))).await;
    /// assert!(r.timed_out());
    /// *guard += 1; // the write lock is held again
    /// # });
    /// ```
    pub fn wait_timeout<G: AsyncCondvarGuard, F: Future>(
        &self,
        guard: G,
        timer: F,
    ) -> AsyncRwCondvarWaitTimeout<'_, G, F> {
        AsyncRwCondvarWaitTimeout { wait: self.wait(guard), timer: Some(timer), timed_out: false }
    }

    /// Waits while `condition` holds, giving up when `timer` completes:
    /// resolves to the guard and whether the condition still held when the
    /// timer fired. The lock is held again on return either way.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
    /// use std::time::Duration;
    /// use rwlocker::{AsyncRwCondvar, AsyncRwLock};
    ///
    /// let lock = AsyncRwLock::<bool>::new(false);
    /// let cv = AsyncRwCondvar::new();
    /// let waiter = async {
    ///     let g = lock.read().await;
    ///     let (g, r) = cv.wait_while_timeout(g, |ready| !*ready, tokio::time::sleep(Duration::from_secs(3600))).await;
    ///     assert!(*g && !r.timed_out());
    /// };
    /// let setter = async {
    ///     *lock.write().await = true;
    ///     cv.notify_all();
    /// };
    /// tokio::join!(waiter, setter);
    /// # });
    /// ```
    pub async fn wait_while_timeout<G, T, F>(
        &self,
        mut guard: G,
        mut condition: impl FnMut(&T) -> bool,
        timer: F,
    ) -> (G, WaitTimeoutResult)
    where
        G: AsyncCondvarGuard + core::ops::Deref<Target = T>,
        T: ?Sized,
        F: Future,
    {
        // Fused: a notification can win the race with a timer that has just
        // completed, and a completed future must not be polled again.
        let mut timer = core::pin::pin!(Fused(Some(timer)));
        while condition(&*guard) {
            if timer.0.is_none() {
                return (guard, WaitTimeoutResult(true));
            }
            let (g, r) = self.wait_timeout(guard, timer.as_mut()).await;
            guard = g;
            if r.timed_out() {
                let still = condition(&*guard);
                return (guard, WaitTimeoutResult(still));
            }
        }
        (guard, WaitTimeoutResult(false))
    }

    /// Wakes one waiter; returns whether there was one.
    pub fn notify_one(&self) -> bool {
        self.notify(1) == 1
    }

    /// Wakes every waiter registered before this call; returns how many.
    pub fn notify_all(&self) -> usize {
        self.notify(usize::MAX)
    }

    /// Wakes exactly `min(n, waiting)` waiters, oldest first; returns that
    /// number.
    pub fn notify(&self, n: usize) -> usize {
        let wake: WakeList = {
            let mut st = self.state.lock();
            let count = n.min(st.waiters.len());
            st.waiters.drain(..count).inspect(|w| w.set_state(NOTIFIED)).collect()
        };
        let count = wake.len();
        wake_all(wake);
        count
    }

    /// Starts a hand-driven wait (for bindings that manage the lock
    /// themselves): registers a waiter for the lock identified by
    /// `lock_id` (any stable address of it, used only for the
    /// one-lock-at-a-time check). Call it while still holding the lock,
    /// then release the lock, then poll the wait with
    /// [`RawCondvarWait::poll`] until it is notified, and re-acquire the
    /// lock. To give up, call [`RawCondvarWait::cancel`] or drop the wait.
    ///
    /// The wait borrows this condvar; [`register_raw_owned`](Self::register_raw_owned)
    /// makes one that keeps an `Arc` of it instead.
    ///
    /// # Panics
    /// If waiters of another lock are registered.
    ///
    /// ```
    /// use core::task::{Context, Poll, Waker};
    /// use rwlocker::AsyncRwCondvar;
    ///
    /// let cv = AsyncRwCondvar::new();
    /// let mut cx = Context::from_waker(Waker::noop());
    /// let mut wait = cv.register_raw(0x1000, cx.waker());
    /// assert!(wait.poll(&mut cx).is_pending());
    /// assert_eq!(cv.notify(5), 1);
    /// assert!(wait.poll(&mut cx).is_ready());
    /// ```
    pub fn register_raw(&self, lock_id: usize, waker: &core::task::Waker) -> RawCondvarWait<'_> {
        let waiter = Waiter::task(Kind::Read, CV_WAITING, waker);
        self.register(lock_id, waiter.clone());
        RawCondvarWait { cv: CvRef::Borrowed(self), waiter: Some(waiter) }
    }

    /// [`register_raw`](Self::register_raw) for a condvar in an `Arc`: the
    /// wait keeps the `Arc`, so it has no lifetime (a binding can store it).
    ///
    /// # Panics
    /// If waiters of another lock are registered.
    ///
    /// ```
    /// use core::task::{Context, Waker};
    /// use std::sync::Arc;
    /// use rwlocker::{AsyncRwCondvar, RawCondvarWait};
    ///
    /// let cv = Arc::new(AsyncRwCondvar::new());
    /// let mut cx = Context::from_waker(Waker::noop());
    /// let mut waits: Vec<RawCondvarWait<'static>> =
    ///     (0..2).map(|_| cv.clone().register_raw_owned(0x1000, cx.waker())).collect();
    /// assert_eq!(cv.notify(1), 1); // the first
    /// drop(waits.remove(0)); // notified but dropped unpolled: passes it on
    /// assert!(waits[0].poll(&mut cx).is_ready());
    /// ```
    pub fn register_raw_owned(
        self: StdArc<Self>,
        lock_id: usize,
        waker: &core::task::Waker,
    ) -> RawCondvarWait<'static> {
        let waiter = Waiter::task(Kind::Read, CV_WAITING, waker);
        self.register(lock_id, waiter.clone());
        RawCondvarWait { cv: CvRef::Owned(self), waiter: Some(waiter) }
    }

    /// Registers a waiter for the lock `lock_id`.
    fn register(&self, lock_id: usize, waiter: Arc<Waiter>) {
        let mut st = self.state.lock();
        if !st.waiters.is_empty() && st.lock != lock_id {
            drop(st);
            two_locks();
        }
        st.lock = lock_id;
        st.waiters.push_back(waiter);
    }

    /// A waiter gives up; returns whether it had been notified.
    fn deregister(&self, waiter: &Arc<Waiter>) -> bool {
        let mut st = self.state.lock();
        if waiter.state() == CV_WAITING {
            let i = st.waiters.iter().position(|w| Arc::ptr_eq(w, waiter)).unwrap();
            st.waiters.remove(i);
            false
        } else {
            true
        }
    }
}

/// A hand-driven wait on an [`AsyncRwCondvar`], made by
/// [`register_raw`](AsyncRwCondvar::register_raw) (borrowing the condvar)
/// or [`register_raw_owned`](AsyncRwCondvar::register_raw_owned) (keeping
/// an `Arc` of it). It acts on its own condvar only.
///
/// Dropping a wait that is still registered deregisters it; if it had been
/// notified and the notification was not yet seen by [`poll`](Self::poll),
/// the notification is passed on to the next waiter (`notify(1)`).
///
/// A wait cannot be handed to another condvar:
///
/// ```compile_fail,E0599
/// use core::task::Waker;
/// use rwlocker::AsyncRwCondvar;
///
/// let (a, b) = (AsyncRwCondvar::new(), AsyncRwCondvar::new());
/// let mut wait = a.register_raw(0x1000, Waker::noop());
/// b.cancel_raw(&mut wait); // no such method: the wait acts on `a` alone
/// ```
pub struct RawCondvarWait<'c> {
    cv: CvRef<'c>,
    /// `None` once the notification was consumed by `poll`, or the wait
    /// was cancelled.
    waiter: Option<Arc<Waiter>>,
}

/// How a [`RawCondvarWait`] holds its condvar.
enum CvRef<'c> {
    Borrowed(&'c AsyncRwCondvar),
    Owned(StdArc<AsyncRwCondvar>),
}

impl core::ops::Deref for CvRef<'_> {
    type Target = AsyncRwCondvar;
    fn deref(&self) -> &AsyncRwCondvar {
        match self {
            CvRef::Borrowed(cv) => cv,
            CvRef::Owned(cv) => cv,
        }
    }
}

impl RawCondvarWait<'_> {
    /// Polls the wait: `Ready` once it has been notified. The first `Ready`
    /// consumes the notification; later polls (and polls after
    /// [`cancel`](Self::cancel)) return `Ready` at once.
    pub fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Some(waiter) = &self.waiter else { return Poll::Ready(()) };
        waiter.register(cx.waker());
        if waiter.state() == NOTIFIED {
            self.waiter = None;
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }

    /// Gives the wait up. Returns true if it had been notified and the
    /// notification had not been consumed by a `Ready` poll: the caller then
    /// either honours it or passes it on with `notify(1)`. Otherwise (not
    /// notified, already consumed, or cancelled before) returns false and
    /// leaves no trace.
    ///
    /// ```
    /// use core::task::{Context, Waker};
    /// use rwlocker::AsyncRwCondvar;
    ///
    /// let cv = AsyncRwCondvar::new();
    /// let mut cx = Context::from_waker(Waker::noop());
    /// let mut wait = cv.register_raw(0x1000, cx.waker());
    /// cv.notify_one();
    /// assert!(wait.cancel()); // notified: the caller decides what to do with it
    /// assert!(!wait.cancel()); // told once only
    /// ```
    pub fn cancel(&mut self) -> bool {
        match self.waiter.take() {
            Some(waiter) => self.cv.deregister(&waiter),
            None => false,
        }
    }
}

impl Drop for RawCondvarWait<'_> {
    fn drop(&mut self) {
        if self.cancel() {
            // Notified but gone: pass the notification on.
            self.cv.notify(1);
        }
    }
}

impl fmt::Debug for RawCondvarWait<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawCondvarWait").field("waiter", &self.waiter).finish_non_exhaustive()
    }
}

impl fmt::Debug for Waiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Waiter").field("kind", &self.kind).field("state", &self.state()).finish()
    }
}

enum Phase<G: sealed::Sealed> {
    Start(G),
    Waiting(G::Handle, Arc<Waiter>),
    Reacquiring(G::Handle, Acquire),
    Done,
}

/// The future of [`AsyncRwCondvar::wait`]; resolves to the guard.
#[must_use = "futures do nothing unless polled"]
pub struct AsyncRwCondvarWait<'c, G: AsyncCondvarGuard> {
    cv: &'c AsyncRwCondvar,
    phase: Phase<G>,
}

// The future holds no self-references.
impl<G: AsyncCondvarGuard> Unpin for AsyncRwCondvarWait<'_, G> {}

impl<G: AsyncCondvarGuard> fmt::Debug for AsyncRwCondvarWait<'_, G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let phase = match self.phase {
            Phase::Start(_) => "start",
            Phase::Waiting(..) => "waiting",
            Phase::Reacquiring(..) => "reacquiring",
            Phase::Done => "done",
        };
        f.debug_struct("AsyncRwCondvarWait").field("phase", &phase).finish()
    }
}

impl<G: AsyncCondvarGuard> Future for AsyncRwCondvarWait<'_, G> {
    type Output = G;

    // Each phase is replaced only once its step has succeeded, so that a
    // panic (a waker that panics when cloned, or when the release wakes
    // it) leaves a phase whose `Drop` cleans up: the registration is
    // removed and a notification or grant received is passed on.
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<G> {
        let this = self.get_mut();
        loop {
            match &mut this.phase {
                Phase::Start(_) => {
                    let waiter = Waiter::task(G::KIND, CV_WAITING, cx.waker());
                    let Phase::Start(guard) = core::mem::replace(&mut this.phase, Phase::Done) else { unreachable!() };
                    // Register first, then release: a notify in between
                    // finds this waiter. (If `register` panics, nothing
                    // was registered and the guard releases the lock.)
                    this.cv.register(guard.lock_id(Token), waiter.clone());
                    // If the release panics (a waker it runs), the lock is
                    // released all the same: take the registration back.
                    let undo = Deregister { cv: this.cv, waiter: &waiter };
                    let handle = guard.release(Token);
                    core::mem::forget(undo);
                    this.phase = Phase::Waiting(handle, waiter);
                }
                Phase::Waiting(_, waiter) => {
                    waiter.register(cx.waker());
                    if waiter.state() != NOTIFIED {
                        return Poll::Pending;
                    }
                    let Phase::Waiting(handle, _) = core::mem::replace(&mut this.phase, Phase::Done) else {
                        unreachable!()
                    };
                    this.phase = Phase::Reacquiring(handle, Acquire::new(G::KIND));
                }
                Phase::Reacquiring(handle, acquire) => {
                    if G::poll_acquire(handle, acquire, cx).is_pending() {
                        return Poll::Pending;
                    }
                    let Phase::Reacquiring(handle, _) = core::mem::replace(&mut this.phase, Phase::Done) else {
                        unreachable!()
                    };
                    // SAFETY: `Ready` means the lock is held in `G::KIND`.
                    return Poll::Ready(unsafe { G::rebuild(handle, Token) });
                }
                Phase::Done => panic!("rwlocker: condvar wait polled after it completed"),
            }
        }
    }
}

/// Takes a waiter's registration back if dropped (on unwind): passes on a
/// notification it had received.
struct Deregister<'a> {
    cv: &'a AsyncRwCondvar,
    waiter: &'a Arc<Waiter>,
}

impl Drop for Deregister<'_> {
    fn drop(&mut self) {
        if self.cv.deregister(self.waiter) {
            self.cv.notify(1);
        }
    }
}

impl<G: AsyncCondvarGuard> Drop for AsyncRwCondvarWait<'_, G> {
    fn drop(&mut self) {
        match core::mem::replace(&mut self.phase, Phase::Done) {
            Phase::Waiting(_, waiter) => {
                // Deregisters, passing on a notification received.
                drop(Deregister { cv: self.cv, waiter: &waiter });
            }
            Phase::Reacquiring(handle, mut acquire) => {
                // Notified (and maybe granted again): release any grant,
                // then pass the notification on, even if the release
                // panics (a waker it runs).
                let _pass_on = PassOn(self.cv);
                G::cancel_acquire(&handle, &mut acquire);
            }
            Phase::Start(_) | Phase::Done => {}
        }
    }
}

/// A future that is `None` once it has completed, and stays ready then.
struct Fused<F>(Option<F>);

impl<F: Future> Future for Fused<F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: the inner future is never moved out of the pinned option:
        // it is polled in place and dropped in place (set to `None`).
        let slot = unsafe { &mut self.get_unchecked_mut().0 };
        let Some(fut) = slot.as_mut() else { return Poll::Ready(()) };
        // SAFETY: `fut` lives inside the pinned `Fused` and is not moved.
        match unsafe { Pin::new_unchecked(fut) }.poll(cx) {
            Poll::Ready(_) => {
                *slot = None;
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// The future of [`AsyncRwCondvar::wait_timeout`]; resolves to the guard
/// and whether the wait timed out.
#[must_use = "futures do nothing unless polled"]
pub struct AsyncRwCondvarWaitTimeout<'c, G: AsyncCondvarGuard, F> {
    wait: AsyncRwCondvarWait<'c, G>,
    /// `None` once it has fired (or is no longer needed).
    timer: Option<F>,
    timed_out: bool,
}

impl<G: AsyncCondvarGuard, F> fmt::Debug for AsyncRwCondvarWaitTimeout<'_, G, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncRwCondvarWaitTimeout")
            .field("wait", &self.wait)
            .field("timed_out", &self.timed_out)
            .finish()
    }
}

impl<G: AsyncCondvarGuard, F: Future> Future for AsyncRwCondvarWaitTimeout<'_, G, F> {
    type Output = (G, WaitTimeoutResult);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: only `timer` is structurally pinned: it is polled in place
        // and dropped in place (set to `None`), never moved. `wait` is
        // `Unpin`, and the flag is plain data.
        let this = unsafe { self.get_unchecked_mut() };
        loop {
            if let Poll::Ready(guard) = Pin::new(&mut this.wait).poll(cx) {
                return Poll::Ready((guard, WaitTimeoutResult(this.timed_out)));
            }
            // Still registered and not notified: the timer decides.
            let Phase::Waiting(..) = this.wait.phase else { return Poll::Pending };
            let Some(timer) = this.timer.as_mut() else { return Poll::Pending };
            // SAFETY: see above: the timer is not moved.
            if unsafe { Pin::new_unchecked(timer) }.poll(cx).is_pending() {
                return Poll::Pending;
            }
            this.timer = None;
            let Phase::Waiting(handle, waiter) = core::mem::replace(&mut this.wait.phase, Phase::Done) else {
                unreachable!()
            };
            // Leave the condvar; a notification that got here first is
            // taken (not timed out). Then re-acquire the lock as a plain
            // arrival, on the next turn of the loop.
            this.timed_out = !this.wait.cv.deregister(&waiter);
            this.wait.phase = Phase::Reacquiring(handle, Acquire::new(G::KIND));
        }
    }
}

/// Passes one notification on when dropped.
struct PassOn<'a>(&'a AsyncRwCondvar);

impl Drop for PassOn<'_> {
    fn drop(&mut self) {
        self.0.notify(1);
    }
}
