// Root causes (issue 12): one bug, one identity.  A race report's symptoms
// (I2, then I3, I0 and the ledger's lost write on the same page) vary with
// whatever else the threads did; what made them does not: a fault path left
// a window open on the page (the schemes declare it: FaultWindow below), and
// another kernel path acted on the page while it was open (the intruder:
// writeback's clear_page_dirty_for_io, reclaim's try_to_unmap, truncate, a
// the I/O completion retiring metadata).  The invariants it breaks are its
// symptoms, counted under it.  A few causes need no intruder: a transition the model
// marks as it happens (a mutant's forbidden step, v2.6.29/30's growth past a
// writable EOF page).
//
// How a report gets its cause (CauseTracker):
//   - a fault path calls Open(page, path, window) where its window opens and
//     Close(page) where it closes;
//   - every trace event of the intruding kinds (IntrudingEvent) on a page
//     whose window another thread holds open records an incident on the page
//     (the first intrusion of that opening; a later opening's intrusion
//     replaces it);
//   - Transition(page, window) records an incident with no intruder (a
//     refusal, a SIGBUS for a truncated page, is kept apart: it causes its
//     own I9 report and no other, so a store lost on the page before it
//     keeps its own cause);
//   - a path that loses data by a transition's mechanism says so
//     (Blame(page, window)): the page's last such transition becomes its
//     incident again, even if a window was entered since (a report belongs
//     to the cause whose mechanism lost the data, not to the last window
//     that happened to be open on the page);
//   - Oracle::Report asks CauseFor(page, kind): the page's incident, so
//     every symptom on the page (I2, then I3, I0, the ledger's lost write)
//     links to it; a page without an incident gets the cause "no window"
//     with the report's own invariant.  The symptoms are counted per cause.
// The id and title are the same across seeds, thread counts and adapters
// (they name no page, thread or filesystem).
//
// Thread-safety: safe for concurrent access; allocation-free and lock-free
// except Titles/stats readers, which may allocate (not in the handler).
#ifndef PAGERACE_HARNESS_CHECK_ROOT_CAUSE_H_
#define PAGERACE_HARNESS_CHECK_ROOT_CAUSE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "harness/base/thread_registry.h"
#include "harness/base/thread_roles.h"
#include "harness/check/race_kind.h"
#include "harness/check/trace.h"
#include "harness/base/shared.h"

