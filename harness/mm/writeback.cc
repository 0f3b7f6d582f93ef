#include "harness/mm/writeback.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "harness/check/root_cause.h"
#include "harness/mm/fixes.h"
#include "harness/mm/gup.h"
#include "harness/mm/mm_context.h"
#include "harness/mm/page.h"
#include "harness/base/stats.h"
#include "harness/sched/sched.h"

namespace pagerace {

IoQueue::IoQueue(MmContext* mm, size_t capacity)
    : mm_(mm), capacity_(capacity), ring_(new Entry[capacity]) {}

void IoQueue::Submit(Page* page) { Push({page, false}); }

void IoQueue::SubmitLocked(Page* page) {
  hand_off_page_lock(page);
  Push({page, true});
}

void IoQueue::Push(Entry e) {
  get_page(e.page);
  {
    FutexLock l(&mu_);
    if (count_ == capacity_) {
      fprintf(stderr, "pagerace: harness bug: I/O queue overflow\n");
      abort();
    }
    ring_[(head_ + count_) % capacity_] = e;
    ++count_;
  }
  events_.fetch_add(1, std::memory_order_release);
  futex_wake_all(events_.raw());
}

bool IoQueue::Pop(Entry* e) {
  FutexLock l(&mu_);
  if (count_ == 0) return false;
  *e = ring_[head_];
  head_ = (head_ + 1) % capacity_;
  --count_;
  return true;
}

void IoQueue::Complete(Entry e) {
  Page* page = e.page;
  SCHED_POINT_PAGE(kEndIoBegin, page->index);
  mm_->a_ops().end_io(page);
  SCHED_POINT_PAGE(kEndIoDone, page->index);
  end_page_writeback(*mm_, page);
  if (e.unlock) unlock_page_from_io(page);
  put_page(page);
}

int IoQueue::Drain() {
  int n = 0;
  Entry e;
  while (Pop(&e)) {
    Complete(e);
    ++n;
  }
  return n;
}

// Models mm/page-writeback.c:clear_page_dirty_for_io() as of v2.6.29 (5.15's
// folio_clear_dirty_for_io the same steps): page_mkclean, a pte found dirty
// handed to set_page_dirty, then TestClearPageDirty and the page un-counted
// from NR_FILE_DIRTY (dec_zone_page_state; 5.15 dec_lruvec_page_state and
// dec_wb_stat), I10 checked.
int clear_page_dirty_for_io(MmContext& mm, Page* page) {
  mm.trace(page->index, Event::kClearPageDirtyForIo);
  if (mm.scheme().clear_dirty_before_mkclean() || mm.reverted(Fix::k7658cc289288)) {
    // Before 7658cc289288 (v2.6.20; the diff read in the v2.6.34 mirror):
    // `if (TestClearPageDirty(page)) { page_mkclean(page); return 1; }`.
    // PG_dirty goes first, so for a moment the page is clean while a pte
    // still maps it writable, and page_mkclean's answer (a pte dirtied
    // since) is dropped instead of handed back with set_page_dirty.  A clean
    // page was not write-protected at all.  (mutant:clear_dirty_before_mkclean
    // is this revert under the locked scheme's name.)
    const bool was_dirty = TestClearPageFlag(page, PG_dirty);
    if (was_dirty) {
      mm.account_page_cleaned(page);
      mm.transition(page->index, FaultPath::kWriteback,
                             FaultWindow::kDirtyClearedBeforeMkclean);
      mm.check_clean_not_writable(page);
      if (mm.mmu().page_mkclean(page)) mm.trace(page->index, Event::kPageMkclean);
    }
    return was_dirty;
  }
  // Write-protect first: any store after this point faults, and a writable
  // pte found here means the page was dirtied through it.
  if (mm.mmu().page_mkclean(page)) {
    mm.trace(page->index, Event::kPageMkclean);
    mm.set_page_dirty(page);
  }
  // A fault may make the pte writable again here (its page lock wait, or
  // the page lock it holds, is what keeps its set_page_dirty out).
  SCHED_POINT(kClearPageDirtyForIoAfterMkclean);
  if (TestClearPageFlag(page, PG_dirty)) {
    mm.account_page_cleaned(page);
    // The dirty tag stays until the write is under way
    // (test_set_page_writeback): a data-integrity pass that looks meanwhile
    // finds the page tagged and waits for its lock, as the kernel's does.
    mm.check_clean_not_writable(page);
    return 1;
  }
  return 0;
}

// Models mm/filemap.c:end_page_writeback() as of v2.6.29; differences: no
// PG_reclaim rotation.
void end_page_writeback(MmContext& mm, Page* page) {
  SCHED_POINT(kEndPageWriteback);
  clear_page_writeback(page);
  mm.trace(page->index, Event::kEndPageWriteback);
}

// The proposed pin-aware writeback (PinWriteback::kSkip / kBounce; Jan Kara,
// "[LSF/MM/BPF TOPIC] Pinned pages and writeback" and the RFC series of
// 2023-02-09, https://lore.kernel.org/all/20230209121046.25360-1-jack@suse.cz/;
// not merged as far as we know, so this models no released kernel): a page
// page_maybe_dma_pinned() is not cleaned, so its fs metadata is not retired
// while the device may write it.  `bounce` also writes a copy of its bytes
// (a stable snapshot, as a bounce page would carry) to the store, keeping
// the page dirty with its metadata; `skip` writes nothing.  Returns whether
// the page stays dirty.  REQUIRES: page locked.
static bool pinned_page_stays_dirty(MmContext& mm, Page* page) {
  const PinWriteback p = mm.pin_writeback();
  if (p != PinWriteback::kSkip && p != PinWriteback::kBounce) return false;
  if (!page_maybe_dma_pinned(page)) return false;
  if (p == PinWriteback::kBounce) {
    mm.a_ops().write_bounce_copy(page);
    CountStat(Stat::kPinnedBounced);
  } else {
    CountStat(Stat::kPinnedSkipped);
  }
  return true;
}

// clear_page_dirty_for_io cleaned a page that is pinned after all: PG_dirty
// and the dirty tag come back, as redirty_page_for_writepage would, but
// without ->set_page_dirty (the fs metadata was never retired: nothing to
// re-attach).  page_mkclean's write protection stays: the next user store
// faults into ->page_mkwrite.  REQUIRES: page locked.
static void redirty_pinned_page(Page* page) { __set_page_dirty_nobuffers(page); }

// Models mm/page-writeback.c:write_cache_pages() as of v2.6.29; differences:
// one file, the whole range every pass, no nr_to_write budget, the dirty-tag
// snapshot is taken once at the start (as tag_pages_for_writeback later did).
WritebackPass write_cache_pages(MmContext& mm, WritebackControl& wbc) {
  WritebackPass pass;
  AddressSpace& mapping = mm.mapping();
  SCHED_POINT(kWriteCachePagesBegin);
  mm.a_ops().writepages_begin();
  std::vector<uint64_t> dirty;
  dirty.reserve(mm.pages());
  mapping.collect_dirty(&dirty);
  // v2.6.29 counts nr_to_write down for WB_SYNC_NONE only (05fe478dd04e);
  // before it, a data-integrity pass stopped at the budget too.
  const bool budgeted =
      wbc.sync_mode == WritebackControl::kSyncNone || mm.reverted(Fix::k05fe478dd04e);
  for (size_t at = 0; at < dirty.size(); ++at) {
    const uint64_t index = dirty[at];
    if (budgeted && wbc.nr_to_write <= 0) {
      if (wbc.sync_mode == WritebackControl::kSyncAll) {
        // The pages left were dirty when the pass looked: an fsync that
        // returns now has not written them (I8 names the loss).
        for (size_t left = at; left < dirty.size(); ++left) {
          mm.transition(dirty[left], FaultPath::kWriteback, FaultWindow::kIntegritySyncOutOfBudget);
        }
      }
      break;
    }
    SCHED_POINT(kWriteCachePagesBeforeLockPage);
    Page* page = mapping.find_get_page(index);
    if (!page) continue;
    lock_page(page);
    wbc.isize_before_wrprotect = mapping.i_size();
    SCHED_POINT(kWriteCachePagesAfterLockPage);
    // Truncated or evicted while we slept on the lock.
    if (page->mapping.load(std::memory_order_acquire) != &mapping) {
      unlock_page(page);
      put_page(page);
      continue;
    }
    if (PageWriteback(page)) {
      if (wbc.sync_mode == WritebackControl::kSyncNone) {
        ++pass.skipped;
        unlock_page(page);
        put_page(page);
        continue;
      }
      wait_on_page_writeback(page);
    }
    // Pin-aware writeback (proposed, not merged): a pinned page is not
    // cleaned.  Asked before clear_page_dirty_for_io, and again after it: a
    // write pin taken meanwhile through a still-writable pte is visible once
    // page_mkclean has write-protected every pte (a new one needs a write
    // fault, whose ->page_mkwrite waits for the page lock held here).
    if (pinned_page_stays_dirty(mm, page)) {
      unlock_page(page);
      put_page(page);
      continue;
    }
    if (!clear_page_dirty_for_io(mm, page)) {
      unlock_page(page);
      put_page(page);
      continue;
    }
    if (pinned_page_stays_dirty(mm, page)) {
      redirty_pinned_page(page);
      unlock_page(page);
      put_page(page);
      continue;
    }
    SCHED_POINT(kWriteCachePagesAfterClearDirty);
    writepage_starts(mm, page);
    mm.a_ops().writepage(page, wbc);  // unlocks, or hands the lock to the I/O
    writepage_done(mm, page);
    ++pass.written;
    if (budgeted) --wbc.nr_to_write;
    put_page(page);
  }
  mm.a_ops().writepages_end();
  SCHED_POINT(kWriteCachePagesEnd);
  return pass;
}

void writepage_done(MmContext& mm, Page* page) { mm.mapping().clear_dirty_tag(page); }

void writepage_starts(MmContext& mm, Page* page) {
  mm.check_writepage_has_metadata(page);
  mm.trace(page->index, Event::kWritepage);
  CountStat(Stat::kWritebacks);
}

// Models fs/sync.c:vfs_fsync() of v2.6.29 (5.15's file_write_and_wait_range
// inside the filesystems' ->fsync is the same three steps): filemap_fdatawrite
// (__filemap_fdatawrite_range: one WB_SYNC_ALL write_cache_pages pass with
// nr_to_write = LONG_MAX since 05fe478dd04e, mapping->nrpages * 2 before),
// filemap_fdatawait, ->fsync.  Differences: v2.6.29 calls ->fsync before
// filemap_fdatawait; the model's ->commit wants the writes completed (NFS's
// nfs_fsync -> nfs_wb_all waits for them itself), so it comes after the
// wait.  Then I8: every page tagged dirty when fsync began holds on the
// backing store what it held then (or a newer store to the same slot).
void do_fsync(MmContext& mm, bool drain) {
  AddressSpace& mapping = mm.mapping();
  const size_t page_size = mm.page_size();
  const int64_t i_size_before = mapping.i_size();
  // What each page dirty at the call held, read as the device would (no CPU
  // load through a pte; a store racing with it is the user's own race).  A
  // slot whose write is still in flight (a pwrite(2) that has copied but not
  // returned, a direct I/O before set_page_dirty_lock) is left out: fsync
  // owes nothing to a write not complete when it was called.
  std::vector<uint64_t> dirty;
  mapping.collect_dirty(&dirty);
  std::vector<uint8_t> held(dirty.size() * page_size);
  std::vector<Page*> pages(dirty.size());
  std::vector<uint32_t> in_flight;
  for (size_t i = 0; i < dirty.size(); ++i) {
    pages[i] = mapping.find_get_page(dirty[i]);
    if (!pages[i]) continue;
    mm.mmu().device_read(dirty[i], 0, &held[i * page_size], page_size);
    in_flight.clear();
    mm.user_writes_in_flight(dirty[i], &in_flight);
    for (const uint32_t slot : in_flight) {
      memset(&held[i * page_size + slot * sizeof(uint64_t)], 0, sizeof(uint64_t));
    }
    mm.trace(dirty[i], Event::kFsyncCall);
  }
  WritebackControl wbc;
  wbc.sync_mode = WritebackControl::kSyncAll;
  wbc.nr_to_write = mm.reverted(Fix::k05fe478dd04e)
                        ? static_cast<int64_t>(mapping.nrpages()) * 2
                        : INT64_MAX;
  write_cache_pages(mm, wbc);
  if (drain) mm.io().Drain();
  // filemap_fdatawait: every write in flight, whoever started it.
  for (uint64_t i = 0; i < mm.pages(); ++i) {
    if (Page* p = mapping.find_get_page(i)) {
      wait_on_page_writeback(p);
      put_page(p);
    }
  }
  mm.a_ops().commit();
  // A page truncated (or grown past) meanwhile is not checked: its bytes
  // past the new EOF are the truncation's to drop.
  const int64_t i_size = std::min(i_size_before, mapping.i_size());
  std::vector<uint8_t> persisted(page_size);
  for (size_t i = 0; i < dirty.size(); ++i) {
    Page* p = pages[i];
    if (!p) continue;
    const uint64_t index = dirty[i];
    const bool still = p->mapping.load(std::memory_order_acquire) == &mapping;
    put_page(p);
    if (!still) continue;
    mm.a_ops().read_persisted(index, persisted.data());
    for (size_t off = 0; off + sizeof(uint64_t) <= page_size; off += sizeof(uint64_t)) {
      if (static_cast<int64_t>(index * page_size + off + sizeof(uint64_t)) > i_size) break;
      uint64_t want, found;
      memcpy(&want, &held[i * page_size + off], sizeof(want));
      memcpy(&found, persisted.data() + off, sizeof(found));
      // A slot has one writer, whose stamps only grow: a lower value on the
      // store is an older version of the slot (or none).
      if (want != 0 && found < want) {
        mm.checks().FsyncMissed(index, want, found);
        break;  // one report a page
      }
    }
  }
}

// The harness's own final sync (also fsync's end state, but looping): data-
// integrity passes until no page is tagged dirty, the writes waited for,
// then ->commit.
void sync_mapping(MmContext& mm, bool drain) {
  WritebackControl wbc;
  wbc.sync_mode = WritebackControl::kSyncAll;
  // Bounded: each pass writes every page dirty at its start; with the
  // workers stopped nothing re-dirties them.
  for (int i = 0; i < 8 && mm.mapping().nr_dirty() > 0; ++i) {
    if (drain) mm.io().Drain();  // no queued write may hold a page lock we take
    write_cache_pages(mm, wbc);
    if (drain) mm.io().Drain();
  }
  // filemap_fdatawait: wait for every write still in flight.
  for (uint64_t i = 0; i < mm.pages(); ++i) {
    if (Page* p = mm.mapping().find_get_page(i)) {
      if (drain) mm.io().Drain();
      wait_on_page_writeback(p);
      put_page(p);
    }
  }
  if (drain) mm.io().Drain();
  mm.a_ops().commit();
}

}  // namespace pagerace
