#include "harness/sched/serial.h"

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "harness/base/futex.h"
#include "harness/base/rwsem.h"
#include "harness/base/thread_registry.h"
#include "harness/sched/sched.h"

namespace pagerace::sched {
namespace {

// The participant's run and index: set by Attach, cleared by Detach.
thread_local SerialRun* tls_run = nullptr;
thread_local int tls_index = -1;

}  // namespace

namespace internal {
SerialRun* CurrentSerialRun() { return tls_run; }
int CurrentSerialIndex() { return tls_run ? tls_index : -1; }
}  // namespace internal

const char* SerialSiteName(uint16_t site) {
  switch (site) {
    case kSiteStart: return "start";
    case kSiteStep: return "step";
    case kSiteBlock: return "block";
    case kSiteExit: return "exit";
    default: return PointName(static_cast<Point>(site));
  }
}

int DefaultPick(uint32_t runnable, int current, bool current_can_run) {
  if (current_can_run && current >= 0) return current;
  return runnable ? __builtin_ctz(runnable) : -1;
}

std::string FormatSchedule(const std::vector<int>& picks) {
  std::string out;
  for (size_t i = 0; i < picks.size();) {
    size_t j = i;
    while (j < picks.size() && picks[j] == picks[i]) ++j;
    absl::StrAppend(&out, out.empty() ? "" : ",", picks[i]);
    if (j - i > 1) absl::StrAppend(&out, "*", j - i);
    i = j;
  }
  return out;
}

absl::StatusOr<std::vector<int>> ParseSchedule(absl::string_view text) {
  std::vector<int> picks;
  constexpr size_t kMaxPicks = 1 << 20;
  for (absl::string_view item : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    item = absl::StripAsciiWhitespace(item);
    std::vector<absl::string_view> parts = absl::StrSplit(item, '*');
    int thread = 0;
    uint32_t count = 1;
    if (parts.size() > 2 || !absl::SimpleAtoi(parts[0], &thread) || thread < 0 ||
        thread >= kMaxSerialThreads || (parts.size() == 2 && (!absl::SimpleAtoi(parts[1], &count) ||
                                                               count == 0))) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad schedule item '", item, "' (want THREAD or THREAD*COUNT, e.g. 0*7,1*3)"));
    }
    if (picks.size() + count > kMaxPicks) {
      return absl::InvalidArgumentError("schedule too long");
    }
    picks.insert(picks.end(), count, thread);
  }
  return picks;
}

namespace {

// Spare choice buffers, by size (one exploration uses one size).
std::mutex g_spare_mu;
std::vector<std::pair<size_t, void*>>* g_spare = new std::vector<std::pair<size_t, void*>>;

SerialChoice* TakeChoiceBuffer(size_t n) {
  {
    std::lock_guard<std::mutex> l(g_spare_mu);
    for (size_t i = 0; i < g_spare->size(); ++i) {
      if ((*g_spare)[i].first == n) {
        void* p = (*g_spare)[i].second;
        g_spare->erase(g_spare->begin() + static_cast<long>(i));
        return static_cast<SerialChoice*>(p);
      }
    }
  }
  static_assert(std::is_trivially_destructible_v<SerialChoice>);
  return static_cast<SerialChoice*>(::operator new(n * sizeof(SerialChoice)));
}

void GiveChoiceBuffer(size_t n, SerialChoice* p) {
  std::lock_guard<std::mutex> l(g_spare_mu);
  if (g_spare->size() < 4) {
    g_spare->push_back({n, p});
  } else {
    ::operator delete(p);
  }
}

}  // namespace

SerialRun::~SerialRun() { GiveChoiceBuffer(max_choices_, choices_); }

SerialRun::SerialRun(int threads, SerialChooser* chooser, size_t max_choices,
                     DecisionObserver* observer)
    : threads_(threads),
      chooser_(chooser),
      observer_(observer),
      max_choices_(max_choices),
      choices_(TakeChoiceBuffer(max_choices)) {
  if (threads < 1 || threads > kMaxSerialThreads) {
    fprintf(stderr, "pagerace: harness bug: serial run of %d threads (1..%d)\n", threads,
            kMaxSerialThreads);
    abort();
  }
}

bool SerialRun::Runnable(int i) const {
  const Slot& s = slots_[i];
  switch (s.state.load(std::memory_order_acquire)) {
    case kReady:
      return true;
    case kBlockedWord:
      return (s.word->load(std::memory_order_acquire) & s.mask) == 0;
    case kBlockedPred:
      return s.pred(s.arg);
    default:
      return false;
  }
}

