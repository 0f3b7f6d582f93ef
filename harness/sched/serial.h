// The serializing scheduler (DESIGN §9, issue 11): exactly one participating
// thread runs at a time; at every decision point the run's chooser picks the
// next one among the threads that can run.  A schedule is the sequence of
// picks, and the same binary, configuration and picks give the same
// execution: real threads, real faults, but one at a time.
//
// Decision points, all in the thread that holds the run token:
//   - every SCHED_POINT the thread passes (the fault paths inside the
//     SIGSEGV handler included);
//   - Yield(): a driver's point between two steps of a role;
//   - blocking: a lock slow path (BlockedScope, through sched_hooks.h) whose
//     lock bit is set, or WaitUntil() on a predicate that is false.  The
//     thread sleeps on the run token, never on the lock word: it is picked
//     again only when its wait condition holds (the lock bit clear), and
//     then finds the lock free, since nobody else ran in between;
//   - Detach(): the thread finished.
// A pick that cannot run (a schedule found under another scheme, replayed
// here) is infeasible: the run records why (infeasibility()) and abandons
// the schedule there, taking the default at that choice and every later one,
// so that no thread is left blocked by a forced order.
// A point where only one thread can run is forced and not recorded; the
// others are *choices*.  A choice that switches away from a thread that
// could continue is a preemption.  When no thread can run and some have not
// finished, the run is deadlocked: every unfinished thread is blocked, and
// stays so (its state is left to the driver, which must not tear down what
// the threads still use).
//
// The schedule string (FormatSchedule / ParseSchedule) is the picks of the
// choices, thread indices run-length encoded: "0*7,1*3,0*2" is thread 0 at
// the first 7 choices, thread 1 at the next 3, thread 0 at 2 more; past its
// end, every choice takes the default (DefaultPick: the current thread if it
// can continue, else the lowest-numbered one that can run).
//
// Thread-safety: a SerialRun is driven by one driver thread (Start, Wait)
// and its participants (Attach ... Detach, each on its own thread).  The
// participant-side calls are async-signal-safe in the harness's sense (no
// allocation, errno preserved): they run inside the SIGSEGV handler.
#ifndef PAGERACE_HARNESS_SCHED_SERIAL_H_
#define PAGERACE_HARNESS_SCHED_SERIAL_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "harness/base/lock_wait.h"
#include "harness/base/shared.h"

namespace pagerace::sched {

inline constexpr int kMaxSerialThreads = 16;

// Where a choice was made: a schedule point (sched.h's Point) or one of these.
enum SerialSite : uint16_t {
  kSiteStart = 0xff00,  // the first pick, by the driver
  kSiteStep,            // Yield() between two steps of a role
  kSiteBlock,           // the current thread blocked (lock or WaitUntil)
  kSiteExit,            // the current thread finished
};
// "do_wp_page:after_mkwrite", "step", "block", "exit", "start".
const char* SerialSiteName(uint16_t site);

// One recorded choice.
struct SerialChoice {
  uint32_t runnable = 0;  // bit i: thread i could run
  int8_t current = -1;    // the thread at the decision point (-1: the start)
  bool current_can_run = false;
  int8_t pick = -1;
  uint16_t site = kSiteStart;
  bool preemption() const { return current_can_run && pick != current; }
  friend bool operator==(const SerialChoice& a, const SerialChoice& b) {
    return a.runnable == b.runnable && a.current == b.current &&
           a.current_can_run == b.current_can_run && a.pick == b.pick && a.site == b.site;
  }
};

// The current thread if it can continue, else the lowest-numbered runnable.
int DefaultPick(uint32_t runnable, int current, bool current_can_run);

// Picks the thread to run at choice number `index` (0-based).  A pick that
// is not in `runnable` is recorded as infeasible and replaced by the default.
// Called with the run token held, possibly inside the SIGSEGV handler: must
// not allocate or take locks.
class SerialChooser {
 public:
  virtual ~SerialChooser() = default;
  virtual int Pick(size_t index, uint32_t runnable, int current, bool current_can_run) = 0;
};

// Told of every decision, forced ones included, with the run token held
// (inside the SIGSEGV handler possibly: no allocation, no locks): `me` is
// the thread whose step just ended (-1 at the start), `pick` the thread that
// runs next (-1: the run ended, finished or deadlocked).  The explorer's
// partial-order reduction cuts the run into steps with it.
class DecisionObserver {
 public:
  virtual void OnDecision(int me, uint32_t runnable, bool me_can_run, int pick, bool forced) = 0;

