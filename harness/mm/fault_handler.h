// The SIGSEGV entry point (DESIGN §4).  Small by rule: decode, dispatch, no
// allocation, no logging, errno preserved.  The work is FaultTarget's, which
// is ordinary code tested without signals.
//
// A fault is ours only if it is a real fault (si_code > 0) at an address
// inside the active target's user mappings.  Anything else — a genuine crash,
// a SIGSEGV sent by kill() — goes to the previously installed handler, or is
// re-raised with the default action, so real crashes are never swallowed.
#ifndef PAGERACE_HARNESS_MM_FAULT_HANDLER_H_
#define PAGERACE_HARNESS_MM_FAULT_HANDLER_H_

namespace pagerace {

class FaultTarget {
 public:
  virtual ~FaultTarget() = default;
  // Handles a fault at `addr`; returns false if the address is not ours.
  // `write` comes from the x86-64 page-fault error code; `ucontext` is the
  // interrupted context (for refused-access fixups).
  virtual bool HandleUserFault(void* addr, bool write, void* ucontext) = 0;
};

// Installs the handler once per process (SA_SIGINFO | SA_NODEFER).
void InstallFaultHandler();
// The one active target (nullptr: none).  The caller keeps it alive until
// it is replaced.
void SetFaultTarget(FaultTarget* target);

}  // namespace pagerace

#endif  // PAGERACE_HARNESS_MM_FAULT_HANDLER_H_