int SerialRun::Decide(int me, uint16_t site) {
  ++decisions_;
  uint32_t runnable = 0;
  int unfinished = 0;
  for (int i = 0; i < threads_; ++i) {
    const int st = slots_[i].state.load(std::memory_order_acquire);
    if (st == kExited) continue;
    ++unfinished;
    if (Runnable(i)) runnable |= 1u << i;
  }
  if (unfinished == 0 || runnable == 0) {
    if (observer_) observer_->OnDecision(me, runnable, false, -1, true);
    turn_.store(unfinished == 0 ? kFinished : kDeadlock, std::memory_order_release);
    futex_wake_all(&turn_);
    return -1;
  }
  const bool me_can_run = me >= 0 && (runnable & (1u << me));
  int pick;
  const bool forced = (runnable & (runnable - 1)) == 0;
  if (forced) {
    pick = __builtin_ctz(runnable);  // forced: not a choice
  } else {
    if (infeasible_at_ >= 0) {
      pick = DefaultPick(runnable, me, me_can_run);  // the schedule was abandoned
    } else {
      pick = chooser_->Pick(num_choices_, runnable, me, me_can_run);
      if (pick < 0 || pick >= threads_ || !(runnable & (1u << pick))) {
        NoteInfeasible(pick);
        pick = DefaultPick(runnable, me, me_can_run);
      }
    }
    if (num_choices_ < max_choices_) {
      SerialChoice& c = *new (&choices_[num_choices_++]) SerialChoice;
      c.runnable = runnable;
      c.current = static_cast<int8_t>(me);
      c.current_can_run = me_can_run;
      c.pick = static_cast<int8_t>(pick);
      c.site = site;
    } else {
      overflowed_ = true;
    }
  }
  if (observer_) observer_->OnDecision(me, runnable, me_can_run, pick, forced);
  if (pick != me) {
    turn_.store(static_cast<uint32_t>(pick), std::memory_order_release);
    futex_wake_all(&turn_);
  }
  return pick;
}

void SerialRun::NoteInfeasible(int pick) {
  infeasible_at_ = static_cast<int64_t>(num_choices_);
  SerialInfeasibility& f = infeasible_;
  f.at = infeasible_at_;
  f.thread = pick;
  if (pick < 0 || pick >= threads_) {
    f.why = SerialInfeasibility::kNoSuchThread;
    return;
  }
  const Slot& s = slots_[pick];
  switch (s.state.load(std::memory_order_acquire)) {
    case kExited:
      f.why = SerialInfeasibility::kFinished;
      return;
    case kBlockedPred:
      f.why = SerialInfeasibility::kWaiting;
      return;
    case kBlockedWord:
      break;
    default:  // not runnable yet neither blocked nor gone: cannot happen
      fprintf(stderr, "pagerace: harness bug: serial thread %d not runnable in state %d\n", pick,
              s.state.load(std::memory_order_relaxed));
      abort();
  }
  f.why = SerialInfeasibility::kBlockedOnWord;
  f.word = s.word;
  f.mask = s.mask;
  LockWait w;
  if (LockWaitOf(s.tid, &w)) {
    f.lock_kind = w.kind;
    f.lock_what = w.what;
  }
  for (const Taken& t : taken_) {
    if (t.word == s.word && (t.mask & s.mask) != 0) {
      f.holder = t.holder;
      f.since = t.since;
      f.holder_io = t.io;
      break;
    }
  }
  if (f.lock_kind == LockKind::kRwSem) {
    f.lock_name = reinterpret_cast<const FutexRwSem*>(f.lock_what)->name();
  }
  if (f.lock_kind == LockKind::kFsLock) {
    const auto* m = reinterpret_cast<const OwnedMutex*>(f.lock_what);
    f.lock_name = m->name();
    if (f.holder < 0) {
      const uint32_t owner = m->owner();
      for (int i = 0; i < threads_ && owner; ++i) {
        if (slots_[i].tid == owner) f.holder = i;
      }
    }
  }
}

