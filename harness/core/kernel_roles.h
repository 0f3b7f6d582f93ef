// The modeled kernel's own threads as roles (harness/base/role.h): the
// background flusher, the block layer's I/O completion, and a filesystem's
// own activity (ceph's snapshots).  The workload's roles live with the
// workload (workloads/mixed.h).
#ifndef PAGERACE_HARNESS_CORE_KERNEL_ROLES_H_
#define PAGERACE_HARNESS_CORE_KERNEL_ROLES_H_

#include <memory>

#include "harness/base/role.h"
#include "harness/mm/mm_context.h"

namespace pagerace {

// The background flusher (the bdi flusher / pdflush of the modeled
// versions): a step is one write_cache_pages pass over the dirty pages,
// ->commit (NFS COMMIT), and every 10 ms the I0-I2 auditor; with nothing
// written it waits up to 1 ms for a page to be dirtied.
std::unique_ptr<Role> MakeWritebackRole(MmContext* mm);
// I/O completion: a step completes what is queued (->end_io,
// end_page_writeback), or sleeps until something is submitted.  Finishes,
// once stopped, when the queue is empty.
std::unique_ptr<Role> MakeIoRole(MmContext* mm);
// The adapter's own thread (AddressSpaceOps::background_role), one
// background_step() a step, paced at 1 ms; nullptr when the adapter has none.
std::unique_ptr<Role> MakeFsBackgroundRole(MmContext* mm);

}  // namespace pagerace

#endif  // PAGERACE_HARNESS_CORE_KERNEL_ROLES_H_
