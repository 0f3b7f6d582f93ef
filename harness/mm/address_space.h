// struct address_space (DESIGN §5): the page cache of the one modeled file,
// its dirty tag and i_size.  Models include/linux/fs.h and the radix-tree
// parts of mm/filemap.c as of v2.6.29.
//
// Thread-safety: safe for concurrent access.  The slot array and the dirty
// tag are protected by tree_lock_ (mapping->tree_lock); a page's `mapping`
// field changes only with the page locked and tree_lock_ held.
#ifndef PAGERACE_HARNESS_MM_ADDRESS_SPACE_H_
#define PAGERACE_HARNESS_MM_ADDRESS_SPACE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "harness/base/futex.h"
#include "harness/base/lock_order.h"
#include "harness/base/rwsem.h"
#include "harness/mm/page.h"
#include "harness/base/shared.h"

namespace pagerace {

class AddressSpaceOps;
class Tracer;

class AddressSpace {
 public:
  AddressSpace(uint64_t pages, PagePool* pool, Tracer* tracer);

  void set_a_ops(AddressSpaceOps* ops) { a_ops_ = ops; }  // before any use
  AddressSpaceOps* a_ops() const { return a_ops_; }
  uint64_t nr_pages() const { return pages_; }

  // The page at `index` with a reference, or nullptr.
  Page* find_get_page(uint64_t index);
  // As find_get_page, then locked, re-checking that it is still in this
  // mapping (it may have been truncated or evicted while we slept).
  Page* find_lock_page(uint64_t index);
  // find_lock_page, or a freshly allocated, locked, !uptodate page added to
  // the cache (*created = true).  Models find_or_create_page().
  Page* find_or_create_page(uint64_t index, bool* created);
  // Detaches a locked page: slot emptied, dirty tag cleared, mapping = NULL,
  // the cache's reference dropped.  Models remove_from_page_cache().
  void remove_from_page_cache(Page* page);

  // Puts `newpage` in `old`'s slot: `newpage` takes over the cache's
  // reference and the mapping, `old` is detached (mapping = NULL, the
  // cache's reference dropped); the dirty tag, which belongs to the index,
  // stays.  Returns false (nothing changed) when `old` holds other
  // references than the cache's, the caller's and `extra` (the kernel's
  // reference freeze) or has left the slot.  REQUIRES: both pages locked;
  // `newpage` fresh from the pool (its one reference becomes the cache's).
  // Models the slot half of mm/migrate.c:migrate_page_move_mapping().
  bool replace_page(Page* old, Page* newpage, int extra);

  // __set_page_dirty's critical section (mm/page-writeback.c, v2.6.29;
  // 5.15 the same): under the tree lock, if the page is still this
  // mapping's, account_page_dirtied (NR_FILE_DIRTY, and the page's share of
  // it) and PAGECACHE_TAG_DIRTY.  For a set_page_dirty whose
  // TestSetPageDirty found the page clean, inside its SetPageDirtyScope.
  void tag_dirty(Page* page);
  void clear_dirty_tag(Page* page);
  // Indices tagged dirty, in order, appended to *out.
  void collect_dirty(std::vector<uint64_t>* out);
  // mapping->nrpages: the pages in the cache now.
  uint64_t nrpages();
  uint64_t nr_dirty() const { return nr_dirty_.load(std::memory_order_relaxed); }
  // Dirty accounting (NR_FILE_DIRTY, for this file: the kernel's counter is
  // per zone and per bdi, the model's is the one file's).  tag_dirty counts
  // a page; this un-counts it, as clear_page_dirty_for_io and
  // cancel_dirty_page do when their TestClearPageDirty found it dirty
  // (v2.6.29: dec_zone_page_state; 5.15: account_page_cleaned).  Returns
  // false when the page was not counted and no set_page_dirty is between
  // its TestSetPageDirty and its accounting: PG_dirty was set behind the
  // accounting's back (a bare SetPageDirty), and the count now drifts below
  // the dirty pages (I10).  REQUIRES: the page is this mapping's.
  bool account_page_cleaned(Page* page);
  int64_t nr_file_dirty() const { return nr_file_dirty_.load(std::memory_order_relaxed); }
  // Futex word bumped on every newly tagged page; writeback sleeps on it.
  Shared<uint32_t>& dirty_events() { return dirty_events_; }

  int64_t i_size() const { return i_size_.load(std::memory_order_acquire); }
  void set_i_size(int64_t v) { i_size_.store(v, std::memory_order_release); }

  // mapping->invalidate_lock (5.15; ext4's i_mmap_sem from ea3d7209ca01,
  // v4.5, until the 5.15 series moved it here): taken shared by
  // filemap_fault for a page it must add or read in and by ext4's
  // ->page_mkwrite, exclusive by a hole punch across removing the pages and
  // freeing their blocks (punch.h).  Only where the run's kernel has it
  // (MmContext::has_fix(Fix::kea3d7209ca01)); the lock itself is always here.
  FutexRwSem& invalidate_lock() { return invalidate_lock_; }

 private:
  const uint64_t pages_;
  PagePool* const pool_;
  Tracer* const tracer_;
  AddressSpaceOps* a_ops_ = nullptr;  // constant after setup

  FutexMutex tree_lock_{LockClass::kTreeLock, "tree_lock"};
  // State below is protected by tree_lock_.
  std::unique_ptr<Page*[]> slots_ ABSL_GUARDED_BY(tree_lock_);
  std::unique_ptr<uint8_t[]> dirty_tag_ ABSL_GUARDED_BY(tree_lock_);

  Shared<uint64_t> nr_dirty_{0};       // mirrors the tag count
  Shared<int64_t> nr_file_dirty_{0};   // NR_FILE_DIRTY (may drift below 0)
  Shared<uint32_t> dirty_events_{0};
  Shared<int64_t> i_size_{0};
  FutexRwSem invalidate_lock_{LockClass::kInvalidateLock, "invalidate_lock"};
};

// A set_page_dirty between its TestSetPageDirty and its accounting
// (tag_dirty): the page's `dirtying` count is raised for the scope.  A
// cancel_dirty_page or clear_page_dirty_for_io in that window may un-count
// a page the setter has not counted yet; the kernel's counter then comes
// right when the setter counts it, or drifts by one if the page left the
// cache meanwhile (set_page_dirty racing truncate: real in v2.6.29 and 5.15,
// both read; I10 does not claim it).
class SetPageDirtyScope {
 public:
  explicit SetPageDirtyScope(Page* page) : page_(page) {
    page_->dirtying.fetch_add(1, std::memory_order_acq_rel);
  }
  ~SetPageDirtyScope() { page_->dirtying.fetch_sub(1, std::memory_order_acq_rel); }
  SetPageDirtyScope(const SetPageDirtyScope&) = delete;
  SetPageDirtyScope& operator=(const SetPageDirtyScope&) = delete;

 private:
  Page* const page_;
};

// __set_page_dirty_nobuffers(): PG_dirty, its accounting and the dirty tag,
// no fs metadata.  Returns 1 if the page was newly dirtied.  Models
// mm/page-writeback.c.
int __set_page_dirty_nobuffers(Page* page);

// Models mm/page-writeback.c:test_set_page_writeback() as of v2.6.29: sets
// PG_writeback and, while PG_dirty is clear, drops the page's dirty tag,
// both under the tree lock.  Returns whether PG_writeback was already set.
// REQUIRES: page locked (the ->writepage that starts the write).
bool test_set_page_writeback(Page* page);

}  // namespace pagerace

#endif  // PAGERACE_HARNESS_MM_ADDRESS_SPACE_H_
