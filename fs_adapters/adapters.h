// The filesystem adapters' factories, one per adapter (its variants are
// options of one class); the registry entries that name them are in
// adapters.cc, and `pagerace --list` (docs/models.md) lists them with the
// kernel release each models.
#ifndef PAGERACE_FS_ADAPTERS_ADAPTERS_H_
#define PAGERACE_FS_ADAPTERS_ADAPTERS_H_

#include <memory>

#include "fs_adapters/adapter_registry.h"
#include "fs_adapters/backing_store.h"

namespace pagerace {

std::unique_ptr<StoreBackedOps> MakeNfsAdapter(bool mkwrite_returns_locked);
std::unique_ptr<StoreBackedOps> MakeNoneAdapter();
std::unique_ptr<StoreBackedOps> MakeBtrfsAdapter(bool mkwrite_returns_locked,
                                                 bool release_extra_reservation);
std::unique_ptr<StoreBackedOps> MakeCephAdapter(bool mkwrite_returns_locked,
                                                bool flush_older_snapc);
struct BufferOptions;  // fs_adapters/buffer.h
std::unique_ptr<StoreBackedOps> MakeBufferAdapter(const BufferOptions& options);

}  // namespace pagerace

#endif  // PAGERACE_FS_ADAPTERS_ADAPTERS_H_