void SerialRun::LockTaken(const std::atomic<uint32_t>* word, uint32_t mask, bool to_io) {
  Taken* entry = nullptr;
  for (Taken& t : taken_) {
    if (t.word == word) entry = &t;
  }
  if (!entry) {
    entry = &taken_[taken_next_];
    taken_next_ = (taken_next_ + 1) % kMaxTaken;
    *entry = Taken{};  // a handing-off of a lock taken before the run: no holder known
  }
  entry->word = word;
  entry->mask = mask;
  if (to_io) {
    entry->io = true;  // held on by the I/O since its taking
    return;
  }
  entry->holder = static_cast<int8_t>(tls_index);
  entry->io = false;
  entry->since = static_cast<int64_t>(num_choices_);
}

void SerialRun::WaitTurn(int me) {
  for (;;) {
    const uint32_t t = turn_.load(std::memory_order_acquire);
    if (t == static_cast<uint32_t>(me)) return;
    futex_wait(&turn_, t);  // errno preserved
  }
}

void SerialRun::Attach(int index) {
  tls_run = this;
  tls_index = index;
  slots_[index].tid = current_thread().tid;
  slots_[index].state.store(kReady, std::memory_order_release);
  attached_.fetch_add(1, std::memory_order_acq_rel);
  futex_wake_all(&attached_);
  WaitTurn(index);
}

void SerialRun::Start() {
  for (;;) {
    const uint32_t n = attached_.load(std::memory_order_acquire);
    if (n >= static_cast<uint32_t>(threads_)) break;
    futex_wait(&attached_, n);
  }
  Decide(-1, kSiteStart);
}

bool SerialRun::Wait() {
  for (;;) {
    const uint32_t t = turn_.load(std::memory_order_acquire);
    if (t == kFinished) return true;
    if (t == kDeadlock) return false;
    futex_wait(&turn_, t);
  }
}

void SerialRun::AtPoint(uint16_t site) {
  const int me = tls_index;
  if (Decide(me, site) != me) WaitTurn(me);
}

void SerialRun::Yield() { AtPoint(kSiteStep); }

void SerialRun::Blocked(const std::atomic<uint32_t>* word, uint32_t mask) {
  const int me = tls_index;
  Slot& s = slots_[me];
  if (!word || (word->load(std::memory_order_acquire) & mask) == 0) return;
  s.word = word;
  s.mask = mask;
  s.state.store(kBlockedWord, std::memory_order_release);
  // Picked again only once the bit is clear; a deadlock never returns.
  if (Decide(me, kSiteBlock) != me) WaitTurn(me);
  s.state.store(kReady, std::memory_order_release);
}

void SerialRun::WaitUntil(bool (*pred)(const void*), const void* arg) {
  if (pred(arg)) return;
  const int me = tls_index;
  Slot& s = slots_[me];
  s.pred = pred;
  s.arg = arg;
  s.state.store(kBlockedPred, std::memory_order_release);
  if (Decide(me, kSiteBlock) != me) WaitTurn(me);
  s.state.store(kReady, std::memory_order_release);
}

bool SerialRun::OthersMoved(const void* slot) {
  const auto* s = static_cast<const Slot*>(slot);
  return *s->decisions > s->spin_mark;
}

void SerialRun::Spin() {
  // The retry waits for any other thread to move: no object names what it
  // waits for, so the step depends on every step (shared.h).
  NoteAccess(kEverything, /*write=*/true);
  Slot& s = slots_[tls_index];
  s.decisions = &decisions_;
  s.spin_mark = decisions_ + 1;  // the decision this wait makes itself
  WaitUntil(&OthersMoved, &s);
}

void SerialRun::Detach() {
  const int me = tls_index;
  NoteAccess(exits_id_, /*write=*/true);
  slots_[me].state.store(kExited, std::memory_order_release);
  tls_run = nullptr;
  tls_index = -1;
  Decide(me, kSiteExit);
}

bool SerialRun::OthersExited(int index) const {
  NoteAccess(exits_id_, /*write=*/false);
  for (int i = 0; i < threads_; ++i) {
    if (i != index && slots_[i].state.load(std::memory_order_acquire) != kExited) {
      return false;
    }
  }
  return true;
}

std::vector<SerialWaiter> SerialRun::Waiters() const {
  std::vector<SerialWaiter> out;
  for (int i = 0; i < threads_; ++i) {
    const int st = slots_[i].state.load(std::memory_order_acquire);
    if (st == kBlockedWord || st == kBlockedPred) {
      out.push_back({i, slots_[i].tid, st == kBlockedWord});
    }
  }
  return out;
}

}  // namespace pagerace::sched
