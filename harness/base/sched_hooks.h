// The seam between the primitives in harness/base and the schedule
// controller above them (harness/sched).
//
// Lock slow paths and the thread registry live here, below the scheduler, yet
// the scheduler must learn when a thread starts, exits or is about to sleep
// on a lock (the `ordered` policy's drop detection, PCT's "a thread asleep on
// a lock holds nobody back").  base calls through this table; harness/sched
// installs it.  Nothing in base includes harness/sched.
//
// Thread-safety: InstallSchedHooks is called once, during static
// initialisation of harness/sched; the hooks it installs are safe for
// concurrent use, from the SIGSEGV handler too (no allocation).
#ifndef PAGERACE_HARNESS_BASE_SCHED_HOOKS_H_
#define PAGERACE_HARNESS_BASE_SCHED_HOOKS_H_

#include <atomic>
#include <cstdint>

namespace pagerace {

struct SchedHooks {
  void (*thread_start)(uint32_t tid);
  void (*thread_exit)();
  // The calling thread sleeps on `word` while (*word & mask) != 0; a null
  // word means "blocked regardless" (a thread joining others).  `owner`,
  // when known, holds the tid of the thread holding that lock (a page's
  // lock_owner): the ordered policy follows it to find the waiting it
  // imposes behind a lock (an infeasible dependency).
  void (*blocked)(const std::atomic<uint32_t>* word, uint32_t mask,
                  const std::atomic<uint32_t>* owner);
  void (*unblocked)();
  // The calling thread took the lock whose bits `mask` live in `word` (a
  // page's flags and PG_locked, an OwnedMutex's word); `to_io`: it handed a
  // page lock it holds to its I/O instead.  Who holds which lock since when,
  // for the serial scheduler's infeasible-pick reports.
  void (*lock_taken)(const std::atomic<uint32_t>* word, uint32_t mask, bool to_io);
};

// `hooks` must outlive every thread that registers.
void InstallSchedHooks(const SchedHooks* hooks);
// Whether lock slow paths report blocking (set by the scheduler while a
// policy that needs it is active).
void SetTrackBlocked(bool on);

namespace internal {
extern std::atomic<const SchedHooks*> g_sched_hooks;
extern std::atomic<bool> g_track_blocked;
}  // namespace internal

inline void NotifyThreadStart(uint32_t tid) {
  if (const SchedHooks* h = internal::g_sched_hooks.load(std::memory_order_acquire)) {
    h->thread_start(tid);
  }
}
inline void NotifyThreadExit() {
  if (const SchedHooks* h = internal::g_sched_hooks.load(std::memory_order_acquire)) {
    h->thread_exit();
  }
}

// Called by the lock implementations once the calling thread holds the
// lock (SchedHooks::lock_taken).  One relaxed load unless a policy tracks
// blocking; allocation-free (it runs inside the SIGSEGV handler).
inline void NoteLockTaken(const std::atomic<uint32_t>* word, uint32_t mask, bool to_io = false) {
  if (!internal::g_track_blocked.load(std::memory_order_relaxed)) return;
  if (const SchedHooks* h = internal::g_sched_hooks.load(std::memory_order_acquire)) {
    h->lock_taken(word, mask, to_io);
  }
}

// Marks the calling thread as blocked for the scope: on `word` while
// (*word & mask) != 0 (a lock slow path), or unconditionally when word is
// null; `owner`, if the lock records one, names its holder (the tid word).
// One relaxed load unless a policy tracks blocking.
class BlockedScope {
 public:
  explicit BlockedScope(const std::atomic<uint32_t>* word = nullptr, uint32_t mask = ~0u,
                        const std::atomic<uint32_t>* owner = nullptr)
      : hooks_(internal::g_track_blocked.load(std::memory_order_relaxed)
                   ? internal::g_sched_hooks.load(std::memory_order_acquire)
                   : nullptr) {
    if (hooks_) hooks_->blocked(word, mask, owner);
  }
  ~BlockedScope() {
    if (hooks_) hooks_->unblocked();
  }
  BlockedScope(const BlockedScope&) = delete;
  BlockedScope& operator=(const BlockedScope&) = delete;

 private:
  const SchedHooks* const hooks_;
};

}  // namespace pagerace

#endif  // PAGERACE_HARNESS_BASE_SCHED_HOOKS_H_