namespace pagerace {

// The fault path that holds a window.
enum class FaultPath : uint8_t {
  kNone, kDoWpPage, kDoFault, kTruncate, kWriteback, kPageMkwrite, kGup, kZap,
  kSetPageDirtyBuffers, kTryToFreeBuffers, kInvalidate, kWritepageFixup, kMovePtes, kPunch,
  kReleasePage
};
const char* FaultPathName(FaultPath p);  // "do_wp_page", "__do_fault", "" for none

// Windows and transitions the schemes (and mutants) declare.
#define PAGERACE_WINDOWS(X)                                                                   \
  X(kNone, "none", "")                                                                        \
  X(kMkwriteToSetPageDirty, "mkwrite_to_set_page_dirty",                                      \
    "between ->page_mkwrite and set_page_dirty")                                              \
  X(kUnlockedMkwriteToRelock, "unlocked_mkwrite_to_relock",                                   \
    "between ->page_mkwrite returning unlocked and lock_page")                                \
  X(kUnlockToSetPageDirty, "unlock_to_set_page_dirty", "between unlock_page and set_page_dirty") \
  X(kPteWritableBeforeMkwrite, "pte_writable_before_mkwrite",                                 \
    "made the pte writable before ->page_mkwrite")                                            \
  X(kWritableWithoutSetPageDirty, "writable_without_set_page_dirty",                          \
    "made the pte writable without set_page_dirty")                                           \
  X(kDirtyClearedBeforeMkclean, "dirty_cleared_before_mkclean",                               \
    "cleared PG_dirty before page_mkclean")                                                   \
  X(kRelockWithoutMappingCheck, "relock_without_mapping_check",                               \
    "between ->page_mkwrite and a relock that skips the page->mapping check")                 \
  X(kGrowthPastWritableEofPage, "growth_past_writable_eof_page",                              \
    "grew the file past a cached EOF page whose pte stayed writable, so a store past the "    \
    "old EOF is not covered by the fs's per-page state (pagecache_isize_extended, v3.18 "     \
    "90a8020278c1, closed it for block filesystems; NFS never)")                              \
  X(kDirtiedInsideMkcleanToClear, "dirtied_inside_mkclean_to_clear",                         \
    "set_page_dirty without waiting for the page lock writeback holds between page_mkclean " \
    "and TestClearPageDirty (wait_on_page_locked, v2.6.23 79352894b285, closed it)")         \
  X(kPageReleasedBeforePtlRelock, "page_released_before_ptl_relock",                         \
    "dropped its page reference before retaking the ptl, so the page was truncated, freed and " \
    "its frame mapped again at the same place: pte_same held and the pte was made writable "  \
    "for a page whose ->page_mkwrite never ran (c3704ceb4ad0, v2.6.21, closed it)")           \
  X(kIntegritySyncOutOfBudget, "integrity_sync_out_of_budget",                               \
    "stopped a data-integrity write_cache_pages at nr_to_write with pages dirty when it "     \
    "looked still unwritten (05fe478dd04e, v2.6.29, closed it)")                              \
  X(kStoreWithoutStableWait, "store_without_stable_wait",                                     \
    "made the pte writable under writeback without the stable-page wait")                     \
  X(kGupPinToSetPageDirtyLock, "gup_pin_to_set_page_dirty_lock",                              \
    "between get_user_pages and set_page_dirty_lock")                                         \
  X(kPtlDroppedBeforeTlbFlush, "ptl_dropped_before_tlb_flush",                                \
    "between dropping the ptl over a cleared dirty pte and flushing its TLB entry, while a "  \
    "CPU can still store through the entry: page_mkclean finds no pte, a truncate detaches "  \
    "the page, a journal commit has written the buffers (1cf35d47712d, v3.15, closed it)")   \
  X(kSigbusForTruncatedPage, "sigbus_for_truncated_page",                                    \
    "failed the fault (SIGBUS) for a page truncated or invalidated under it while the file "  \
    "still covers the page, where a retry (VM_FAULT_NOPAGE) maps it (56a76f8275c3, v2.6.30, " \
    "closed it for buffer.c and btrfs)")                                                      \
  X(kMovedPteBeforeTlbFlush, "moved_pte_before_tlb_flush",                                  \
    "between move_ptes dropping the ptls over a moved dirty pte and flushing the old "        \
    "address's TLB entry, while a CPU can still store through it: page_mkclean cleans the "   \
    "page through the new pte (5d1904204c99, v4.9, closed it)")                               \
  X(kRmapRemovedBeforeTlbFlush, "rmap_removed_before_tlb_flush",                              \
    "between page_remove_rmap of a cleared dirty pte's page and the TLB flush: page_mkclean "  \
    "skips the page as unmapped while a CPU can still store through the entry "               \
    "(5df397dec7c4, after 5.15, closed it)")                                                  \
  X(kWriteBeginLockedAnotherPage, "write_begin_locked_another_page",                         \
    "locked not the faulting page but whatever page the index held (ceph_write_begin's "     \
    "grab_cache_page_write_begin, the faulting page truncated since the fault looked it up) " \
    "and returned VM_FAULT_LOCKED for a page it never locked (4af6b2257ee0, v2.6.34-rc2, "    \
    "closed it)")                                                                             \
  X(kUnmappedDirtyBufferBug, "unmapped_dirty_buffer_bug",                                     \
    "met a dirty buffer without a block inside i_size and BUGged (ext4_normal_writepage): "   \
    "set_page_dirty dirties every buffer, holes past EOF included, and the file grew over "   \
    "them (blocksize < page size; c364b22c9580, v2.6.31, closed it: the hole waits for the "  \
    "next store's ->page_mkwrite)")                                                           \
  X(kDirtiedAfterPrivateLock, "dirtied_after_private_lock",                                   \
    "set PG_dirty after dropping private_lock, so create_empty_buffers attached clean "      \
    "buffers to a page about to be dirty and a store's buffer was never written "            \
    "(a8e7d49aa7be, v2.6.29, closed it)")                                                    \
  X(kIsizeSampledBeforeWrprotect, "isize_sampled_before_wrprotect",                           \
    "zeroed the page's tail past the i_size it read before clear_page_dirty_for_io "          \
    "write-protected the page, though the file had grown over the tail since and a store "    \
    "could land there through the still-writable pte (ext4's mpage_submit_page; "             \
    "a056bdaae7a1, v4.12, closed it)")                                                        \
  X(kCancelDirtyOutsidePrivateLock, "cancel_dirty_outside_private_lock",                      \
    "cancelled PG_dirty after dropping private_lock, undoing a set_page_dirty that found the " \
    "buffers gone in between (a zap handing over a dirty pte): the page clean, its store in "  \
    "no buffer and no pte (87df7241bd54, v2.6.20, closed it)")                               \
  X(kRemovedReferencedPage, "removed_referenced_page",                                        \
    "removed a clean, unmapped page from the page cache while someone the page lock does "    \
    "not exclude held it (v2.6.18's unlocked do_no_page; get_user_pages), so what the "       \
    "holder wrote went to a detached page no one writes back (016eb4a0ed06, v2.6.18, "        \
    "closed it: remove only a page the cache and the caller alone hold)")                      \
  X(kFixupLeftClean, "fixup_left_clean",                                                        \
    "left a page dirtied behind the filesystem's back clean (-EBUSY, after "                  \
    "clear_page_dirty_for_io) for a fixup worker that gives up on a clean page, so its data "  \
    "is never written (87826df0ec36 opened it; 25f3c5021985, v5.6, closed it: keep the page "  \
    "dirty until the worker has set it up)")                                                  \
  X(kPagecacheTruncatedBeforeBlocksFreed, "pagecache_truncated_before_blocks_freed",            \
    "between truncate_pagecache_range and the freeing of the punched range's blocks, where a "  \
    "fault could bring a page back in on blocks about to go: what was then stored into it "    \
    "went to a freed block (ea3d7209ca01, v4.5, closed it: faults and the punch exclude each " \
    "other, 5.15's invalidate_lock)")                                                     \
  X(kBareSetPageDirty, "bare_set_page_dirty",                                                  \
    "set PG_dirty by hand on a clean page (SetPageDirty, no account_page_dirtied) to make "   \
    "nfs_wb_page write it, whose clear_page_dirty_for_io then un-counted from NR_FILE_DIRTY "  \
    "a page it never counted (e3db7691e9f3, v2.6.20, closed it: ->launder_page writes only "  \
    "a page found dirty, and ->releasepage keeps a page with a request)")

enum class FaultWindow : uint8_t {
#define PAGERACE_X(id, name, text) id,
  PAGERACE_WINDOWS(PAGERACE_X)
#undef PAGERACE_X
      kNumWindows
};
inline constexpr int kNumFaultWindows = static_cast<int>(FaultWindow::kNumWindows);
const char* FaultWindowName(FaultWindow w);  // "mkwrite_to_set_page_dirty"
const char* FaultWindowText(FaultWindow w);  // "between ->page_mkwrite and set_page_dirty"

// A root cause, packed: window, path, intruder (a RoleKind, or kNoIntruder),
// and, for a report with no window, its RaceKind (a window's cause holds
// kAnySymptom: the symptoms it leads to are counted under it).
struct RootCause {
  static constexpr uint8_t kNoIntruder = 0xff;
  static constexpr uint8_t kAnySymptom = 0xfe;  // a window's cause: every symptom
  FaultWindow window = FaultWindow::kNone;
  FaultPath path = FaultPath::kNone;
  uint8_t intruder = kNoIntruder;
  uint8_t symptom = 0xff;  // RaceKind

