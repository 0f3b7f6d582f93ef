// Refused user accesses (DESIGN §4).  When the fault path fails a fault
// (kVmFaultSigbus: ->page_mkwrite refused, or an access past EOF) the kernel
// delivers SIGBUS and no store lands.  The harness models that the way the
// kernel itself recovers from a faulting copy_from_user(): an exception-table
// fixup.  A guarded access is one mov instruction at a known address; when a
// fault taken there must fail, the handler moves the saved RIP to the fixup
// label past it and sets RAX, and the access returns "refused".  No
// sigsetjmp/longjmp, no syscall, nothing per access but the mov.
#ifndef PAGERACE_HARNESS_MM_RECOVERY_H_
#define PAGERACE_HARNESS_MM_RECOVERY_H_

#include <cstdint>

namespace pagerace {

// A store / load through a user mapping; false if the fault was failed (the
// store did not land / nothing was loaded).
bool guarded_store(uint64_t* addr, uint64_t value);
bool guarded_load(const uint64_t* addr, uint64_t* value);

// From the fault handler, for a fault that must fail: if the faulting
// instruction is a guarded access, redirects the interrupted context to its
// fixup and returns true.  Async-signal-safe.
bool fixup_failed_access(void* ucontext);

}  // namespace pagerace

#endif  // PAGERACE_HARNESS_MM_RECOVERY_H_
