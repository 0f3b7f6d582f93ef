// A role: one kind of harness thread with one responsibility (an mmap
// worker, a pwrite writer, writeback, I/O completion, reclaim, a truncator,
// fsync, the filesystem's snapshot thread).  A driver (harness/core) runs
// roles on threads; the role does not know which driver runs it.
//
// Life cycle, all on the role's own thread, registered under name() first:
//   start()   once;
//   step()    repeatedly, one unit of work each (one store, one writeback
//             pass, one truncation), until it returns kDone or the driver
//             stops calling it;
//   stop()    once, whether the role finished or was stopped.
// A step must return in bounded time once the driver has asked the role to
// stop (wake()), so that drivers can join it.
//
// Thread-safety: start/step/stop run on the role's thread only; wake() may be
// called from any thread.
#ifndef PAGERACE_HARNESS_BASE_ROLE_H_
#define PAGERACE_HARNESS_BASE_ROLE_H_

#include <cstdint>
#include <string>

#include "harness/base/thread_roles.h"

namespace pagerace {

// When a stress driver stops a role, relative to the run's end: the
// workload's threads first, then writeback, then (after the final sync)
// I/O completion, which that sync still needs.
enum class StopPhase { kWorkload, kWriteback, kIo };

class Role {
 public:
  enum class Step { kMore, kDone };

  virtual ~Role() = default;

  // The thread's role kind and index (thread_roles.def); its name in
  // reports and traces is RoleName(id()): "mmap0", "writeback".
  virtual RoleId id() const = 0;
  std::string name() const { return RoleName(id()); }
  // Whether the thread stores and loads through user mappings (a fault in a
  // user mapping by any other thread is a harness bug).
  virtual bool user_access() const { return false; }
  // Counts toward "every worker is done" when a run is bounded by ops.
  virtual bool bounded() const { return false; }
  virtual StopPhase stop_phase() const { return StopPhase::kWorkload; }
  // A stress driver sleeps this long between steps: pacing that leaves the
  // CPU to the faulting threads on a small machine, never synchronisation.
  virtual int64_t pace_ns() const { return 0; }

  virtual void start() {}
  virtual Step step() = 0;
  virtual void stop() {}
  // The driver is about to stop this role: end any wait inside step() soon.
  virtual void wake() {}
};

}  // namespace pagerace

#endif  // PAGERACE_HARNESS_BASE_ROLE_H_