  uint32_t Pack() const {
    return static_cast<uint32_t>(window) | static_cast<uint32_t>(path) << 8 |
           static_cast<uint32_t>(intruder) << 16 | static_cast<uint32_t>(symptom) << 24;
  }
  static RootCause Unpack(uint32_t v);
  // "do_wp_page/mkwrite_to_set_page_dirty/writeback": stable, for grouping.
  std::string Id() const;
  // "do_wp_page: writeback between ->page_mkwrite and set_page_dirty".
  std::string Title() const;
};

// Where `cause` (packed) starts in a page's trace (`events`, oldest first):
// for a window an intruder entered, the last opening (kWindowOpen) before
// the last entry (kWindowEntered), or the last opening if no entry was
// kept; for a transition, the last kWindowTransition.  -1 when the trace
// does not hold it (the ring kept only later events, or no window).
int CauseStartIndex(const std::vector<Event>& events, uint32_t cause);

// Whether a trace event changes what the page's dirty state or fs metadata
// means (the kinds a path other than the window's holder intrudes with).
bool IntrudingEvent(Event e);

class CauseTracker {
 public:
  static constexpr int kMaxCauses = 64;

  explicit CauseTracker(uint64_t pages);

  // The calling thread's fault path opens / closes `window` on page `index`.
  void Open(uint64_t index, FaultPath path, FaultWindow window);
  // Returns the window the caller closed (a FaultWindow), -1 if it held none.
  int Close(uint64_t index);
  // A transition with no intruder (a mutant's step, growth past a writable
  // EOF page), by the calling thread's path.
  void Transition(uint64_t index, FaultPath path, FaultWindow window);
  // The caller is about to lose data on `index` by `window`'s mechanism
  // (a transition's: buffer.c dropping a store past the old EOF that has no
  // block, NFS sending a request sized before the growth): the page's last
  // transition of `window`, if any, becomes its incident again.
  void Blame(uint64_t index, FaultWindow window);
  // Every trace event (Tracer::Record): an intrusion when another thread
  // holds a window open on `index` and `e` intrudes.  Returns the window
  // entered (a FaultWindow; an opening is entered once), -1 if none.
  int OnEvent(uint64_t index, Event e);
  // The cause of a report of `kind` on `index`, counted (`data_losing`
  // marks the cause data-losing).  Allocation-free.
  uint32_t CauseFor(uint64_t index, RaceKind kind, bool data_losing);

