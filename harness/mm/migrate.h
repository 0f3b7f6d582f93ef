// Page migration (issue 20): compaction, NUMA balancing and move_pages(2)
// move a file page's contents to a new page while it stays in the file.
// Modeled on mm/migrate.c:__unmap_and_move() and move_to_new_page() as of
// v2.6.29 and 5.15 (both read in the mirrors), in MIGRATE_ASYNC mode (what
// compaction uses), one page:
//
//   1. trylock the page (async migration never sleeps on it: -EAGAIN);
//      a page under writeback is left (-EBUSY: async does not wait);
//   2. try_to_migrate (v2.6.29: try_to_unmap(page, migration)): every pte of
//      the page becomes a migration entry, its TLB entry flushed, a dirty
//      pte handing its dirtiness to set_page_dirty; a fault on it waits for
//      the page lock and faults again;
//   3. move_to_new_page through the filesystem's ->migratepage
//      (AddressSpaceOps::migratepage): with none, fallback_migrate_page,
//      which keeps a dirty page (5.15 async: -EBUSY; v2.6.29/30, which
//      have no modes: writeout, i.e. the ptes restored, clear_page_dirty_for_io
//      and ->writepage, then -EAGAIN) and first releases private data; migrate_page_move_mapping then freezes the page's references
//      at the cache's, the caller's and the private data's (anyone else:
//      -EAGAIN), puts the new page in the slot and moves PG_dirty to it;
//      the contents and the other flags follow (migrate_page_copy);
//   4. remove_migration_ptes: the ptes map the new page (success) or the
//      old one again (failure), as they were;
//   5. both pages unlocked; the old page goes with its last reference.
//
// The model's frame is the index's, so the contents need no copy; a new
// Page object takes the old one's place.  A fault on a pte cleared in step
// 2 takes the not-present path (the model has no migration entries): it
// finds the old page locked, waits, finds it detached and looks again, which
// is where migration_entry_wait would have sent it.
//
// Thread-safety: takes the locks it names; the caller holds none.
#ifndef PAGERACE_HARNESS_MM_MIGRATE_H_
#define PAGERACE_HARNESS_MM_MIGRATE_H_

#include <cstdint>

namespace pagerace {

class MmContext;

enum class MigrateResult {
  kNotCached,  // no page at the index
  kMoved,      // a new page holds the index, mapped as the old one was
  kAgain,      // -EAGAIN: locked, or referenced beyond what the freeze allows
  kBusy,       // -EBUSY: under writeback, dirty without ->migratepage, or
               // private data that would not go
};
const char* MigrateResultName(MigrateResult r);  // "moved", "again", ...

// Migrates page `index` (MIGRATE_ASYNC).  Models mm/migrate.c:
// __unmap_and_move() -> move_to_new_page() -> fallback_migrate_page() /
// migrate_page() -> migrate_page_move_mapping() as of 5.15 in MIGRATE_ASYNC
// and v2.6.29 (unmap_and_move's first pass, force = 0: the same trylock and
// writeback skip; fallback_migrate_page writes a dirty page out); both read
// in the mirrors.  Differences: one page, no isolation from the LRU (the
// caller's reference stands for it), no newpage allocation failure, no
// retry passes.
MigrateResult migrate_page_one(MmContext& mm, uint64_t index);

}  // namespace pagerace

#endif  // PAGERACE_HARNESS_MM_MIGRATE_H_
