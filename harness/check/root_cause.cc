#include "harness/check/root_cause.h"

#include "absl/strings/str_cat.h"
#include "harness/base/thread_registry.h"

namespace pagerace {
namespace {

constexpr const char* kWindowNames[] = {
#define PAGERACE_X(id, name, text) name,
    PAGERACE_WINDOWS(PAGERACE_X)
#undef PAGERACE_X
};
constexpr const char* kWindowTexts[] = {
#define PAGERACE_X(id, name, text) text,
    PAGERACE_WINDOWS(PAGERACE_X)
#undef PAGERACE_X
};

uint32_t OpenWord(uint32_t tid, FaultPath path, FaultWindow window) {
  return tid << 16 | static_cast<uint32_t>(path) << 8 | static_cast<uint32_t>(window);
}

}  // namespace

const char* FaultPathName(FaultPath p) {
  switch (p) {
    case FaultPath::kDoWpPage: return "do_wp_page";
    case FaultPath::kDoFault: return "__do_fault";
    case FaultPath::kTruncate: return "vmtruncate";
    case FaultPath::kWriteback: return "writeback";
    case FaultPath::kPageMkwrite: return "->page_mkwrite";
    case FaultPath::kGup: return "get_user_pages";
    case FaultPath::kZap: return "zap_pte_range";
    case FaultPath::kSetPageDirtyBuffers: return "__set_page_dirty_buffers";
    case FaultPath::kTryToFreeBuffers: return "try_to_free_buffers";
    case FaultPath::kInvalidate: return "invalidate_complete_page";
    case FaultPath::kWritepageFixup: return "btrfs_writepage_cow_fixup";
    case FaultPath::kMovePtes: return "move_ptes";
    case FaultPath::kPunch: return "ext4_punch_hole";
    case FaultPath::kReleasePage: return "nfs_release_page";
    case FaultPath::kNone: break;
  }
  return "";
}

const char* FaultWindowName(FaultWindow w) {
  auto i = static_cast<size_t>(w);
  return i < static_cast<size_t>(kNumFaultWindows) ? kWindowNames[i] : "?";
}

const char* FaultWindowText(FaultWindow w) {
  auto i = static_cast<size_t>(w);
  return i < static_cast<size_t>(kNumFaultWindows) ? kWindowTexts[i] : "?";
}

RootCause RootCause::Unpack(uint32_t v) {
  RootCause c;
  c.window = static_cast<FaultWindow>(v & 0xff);
  c.path = static_cast<FaultPath>((v >> 8) & 0xff);
  c.intruder = static_cast<uint8_t>((v >> 16) & 0xff);
  c.symptom = static_cast<uint8_t>(v >> 24);
  return c;
}

std::string RootCause::Id() const {
  if (window == FaultWindow::kNone) {
    return absl::StrCat("no_window/", symptom < kNumRaceKinds
                                          ? InvariantName(RaceKindInvariant(static_cast<RaceKind>(symptom)))
                                          : "?");
  }
  return absl::StrCat(FaultPathName(path), "/", FaultWindowName(window), "/",
                      intruder == kNoIntruder ? "transition"
                                              : RoleKindName(static_cast<RoleKind>(intruder)));
}

int CauseStartIndex(const std::vector<Event>& events, uint32_t cause) {
  const RootCause rc = RootCause::Unpack(cause);
  if (rc.window == FaultWindow::kNone) return -1;
  const int n = static_cast<int>(events.size());
  if (rc.intruder == RootCause::kNoIntruder) {
    for (int i = n - 1; i >= 0; --i) {
      if (events[i] == Event::kWindowTransition) return i;
    }
    return -1;
  }
  int end = n;
  for (int i = n - 1; i >= 0; --i) {
    if (events[i] == Event::kWindowEntered) {
      end = i;
      break;
    }
  }
  for (int i = end - 1; i >= 0; --i) {
    if (events[i] == Event::kWindowOpen) return i;
  }
  return -1;
}

std::string RootCause::Title() const {
  if (window == FaultWindow::kNone) {
    return absl::StrCat(symptom < kNumRaceKinds
                            ? absl::StrCat(InvariantName(RaceKindInvariant(static_cast<RaceKind>(symptom))),
                                           " ", RaceKindName(static_cast<RaceKind>(symptom)))
                            : std::string("?"),
                        " with no fault window open");
  }
  if (intruder == kNoIntruder) {
    return absl::StrCat(FaultPathName(path), " ", FaultWindowText(window));
  }
  return absl::StrCat(FaultPathName(path), ": ", RoleKindName(static_cast<RoleKind>(intruder)), " ",
                      FaultWindowText(window));
}

bool IntrudingEvent(Event e) {
  switch (e) {
    case Event::kClearPageDirtyForIo:
    case Event::kPageMkclean:
    case Event::kWritepage:
    case Event::kMetadataRetire:
    case Event::kPageout:
    case Event::kReleaseBuffers:
    case Event::kTruncate:
    case Event::kInvalidatepage:
    case Event::kEvict:
    case Event::kInvalidatePage:
    case Event::kSnapcFlush:
    case Event::kJournalCommitData:
      return true;
    default:
      return false;
  }
}

CauseTracker::CauseTracker(uint64_t pages) : pages_(pages), page_(new PageSlot[pages]) {}

void CauseTracker::Open(uint64_t index, FaultPath path, FaultWindow window) {
  if (index >= pages_) return;
  const uint32_t word = OpenWord(current_thread().tid, path, window);
  bool placed = false;
  for (Shared<uint32_t>& slot : page_[index].open) {
    uint32_t free = 0;
    if (slot.compare_exchange_strong(free, word, std::memory_order_acq_rel)) {
      placed = true;
      break;
    }
  }
  // More faults in windows on this page than slots: the newest replaces one.
  if (!placed) page_[index].open[0].store(word, std::memory_order_release);
  opened_[static_cast<int>(path)][static_cast<int>(window)].fetch_add(1, std::memory_order_relaxed);
}

int CauseTracker::Close(uint64_t index) {
  if (index >= pages_) return -1;
  // Only the holder closes its own window (another fault may hold one too).
  int closed = -1;
  for (Shared<uint32_t>& open : page_[index].open) {
    uint32_t w = open.load(std::memory_order_acquire);
    if (w && (w >> 16) == current_thread().tid &&
        open.compare_exchange_strong(w, 0, std::memory_order_acq_rel)) {
      closed = static_cast<int>(w & (kEnteredBit - 1));
    }
  }
  return closed;
}

void CauseTracker::Record(uint64_t index, RootCause c) {
  page_[index].incident.store(c.Pack(), std::memory_order_release);
}

void CauseTracker::Transition(uint64_t index, FaultPath path, FaultWindow window) {
  if (index >= pages_) return;
  RootCause c;
  c.window = window;
  c.path = path;
  if (window == FaultWindow::kSigbusForTruncatedPage) {
    page_[index].refusal.store(c.Pack(), std::memory_order_release);
    return;
  }
  Record(index, c);
  page_[index].transition.store(c.Pack(), std::memory_order_release);
}

void CauseTracker::Blame(uint64_t index, FaultWindow window) {
  if (index >= pages_) return;
  const uint32_t t = page_[index].transition.load(std::memory_order_acquire);
  if (t && RootCause::Unpack(t).window == window) {
    page_[index].incident.store(t, std::memory_order_release);
  }
}

int CauseTracker::OnEvent(uint64_t index, Event e) {
  if (index >= pages_ || !IntrudingEvent(e)) return -1;
  const ThreadInfo& me = current_thread();
  for (Shared<uint32_t>& open : page_[index].open) {
    const uint32_t w = open.load(std::memory_order_acquire);
    if (!w || (w & kEnteredBit) || (w >> 16) == me.tid) continue;
    // The first intrusion of this opening: the window is marked entered so
    // the intruder's later events (writepage after clear_page_dirty_for_io,
    // the completion) do not count again; the holder still closes it.
    uint32_t expected = w;
    if (!open.compare_exchange_strong(expected, w | kEnteredBit, std::memory_order_acq_rel)) continue;
    Intrusion(index, w, me, e);
    return static_cast<int>(w & (kEnteredBit - 1));
  }
  return -1;
}

void CauseTracker::Intrusion(uint64_t index, uint32_t w, const ThreadInfo& me, Event e) {
  const auto path = static_cast<FaultPath>((w >> 8) & 0xff);
  const auto window = static_cast<FaultWindow>(w & 0xff);
  // The intruder is the kernel path, named by the role that runs it, except
  // that a write path cleaning the page (ceph's ->page_mkwrite and
  // ->write_begin write an older snap context's page out: writepage from
  // inside the write path) is writeback, whoever's thread it runs on.
  RoleKind who = me.kind;
  if ((who == RoleKind::kMmap || who == RoleKind::kPwrite) &&
      (e == Event::kClearPageDirtyForIo || e == Event::kPageMkclean || e == Event::kWritepage ||
       e == Event::kSnapcFlush)) {
    who = RoleKind::kWriteback;
  }
  entered_[static_cast<int>(path)][static_cast<int>(window)][static_cast<int>(who)].fetch_add(
      1, std::memory_order_relaxed);
  RootCause c;
  c.window = window;
  c.path = path;
  c.intruder = static_cast<uint8_t>(who);
  Record(index, c);
}

uint32_t CauseTracker::CauseFor(uint64_t index, RaceKind kind, bool data_losing) {
  RootCause c;
  c.symptom = static_cast<uint8_t>(kind);
  if (index < pages_) {
    // A refused store (I9) is its refusal's; every other symptom the
    // incident's.
    const uint32_t refusal = page_[index].refusal.load(std::memory_order_acquire);
    uint32_t v = kind == RaceKind::kSigbusInsideIsize && refusal
                     ? refusal
                     : page_[index].incident.load(std::memory_order_acquire);
    while (v) {
      // A window's cause is the window, its path and its intruder, whatever
      // symptom shows first (that varies with timing); the symptoms are
      // counted under it.
      c = RootCause::Unpack(v);
      c.symptom = RootCause::kAnySymptom;
      break;
    }
  }
  const uint32_t packed = c.Pack();
  const uint64_t key = static_cast<uint64_t>(packed) + 1;
  for (Slot& s : causes_) {
    uint32_t cur = s.cause.load(std::memory_order_acquire);
    if (cur == 0) {
      uint32_t want = 0;
      if (!s.cause.compare_exchange_strong(want, static_cast<uint32_t>(key), std::memory_order_acq_rel) &&
          want != key) {
        continue;  // another cause took the slot
      }
      cur = static_cast<uint32_t>(key);
    }
    if (cur != key) continue;
    s.count.fetch_add(1, std::memory_order_relaxed);
    s.by_kind[static_cast<int>(kind)].fetch_add(1, std::memory_order_relaxed);
    if (data_losing) s.data_losing.store(true, std::memory_order_relaxed);
    return packed;
  }
  uncounted_.fetch_add(1, std::memory_order_relaxed);
  return packed;
}

std::vector<CauseTracker::CauseCount> CauseTracker::Causes() const {
  std::vector<CauseCount> out;
  for (const Slot& s : causes_) {
    const uint32_t key = s.cause.load(std::memory_order_acquire);
    if (!key) break;
    CauseCount c;
    c.cause = key - 1;
    c.count = s.count.load(std::memory_order_relaxed);
    c.data_losing = s.data_losing.load(std::memory_order_relaxed);
    for (int i = 0; i < kNumRaceKinds; ++i) c.by_kind[i] = s.by_kind[i].load(std::memory_order_relaxed);
    out.push_back(c);
  }
  return out;
}

std::vector<CauseTracker::WindowCount> CauseTracker::Windows() const {
  std::vector<WindowCount> out;
  for (int p = 0; p < kPaths; ++p) {
    for (int w = 1; w < kNumFaultWindows; ++w) {
      WindowCount c;
      c.path = static_cast<FaultPath>(p);
      c.window = static_cast<FaultWindow>(w);
      c.opened = opened_[p][w].load(std::memory_order_relaxed);
      bool any = c.opened > 0;
      for (int r = 0; r < kNumRoleKinds; ++r) {
        c.entered[r] = entered_[p][w][r].load(std::memory_order_relaxed);
        any |= c.entered[r] > 0;
      }
      if (any) out.push_back(c);
    }
  }
  return out;
}

}  // namespace pagerace