  struct CauseCount {
    uint32_t cause = 0;  // packed RootCause
    uint64_t count = 0;
    bool data_losing = false;
    uint64_t by_kind[kNumRaceKinds] = {};  // the symptoms
  };
  // Every cause reported, in order of first report.
  std::vector<CauseCount> Causes() const;
  // Reports whose cause did not fit in the table (none with kMaxCauses).
  uint64_t uncounted() const { return uncounted_.load(std::memory_order_relaxed); }

  struct WindowCount {
    FaultPath path;
    FaultWindow window;
    uint64_t opened = 0;
    uint64_t entered[kNumRoleKinds] = {};
  };
  // Each window some path opened, with the intrusions into it by role.
  std::vector<WindowCount> Windows() const;

 private:
  // Windows open at once on one page: two faults through two mappings.
  static constexpr int kOpenSlots = 2;
  struct PageSlot {
    // tid << 16 | path << 8 | entered << 7 | window of each open window
    // (entered: an intruder has been counted for this opening); 0: none.
    Shared<uint32_t> open[kOpenSlots];
    // Packed RootCause of the page's latest incident; 0: none.
    Shared<uint32_t> incident{0};
    // Packed RootCause of the page's latest transition (Blame); 0: none.
    Shared<uint32_t> transition{0};
    // Packed RootCause of the page's latest refusal: a transition that
    // refuses a store (SIGBUS) and so loses nothing.  It is the cause of
    // its own symptom (I9) only, and leaves the incident to the reports of
    // data the page did lose.
    Shared<uint32_t> refusal{0};
  };
  struct Slot {
    std::atomic<uint32_t> cause{0};  // 0: free (a packed cause is never 0)
    std::atomic<uint64_t> count{0};
    std::atomic<bool> data_losing{false};
    std::atomic<uint64_t> by_kind[kNumRaceKinds] = {};
  };
  static constexpr int kPaths = 15;  // FaultPath values
  static_assert(kPaths == static_cast<int>(FaultPath::kReleasePage) + 1, "kPaths follows FaultPath");
  static constexpr uint32_t kEnteredBit = 0x80;
  void Record(uint64_t index, RootCause c);
  void Intrusion(uint64_t index, uint32_t open_word, const ThreadInfo& me, Event e);

  const uint64_t pages_;
  std::unique_ptr<PageSlot[]> page_;
  Slot causes_[kMaxCauses];
  std::atomic<uint64_t> uncounted_{0};
  std::atomic<uint64_t> opened_[kPaths][kNumFaultWindows] = {};
  std::atomic<uint64_t> entered_[kPaths][kNumFaultWindows][kNumRoleKinds] = {};
};

}  // namespace pagerace

#endif  // PAGERACE_HARNESS_CHECK_ROOT_CAUSE_H_
