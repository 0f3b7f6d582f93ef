// Worker recovery points (DESIGN §4): when the fault path fails a fault
// (kVmFaultSigbus: ->page_mkwrite refused, or an access past EOF) the kernel
// delivers SIGBUS and no store lands.  The harness instead jumps from the
// SIGSEGV handler back to the recovery point armed around the worker's
// access, and the access reports "refused".
//
// sigsetjmp(env, 0) saves no signal mask, so arming costs no syscall; the
// handler is installed with SA_NODEFER, so nothing is left blocked by the jump.
#ifndef PAGERACE_HARNESS_MM_RECOVERY_H_
#define PAGERACE_HARNESS_MM_RECOVERY_H_

#include <setjmp.h>

#include <cstdint>

namespace pagerace {

struct RecoveryPoint {
  sigjmp_buf env;
  // Touched only by the owning thread and its own signal handler: volatile
  // plus signal fences, so the compiler neither drops nor moves it across
  // the guarded access.
  volatile bool armed = false;
};

RecoveryPoint& current_recovery_point();

// A store / load through a user mapping; false if the fault was failed.
bool guarded_store(uint64_t* addr, uint64_t value);
bool guarded_load(const uint64_t* addr, uint64_t* value);

// From the fault handler: jumps to the armed recovery point, if any;
// returns only when none is armed.
void recover_from_failed_fault();

}  // namespace pagerace

#endif  // PAGERACE_HARNESS_MM_RECOVERY_H_
