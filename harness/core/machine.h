// One modeled machine for one run (DESIGN §9): the lock scheme, the adapter
// with its backing store, the shadow MMU and address space (MmContext), the
// data ledger and the workload, built from a typed RunConfig.  Drivers
// (stress_driver.h, and later an exploring one) run its roles on threads.
//
// Thread-safety: the parts synchronise themselves (see each); the Machine's
// own members are constant after Create().  It must outlive every thread
// running one of its roles: drivers share ownership with those threads.
#ifndef PAGERACE_HARNESS_CORE_MACHINE_H_
#define PAGERACE_HARNESS_CORE_MACHINE_H_

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "fs_adapters/backing_store.h"
#include "harness/base/role.h"
#include "harness/check/ledger.h"
#include "harness/core/config.h"
#include "harness/mm/mm_context.h"
#include "harness/mm/page.h"
#include "workloads/mixed.h"

namespace pagerace {

class Machine final : private PageLockObserver {
 public:
  // Builds the machine (memfd, mappings, page cache) and arms the adapter
  // for the workload.  Errors are harness failures (the OS refused memory or
  // mappings).
  static absl::StatusOr<std::unique_ptr<Machine>> Create(const RunConfig& config);
  ~Machine();
  Machine(const Machine&) = delete;
  Machine& operator=(const Machine&) = delete;

  const RunConfig& config() const { return config_; }
  MmContext& mm() { return *mm_; }
  FaultScheme& scheme() { return *scheme_; }
  StoreBackedOps& adapter() { return *adapter_; }
  Ledger& ledger() { return *ledger_; }
  MixedWorkload& workload() { return *workload_; }

  // Every role of a run, in the order their threads start: I/O completion,
  // writeback, the filesystem's own thread (ceph snapshots), then the
  // workload's (reclaim, truncate or fsync, pwriters, mmap workers).
  std::vector<std::unique_ptr<Role>> MakeRoles();

  // The end of a run, once the workload's roles and writeback have stopped
  // and the I/O completion role still runs: a data-integrity sync of the
  // whole file (fsync).
  void FinalSync();
  // Then, with every role stopped: the auditor over every page (I0-I2, the
  // adapter's own invariants) and the data ledger.
  void FinalChecks();

  // --trace-out: page lock holds go into the per-page traces too.
  void TracePageLocks(bool on);
  // Every page's last events, for the Chrome trace.
  std::vector<std::pair<uint64_t, std::vector<TraceEntry>>> PageTraces();

 private:
  explicit Machine(const RunConfig& config) : config_(config) {}
  void OnPageLock(const Page* page, bool locked) override;

  const RunConfig config_;
  // Constant after Create(); destroyed in reverse: the workload and ledger,
  // then the MmContext, before the adapter and scheme it points to.
  std::unique_ptr<FaultScheme> scheme_;
  std::unique_ptr<StoreBackedOps> adapter_;
  std::unique_ptr<MmContext> mm_;
  std::unique_ptr<Ledger> ledger_;
  std::unique_ptr<MixedWorkload> workload_;
  bool tracing_locks_ = false;
};

}  // namespace pagerace

#endif  // PAGERACE_HARNESS_CORE_MACHINE_H_
