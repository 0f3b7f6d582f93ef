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

  // PAGECACHE_TAG_DIRTY.
  void tag_dirty(Page* page);
  void clear_dirty_tag(Page* page);
  // Indices tagged dirty, in order, appended to *out.
  void collect_dirty(std::vector<uint64_t>* out);
  // mapping->nrpages: the pages in the cache now.
  uint64_t nrpages();
  uint64_t nr_dirty() const { return nr_dirty_.load(std::memory_order_relaxed); }
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
  Shared<uint32_t> dirty_events_{0};
  Shared<int64_t> i_size_{0};
  FutexRwSem invalidate_lock_{LockClass::kInvalidateLock, "invalidate_lock"};
};

// __set_page_dirty_nobuffers(): PG_dirty and the dirty tag, no fs metadata.
// Returns 1 if the page was newly dirtied.  Models mm/page-writeback.c.
int __set_page_dirty_nobuffers(Page* page);

// Models mm/page-writeback.c:test_set_page_writeback() as of v2.6.29: sets
// PG_writeback and, while PG_dirty is clear, drops the page's dirty tag,
// both under the tree lock.  Returns whether PG_writeback was already set.
// REQUIRES: page locked (the ->writepage that starts the write).
bool test_set_page_writeback(Page* page);

}  // namespace pagerace

#endif  // PAGERACE_HARNESS_MM_ADDRESS_SPACE_H_
