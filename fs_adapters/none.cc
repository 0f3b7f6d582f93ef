// The tmpfs-like control adapter: no ->page_mkwrite and no per-page
// metadata, so there is nothing for a fault/writeback race to lose track of.
// Whatever any oracle reports here is a harness bug.  Writes go to the store
// so the data ledger still checks end to end.
#include <cstring>

#include "fs_adapters/adapters.h"
#include "harness/mm/mm_context.h"

namespace pagerace {
namespace {

class NoneAdapter : public StoreBackedOps {
 public:
  const char* name() const override { return "none"; }
  bool has_page_mkwrite() const override { return false; }

  int writepage(Page* page, WritebackControl& wbc) override {
    test_set_page_writeback(page);
    mm_->trace(page->index, Event::kSetPageWriteback);
    // Only what lies inside i_size is the file's.
    const size_t len = bytes_in_isize(page->index);
    memcpy(snapshot(page->index), mm_->mmu().kmap(page->index), len);
    memset(snapshot(page->index) + len, 0, page_size_ - len);
    unlock_page(page);
    mm_->io().Submit(page);
    return 0;
  }

  void end_io(Page* page) override {
    store().Write(page->index, 0, static_cast<uint32_t>(page_size_), snapshot(page->index));
  }

  MetadataState metadata_state(const Page* page, bool writable) const override {
    return MetadataState::kNotTracked;
  }
};

}  // namespace

std::unique_ptr<StoreBackedOps> MakeNoneAdapter() { return std::make_unique<NoneAdapter>(); }

}  // namespace pagerace