 protected:
  ~DecisionObserver() = default;
};

// Follows a list of picks, then the default.  The list is owned by the caller
// and must not change while a run uses it.
class PrefixChooser : public SerialChooser {
 public:
  explicit PrefixChooser(const std::vector<int>* picks) : picks_(picks) {}
  int Pick(size_t index, uint32_t runnable, int current, bool current_can_run) override {
    if (index < picks_->size()) return (*picks_)[index];
    return DefaultPick(runnable, current, current_can_run);
  }

 private:
  const std::vector<int>* const picks_;
};

std::string FormatSchedule(const std::vector<int>& picks);
// InvalidArgument (one line) on anything but "I[*N],I[*N],...".
absl::StatusOr<std::vector<int>> ParseSchedule(absl::string_view text);

// A blocked participant, for deadlock reports.
struct SerialWaiter {
  int index;
  uint32_t tid;  // thread registry id
  bool on_lock;  // blocked on a lock word (else on a WaitUntil predicate)
};

// Why the first infeasible pick could not run, captured at that choice with
// the token held (SerialRun::infeasibility()).
struct SerialInfeasibility {
  enum Why : uint8_t {
    kNone,           // every pick was feasible
    kNoSuchThread,   // the pick is not a participant's index
    kFinished,       // the picked thread has detached
    kBlockedOnWord,  // it sleeps on `word` while (*word & mask) != 0
    kWaiting,        // it waits on a WaitUntil predicate
  };
  Why why = kNone;
  int64_t at = -1;  // the choice (0-based)
  int thread = -1;  // the pick
  // kBlockedOnWord:
  const void* word = nullptr;
  uint32_t mask = 0;
  LockKind lock_kind = LockKind::kNone;  // what the thread published (lock_wait.h)
  uint64_t lock_what = 0;                // page index, or an OwnedMutex*
  const char* lock_name = nullptr;       // an OwnedMutex's name
  // The participant that last took the lock on `word` (-1: unknown, e.g.
  // taken before the run), and the number of choices made by then: it took
  // it while running after choice `since` (1-based; 0: before the first).
  int holder = -1;
  int64_t since = -1;
  bool holder_io = false;  // the holder handed the (page) lock to its I/O
};

class SerialRun {
 public:
  // `threads` participants (indices 0..threads-1) will Attach; at most
  // `max_choices` choices are recorded (past that the run is marked
  // overflowed and later choices take the default).
  SerialRun(int threads, SerialChooser* chooser, size_t max_choices,
            DecisionObserver* observer = nullptr);
  ~SerialRun();
  SerialRun(const SerialRun&) = delete;
  SerialRun& operator=(const SerialRun&) = delete;

  // --- participants (on their own, registered thread) ---
  // Binds the calling thread to `index` and waits for its first turn.
  void Attach(int index);
  // A decision point between two steps.
  void Yield();
  // Blocks until `pred(arg)` holds (evaluated by whichever thread decides,
  // with the token held: it must only read state).
  void WaitUntil(bool (*pred)(const void*), const void* arg);
  // The calling thread retries work whose outcome only another thread can
  // change (a fault retried with nothing changed): it waits until another
  // participant has reached a decision point.  A run where nobody else can
  // is deadlocked, as the kernel would spin forever.
  void Spin();
  // The calling thread is done; the token goes on.  It no longer takes part.
  void Detach();
  // Whether every participant other than `index` has detached (readable by
  // any thread that holds the token, a WaitUntil predicate's included).
  bool OthersExited(int index) const;

