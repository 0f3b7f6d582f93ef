#include "harness/mm/migrate.h"

#include <vector>

#include "harness/mm/filemap.h"
#include "harness/mm/mm_context.h"
#include "harness/mm/writeback.h"
#include "harness/sched/sched.h"

namespace pagerace {
namespace {

// What try_to_migrate found in each mapping: the pte's state before it
// became a migration entry (kPteNone: the page was not mapped there).
struct SavedPtes {
  PteState state[16] = {};  // --mappings is at most 16 (config.cc)
};

// try_to_migrate / try_to_unmap(page, migration) for a file page: each pte
// of the page cleared (and flushed), a dirty one handing its dirtiness to
// the page.  REQUIRES: page locked.
void try_to_migrate(MmContext& mm, Page* page, SavedPtes* saved) {
  ShadowMmu& mmu = mm.mmu();
  static_assert(sizeof(saved->state) / sizeof(saved->state[0]) >= 16, "--mappings up to 16");
  bool dirty = false;
  for (int v = 0; v < mmu.nr_vmas(); ++v) {
    Pte& p = mmu.pte(v, page->index);
    FutexLock l(&p.ptl);
    const PteState st = pte_state(p.val.load(std::memory_order_relaxed));
    if (p.page != page || st == kPteNone) continue;
    saved->state[v] = st;
    dirty |= st == kPteWritable;
    mmu.set_pte(v, page->index, kPteNone, nullptr);
  }
  if (dirty) mm.set_page_dirty(page);
}

// remove_migration_ptes(from, to): each pte try_to_migrate cleared maps `to`
// as it mapped `from` (a fault may have installed one meanwhile: it stays).
void remove_migration_ptes(MmContext& mm, Page* to, const SavedPtes& saved) {
  ShadowMmu& mmu = mm.mmu();
  for (int v = 0; v < mmu.nr_vmas(); ++v) {
    if (saved.state[v] == kPteNone) continue;
    Pte& p = mmu.pte(v, to->index);
    FutexLock l(&p.ptl);
    if (pte_state(p.val.load(std::memory_order_relaxed)) != kPteNone) continue;
    mmu.set_pte(v, to->index, saved.state[v], to);
  }
}

// v2.6.29 mm/migrate.c:writeout(): the ptes restored, the page cleaned and
// written; migration of it has failed either way (-EAGAIN).  Returns with
// the page locked again.  REQUIRES: page locked.
void writeout(MmContext& mm, Page* page, SavedPtes* saved) {
  remove_migration_ptes(mm, page, *saved);
  *saved = SavedPtes{};
  // No ->writepage: -EINVAL, the page stays dirty (the kernel returns before
  // restoring the ptes, and its caller restores them on the failure).
  if (!mm.a_ops().has_writepage()) return;
  if (!clear_page_dirty_for_io(mm, page)) return;
  WritebackControl wbc;
  wbc.for_reclaim = true;  // one page outside write_cache_pages, as pageout()
  writepage_starts(mm, page);
  mm.a_ops().writepage(page, wbc);  // unlocks
  writepage_done(mm, page);
  lock_page(page);
}

// move_to_new_page: the fs's ->migratepage or the fallback, then
// migrate_page_move_mapping.  Returns kMoved or why not.  REQUIRES: page and
// newpage locked, page unmapped.
MigrateResult move_to_new_page(MmContext& mm, Page* page, Page* newpage) {
  using Migrate = AddressSpaceOps::Migrate;
  const Migrate how = mm.a_ops().migratepage(mm.scheme().era());
  const bool v5 = mm.scheme().era() >= KernelEra::kV5_15;
  switch (how) {
    case Migrate::kFallback:
      // v2.6.29/30's writeout of a dirty page is done by the caller, before
      // the new page is locked (migrate_page_one).
      if (PageDirty(page)) return v5 ? MigrateResult::kBusy : MigrateResult::kAgain;
      if (PagePrivate(page) && !try_to_release_page(mm, page, Gfp::kFs)) return MigrateResult::kBusy;
      break;
    case Migrate::kBusyIfPrivate:
      if (PagePrivate(page)) return MigrateResult::kBusy;
      break;
    case Migrate::kMovePrivate:
      break;
  }
  // migrate_page_move_mapping: the reference freeze (the cache's, ours, and
  // the private data's where it holds one), then the slot.
  const int extra = PagePrivate(page) && mm.a_ops().private_pins_page() ? 1 : 0;
  if (!mm.mapping().replace_page(page, newpage, extra)) return MigrateResult::kAgain;
  // PG_dirty moves with the refs frozen; the flags and the fs's page data
  // follow (migrate_page_copy; buffer_migrate_page / btrfs_migratepage
  // move PG_private, the data itself being the index's in the model).
  const uint32_t moved = PG_dirty | PG_uptodate | PG_private;
  const uint32_t flags = page->flags.load(std::memory_order_acquire) & moved;
  SetPageFlag(newpage, flags);
  ClearPageFlag(page, moved);
  // Its share of NR_FILE_DIRTY goes with PG_dirty (v2.6.29's
  // migrate_page_copy un-counts the old page in clear_page_dirty_for_io and
  // counts the new one in __set_page_dirty_nobuffers; 5.15's
  // migrate_page_move_mapping moves the zone counts).
  newpage->dirty_accounted.store(page->dirty_accounted.exchange(0, std::memory_order_acq_rel),
                                 std::memory_order_release);
  mm.trace(page->index, Event::kMigratePage);
  return MigrateResult::kMoved;
}

}  // namespace

const char* MigrateResultName(MigrateResult r) {
  switch (r) {
    case MigrateResult::kNotCached: return "not_cached";
    case MigrateResult::kMoved: return "moved";
    case MigrateResult::kAgain: return "again";
    case MigrateResult::kBusy: return "busy";
  }
  return "?";
}

MigrateResult migrate_page_one(MmContext& mm, uint64_t index) {
  Page* page = mm.mapping().find_get_page(index);
  if (!page) return MigrateResult::kNotCached;
  if (!trylock_page(page)) {
    put_page(page);
    return MigrateResult::kAgain;
  }
  MigrateResult r = MigrateResult::kBusy;
  if (page->mapping.load(std::memory_order_acquire) != &mm.mapping()) {
    r = MigrateResult::kAgain;  // truncated or evicted meanwhile
  } else if (!PageWriteback(page)) {
    SavedPtes saved;
    try_to_migrate(mm, page, &saved);
    SCHED_POINT(kMigrateAfterUnmap);
    if (mm.scheme().era() < KernelEra::kV5_15 &&
        mm.a_ops().migratepage(mm.scheme().era()) == AddressSpaceOps::Migrate::kFallback &&
        PageDirty(page)) {
      // v2.6.29/30 fallback_migrate_page: write the dirty page out; this
      // attempt fails.  (The kernel holds the unused new page locked across
      // it; the model takes no new page here: no one could see it.)
      writeout(mm, page, &saved);
      r = MigrateResult::kAgain;
    } else {
      // The new page: fresh, locked before anyone can see it.
      Page* newpage = mm.pool().Alloc(index, nullptr);
      const bool got = trylock_page(newpage);
      r = got ? move_to_new_page(mm, page, newpage) : MigrateResult::kAgain;
      remove_migration_ptes(mm, r == MigrateResult::kMoved ? newpage : page, saved);
      if (got) unlock_page(newpage);
      // Moved: the new page's reference became the cache's; else it goes.
      if (r != MigrateResult::kMoved) put_page(newpage);
    }
  }
  unlock_page(page);
  put_page(page);
  return r;
}

}  // namespace pagerace
