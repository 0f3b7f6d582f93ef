#include "fs_adapters/backing_store.h"

#include <algorithm>
#include <cstring>

#include "harness/check/root_cause.h"
#include "harness/mm/mm_context.h"

namespace pagerace {

BackingStore::BackingStore(uint64_t pages, size_t page_size)
    : page_size_(page_size) {
  FutexLock l(&mu_);
  data_.assign(pages * page_size, 0);
  version_.assign(pages, 0);
}

void BackingStore::Read(uint64_t index, uint8_t* dst) const {
  FutexLock l(&mu_);
  memcpy(dst, data_.data() + index * page_size_, page_size_);
}

void BackingStore::Write(uint64_t index, uint32_t offset, uint32_t len, const uint8_t* src) {
  FutexLock l(&mu_);
  memcpy(data_.data() + index * page_size_ + offset, src, len);
  ++version_[index];
}

uint64_t BackingStore::ReadSlot(uint64_t index, uint32_t slot) const {
  FutexLock l(&mu_);
  uint64_t v;
  memcpy(&v, data_.data() + index * page_size_ + slot * sizeof(uint64_t), sizeof(v));
  return v;
}

void BackingStore::Truncate(int64_t size) {
  FutexLock l(&mu_);
  const size_t from = static_cast<size_t>(std::max<int64_t>(0, size));
  if (from < data_.size()) std::fill(data_.begin() + from, data_.end(), 0);
}

void BackingStore::Punch(uint64_t first, uint64_t npages) {
  FutexLock l(&mu_);
  const size_t from = std::min(data_.size(), static_cast<size_t>(first) * page_size_);
  const size_t to = std::min(data_.size(), static_cast<size_t>(first + npages) * page_size_);
  std::fill(data_.begin() + from, data_.begin() + to, 0);
  for (uint64_t i = first; i < first + npages && i < version_.size(); ++i) ++version_[i];
}

uint64_t BackingStore::version(uint64_t index) const {
  FutexLock l(&mu_);
  return version_[index];
}

void StoreBackedOps::Attach(MmContext* mm) {
  AddressSpaceOps::Attach(mm);
  page_size_ = mm->page_size();
  store_ = std::make_unique<BackingStore>(mm->pages(), page_size_);
  snapshots_.reset(new uint8_t[mm->pages() * page_size_]());
}

// Models the ->readpage contract (fs/buffer.c:block_read_full_page,
// fs/mpage.c) as of v2.6.29: bytes past i_size read as zeros.  A fault that
// races a truncate can read a page in after the page cache was cut but before
// the store was; the zero fill keeps stale data out of it.
int StoreBackedOps::readpage(Page* page) {
  uint8_t* dst = mm_->mmu().kmap(page->index);
  store_->Read(page->index, dst);
  const uint32_t keep = bytes_in_isize(page->index);
  memset(dst + keep, 0, page_size_ - keep);
  return 0;
}

void StoreBackedOps::write_bounce_copy(Page* page) {
  const uint32_t keep = bytes_in_isize(page->index);
  if (keep > 0) store_->Write(page->index, 0, keep, mm_->mmu().kmap(page->index));
}

bool StoreBackedOps::mkwrite_page_ok(const Page* page) const {
  return page->mapping.load(std::memory_order_acquire) == &mm_->mapping() &&
         bytes_in_isize(page->index) != 0;
}

uint32_t StoreBackedOps::bytes_in_isize(uint64_t index) const {
  const int64_t start = static_cast<int64_t>(index * page_size_);
  return static_cast<uint32_t>(std::clamp<int64_t>(mm_->mapping().i_size() - start, 0,
                                                   static_cast<int64_t>(page_size_)));
}

void StoreBackedOps::read_persisted(uint64_t index, uint8_t* dst) const {
  store_->Read(index, dst);
}

vm_fault_t StoreBackedOps::mkwrite_done(VmFault& vmf, bool returns_locked) {
  if (vm_holds_lock(vmf)) return 0;
  if (returns_locked) return kVmFaultLocked;
  mm_->mkwrite_unlocking(vmf);
  unlock_page(vmf.page);
  return 0;
}

int StoreBackedOps::finish_writepage(Page* page, bool send) {
  if (!send) {
    mm_->trace(page->index, Event::kWritepageNoMetadata);
    unlock_page(page);
    return 0;
  }
  mm_->trace(page->index, Event::kSetPageWriteback);
  unlock_page(page);
  mm_->io().Submit(page);
  return 0;
}

void StoreBackedOps::snapshot_blocks(uint64_t index, uint32_t mask, uint32_t blocksize) {
  for (uint32_t b = 0; b < 32 && b * blocksize < page_size_; ++b) {
    if (mask & (1u << b)) {
      memcpy(snapshot(index) + b * blocksize, mm_->mmu().kmap(index) + b * blocksize, blocksize);
    }
  }
}

void StoreBackedOps::write_blocks(uint64_t index, uint32_t mask, uint32_t blocksize) {
  for (uint32_t b = 0; b < 32 && b * blocksize < page_size_; ++b) {
    if (mask & (1u << b)) {
      store_->Write(index, b * blocksize, blocksize, snapshot(index) + b * blocksize);
    }
  }
}

void StoreBackedOps::mkwrite_wait_stable(Page* page) const {
  if (!mm_->stable_page_era() || !stable_writes()) return;
  if (mm_->skip_stable_wait()) {  // MUTANT: mutant:no_stable_wait
    if (PageWriteback(page)) {
      mm_->transition(page->index, FaultPath::kPageMkwrite,
                               FaultWindow::kStoreWithoutStableWait);
    }
    return;
  }
  wait_on_page_writeback(page);
}

}  // namespace pagerace
