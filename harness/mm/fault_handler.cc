#include "harness/mm/fault_handler.h"

#include <signal.h>
#include <ucontext.h>

#include <atomic>
#include <cerrno>
#include <mutex>

namespace pagerace {
namespace {

std::atomic<FaultTarget*> g_target{nullptr};
struct sigaction g_old_action;  // written once under std::call_once, before install

// Hands a signal that is not ours to whoever had SIGSEGV before us.
void Chain(int sig, siginfo_t* si, void* uctx) {
  const struct sigaction& old = g_old_action;
  if ((old.sa_flags & SA_SIGINFO) && old.sa_sigaction != nullptr) {
    old.sa_sigaction(sig, si, uctx);
    return;
  }
  if (old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN) {
    old.sa_handler(sig);
    return;
  }
  // Default action.  A real fault re-executes the instruction on return and
  // dies with SIGSEGV; a sent one (si_code <= 0) must be re-raised, because
  // returning would simply continue.
  signal(SIGSEGV, SIG_DFL);
  if (si->si_code <= 0) raise(SIGSEGV);
}

void Handler(int sig, siginfo_t* si, void* uctx) {
  const int saved_errno = errno;
  if (si->si_code > 0) {
    if (FaultTarget* t = g_target.load(std::memory_order_acquire)) {
      const auto* uc = static_cast<const ucontext_t*>(uctx);
      const bool write = (uc->uc_mcontext.gregs[REG_ERR] & 2) != 0;
      if (t->HandleUserFault(si->si_addr, write, uctx)) {
        errno = saved_errno;
        return;
      }
    }
  }
  Chain(sig, si, uctx);
  errno = saved_errno;
}

}  // namespace

void InstallFaultHandler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa = {};
    sa.sa_sigaction = Handler;
    // SA_NODEFER: a fault taken while handling one (a bug) is not blocked
    // into a hang, and a re-raise from Chain is delivered at once.
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &g_old_action);
  });
}

void SetFaultTarget(FaultTarget* target) { g_target.store(target, std::memory_order_release); }

}  // namespace pagerace