  // --- the driver ---
  // Waits until every participant is attached, then makes the first pick.
  void Start();
  // Waits until every participant has detached (true) or the run deadlocked
  // (false).
  bool Wait();

  // After Wait().
  const SerialChoice* choices() const { return choices_; }
  size_t num_choices() const { return num_choices_; }
  bool overflowed() const { return overflowed_; }
  // The first choice whose pick could not run (-1: none), and why.
  int64_t infeasible_at() const { return infeasible_at_; }
  const SerialInfeasibility& infeasibility() const { return infeasible_; }
  // With a deadlock: who is blocked.
  std::vector<SerialWaiter> Waiters() const;

  // --- the hooks (sched.cc) ---
  void AtPoint(uint16_t site);
  void Blocked(const std::atomic<uint32_t>* word, uint32_t mask);
  // The calling participant took a lock (sched_hooks.h, lock_taken).
  void LockTaken(const std::atomic<uint32_t>* word, uint32_t mask, bool to_io);

 private:
  enum State : int { kDetached, kReady, kBlockedWord, kBlockedPred, kExited };
  static constexpr uint32_t kNobody = 0xffff'fff0u;
  static constexpr uint32_t kFinished = 0xffff'fff1u;
  static constexpr uint32_t kDeadlock = 0xffff'fff2u;

  // Fields other than `state` are written by their thread while it holds the
  // token (or before Start), and read by the thread holding it: the token's
  // release/acquire orders them.
  struct Slot {
    std::atomic<int> state{kDetached};
    uint32_t tid = 0;
    const std::atomic<uint32_t>* word = nullptr;
    uint32_t mask = 0;
    bool (*pred)(const void*) = nullptr;
    const void* arg = nullptr;
    // Spin(): the run's decision count it waits to see passed.
    const uint64_t* decisions = nullptr;
    uint64_t spin_mark = 0;
  };
  static bool OthersMoved(const void* slot);

  // The last taking of a lock word by a participant: locks are exclusive,
  // so while the word's bits are set, its entry names the holder.
  struct Taken {
    const void* word = nullptr;
    uint32_t mask = 0;
    int8_t holder = -1;
    bool io = false;
    int64_t since = -1;
  };
  static constexpr int kMaxTaken = 64;

  bool Runnable(int i) const;
  // Records why `pick` cannot run at the current choice.
  void NoteInfeasible(int pick);
  // Picks the next thread and hands it the token (or ends the run); returns
  // the pick (-1: none).  REQUIRES: the caller holds the token.
  int Decide(int me, uint16_t site);
  void WaitTurn(int me);

  const int threads_;
  SerialChooser* const chooser_;
  DecisionObserver* const observer_;
  // The object a thread's exit writes and OthersExited reads (shared.h).
  const SharedId exits_id_ = NewSharedId();
  const size_t max_choices_;
  Slot slots_[kMaxSerialThreads];
  std::atomic<uint32_t> turn_{kNobody};  // futex word: the index that runs
  std::atomic<uint32_t> attached_{0};    // futex word
  // Written by the token holder only.
  // Uninitialized storage for max_choices_ choices, reused from run to run
  // (a fresh, zeroed one per run cost more than the run's faults).
  SerialChoice* choices_ = nullptr;
  size_t num_choices_ = 0;
  bool overflowed_ = false;
  // Every decision, forced ones included (Spin()).  Token holder only.
  uint64_t decisions_ = 0;
  int64_t infeasible_at_ = -1;
  SerialInfeasibility infeasible_;
  Taken taken_[kMaxTaken];  // a ring when more words than this were taken
  int taken_next_ = 0;
};

namespace internal {
// The calling thread's run (null: not a participant).
SerialRun* CurrentSerialRun();
// The calling thread's participant index (-1: not a participant).
int CurrentSerialIndex();
}  // namespace internal

}  // namespace pagerace::sched

#endif  // PAGERACE_HARNESS_SCHED_SERIAL_H_
