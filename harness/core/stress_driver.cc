#include "harness/core/stress_driver.h"

#include <time.h>

#include <memory>
#include <thread>

#include "harness/base/clock.h"
#include "harness/base/lock_wait.h"
#include "harness/base/role.h"
#include "harness/base/thread_registry.h"
#include "harness/check/root_cause.h"
#include "harness/check/watchdog.h"
#include "harness/core/machine.h"

namespace pagerace {

namespace {

// Whether a report group of the stop invariant (if any) has the stop cause.
bool HasCause(const Oracle& oracle, const RunConfig& config) {
  for (const RaceGroup& g : oracle.Groups()) {
    if (config.stop_invariant && g.first.invariant != *config.stop_invariant) continue;
    if (RootCause::Unpack(g.first.cause).Id() == config.stop_cause) return true;
  }
  return false;
}

}  // namespace
namespace {

// The deadlock watchdog: no progress for this long while threads wait on
// locks is a deadlock.
constexpr int64_t kWatchdogNs = 2'000'000'000;
constexpr int64_t kMonitorPeriodNs = 20'000'000;
constexpr int64_t kJoinPollNs = 1'000'000;  // while a stopping thread returns
constexpr int64_t kProgressPeriodNs = 500'000'000;
constexpr int kPhases = 3;

void Nap(int64_t ns) {
  if (ns <= 0) return;
  struct timespec ts = {static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
  nanosleep(&ts, nullptr);
}

// What the run's threads share.  Owned jointly by the driver and every
// role's thread, so that threads left stuck on a deadlock keep the machine
// alive after the driver returns.
struct RunState {
  std::unique_ptr<Machine> machine;
  std::vector<std::unique_ptr<Role>> roles;
  // One stats block per role (index-aligned), and the driver thread's.
  std::vector<std::unique_ptr<ThreadStats>> stats;
  std::atomic<bool> stop[kPhases] = {};
  std::atomic<int> bounded_done{0};
  // Per role (index-aligned): its thread has returned from RunRole.
  std::unique_ptr<std::atomic<bool>[]> exited;

  uint64_t sum(Stat s) const {
    uint64_t n = 0;
    for (const auto& st : stats) n += st->v[static_cast<int>(s)].load(std::memory_order_relaxed);
    return n;
  }
};

void RunRole(const std::shared_ptr<RunState>& state, size_t i) {
  Role& role = *state->roles[i];
  ScopedThread reg(role.name(), role.user_access(), state->stats[i].get());
  const std::atomic<bool>& stop = state->stop[static_cast<int>(role.stop_phase())];
  role.start();
  while (!stop.load(std::memory_order_relaxed)) {
    if (role.step() == Role::Step::kDone) break;
    Nap(role.pace_ns());
  }
  role.stop();
  if (role.bounded()) state->bounded_done.fetch_add(1);
  state->exited[i].store(true, std::memory_order_release);
}

}  // namespace

absl::StatusOr<RunResult> RunStress(const RunConfig& config, const std::atomic<bool>* interrupt,
                                    const std::function<void(const Progress&)>& on_progress) {
  RunResult result;
  result.config = config;
  ResetThreadRegistry();
  ResetLockOrder();

  auto state = std::make_shared<RunState>();
  auto machine = Machine::Create(config);
  if (!machine.ok()) return machine.status();
  state->machine = *std::move(machine);
  Machine& m = *state->machine;
  MmContext& mm = m.mm();
  state->roles = m.MakeRoles();
  state->exited.reset(new std::atomic<bool>[state->roles.size()]());
  int bounded = 0;
  for (const auto& r : state->roles) {
    state->stats.push_back(std::make_unique<ThreadStats>());
    bounded += r->bounded();
  }
  state->stats.push_back(std::make_unique<ThreadStats>());  // the driver's: the final sync

  sched::Options so;
  so.policy = config.sched;
  so.seed = config.seed;
  so.deps = config.deps;
  so.pct_depth = static_cast<uint32_t>(config.pct_depth);
  so.jitter_max_us = static_cast<uint32_t>(config.jitter_max_us);
  sched::Configure(so);

  ScopedThread main_reg(RoleName(RoleKind::kMain), /*user_access=*/false, state->stats.back().get());
  if (!config.trace_out.empty()) m.TracePageLocks(true);

  const int64_t t0 = now_ns();
  std::vector<std::thread> threads;
  for (size_t i = 0; i < state->roles.size(); ++i) threads.emplace_back(RunRole, state, i);

  const double target_s = config.ops ? 0 : absl::ToDoubleSeconds(config.duration);
  const double cap_s = config.ops ? absl::ToDoubleSeconds(config.ops_time_cap) : 0;
  int64_t last_progress = t0;
  Watchdog watchdog(kWatchdogNs);
  bool inversion_reported = false;
  Oracle& oracle = mm.oracle();
  // The watchdog's check, fed from the monitoring loop and from the stop
  // (a deadlock that forms just before the end must not hang the joins).
  auto deadlocked = [&](int64_t now) {
    const uint64_t progress =
        state->sum(Stat::kOps) + state->sum(Stat::kFaults) + state->sum(Stat::kWritebacks);
    if (!watchdog.Stuck(progress, now)) return false;
    uint64_t page;
    const std::string who = DescribeLockWaits(
        [&mm](uint64_t index) { return mm.page_lock_owner(index); },
        &page);
    oracle.Report(RaceKind::kDeadlock, Invariant::kWatchdog, page, 0, 0, who.c_str());
    result.deadlocked = true;
    return true;
  };
  for (;;) {
    Nap(kMonitorPeriodNs);
    const int64_t now = now_ns();
    const double elapsed = static_cast<double>(now - t0) / 1e9;
    if (interrupt && interrupt->load()) {
      result.interrupted = true;
      break;
    }
    if (config.ops ? state->bounded_done.load() == bounded : elapsed >= target_s) break;
    if (cap_s > 0 && elapsed >= cap_s) break;
    if (config.stop_kind && oracle.count(*config.stop_kind) > 0) break;
    if (config.stop_at_first_race && oracle.total() > 0 &&
        (!config.stop_invariant || oracle.count(*config.stop_invariant) > 0) &&
        (!config.stop_needs_losing || oracle.data_losing_total() > 0) &&
        (config.stop_cause.empty() || HasCause(oracle, config))) {
      break;
    }
    if (!inversion_reported) {
      if (std::string inv = LockOrderInversion(); !inv.empty()) {
        oracle.Report(RaceKind::kLockOrderInversion, Invariant::kLockOrder, 0, 0, 0,
                      inv.c_str());
        inversion_reported = true;
      }
    }
    // Before the watchdog: a forbidden dependency is dropped as soon as it
    // is found, but threads it held may still be on their way out.
    if (sched::InfeasibleDep inf; sched::OrderedInfeasible(&inf)) {
      if (result.ordered_infeasible.empty()) result.ordered_infeasible = sched::DescribeInfeasible(inf);
      if (config.stop_on_infeasible) break;
    }
    if (deadlocked(now)) break;
    if (on_progress && now - last_progress >= kProgressPeriodNs) {
      last_progress = now;
      on_progress({elapsed, target_s, state->sum(Stat::kOps), state->sum(Stat::kFaults),
                   oracle.total()});
    }
  }

  auto gather = [&] {
    for (int s = 0; s < static_cast<int>(Stat::kNumStats); ++s) {
      result.stats[s] = state->sum(static_cast<Stat>(s));
    }
    result.race_reports = oracle.total();
    result.data_losing_reports = oracle.data_losing_total();
    result.ungrouped_reports = oracle.ungrouped();
    result.races = oracle.Groups();
    result.causes = oracle.causes().Causes();
    result.windows = oracle.causes().Windows();
  };
  // Threads stuck on locks cannot be joined, and the machine cannot be torn
  // down under them: they keep their share of the run state, and the caller
  // _exits after reporting.
  auto abandon = [&] {
    for (auto& s : state->stop) s.store(true);
    for (auto& t : threads) {
      if (t.joinable()) t.detach();
    }
    result.elapsed_s = static_cast<double>(now_ns() - t0) / 1e9;
    gather();
    return result;
  };
  if (result.deadlocked) return abandon();

  // Stop in phases: the workload's roles, then writeback, then (after the
  // final sync, which needs it) I/O completion.  Each phase's threads are
  // joined once they have returned; until then the watchdog keeps watching,
  // so a deadlock among them ends the run with its report, not a hang.
  auto stop_phase = [&](StopPhase phase) {
    state->stop[static_cast<int>(phase)].store(true);
    for (size_t i = 0; i < state->roles.size(); ++i) {
      if (state->roles[i]->stop_phase() == phase) state->roles[i]->wake();
    }
    for (size_t i = 0; i < state->roles.size(); ++i) {
      if (state->roles[i]->stop_phase() != phase) continue;
      while (!state->exited[i].load(std::memory_order_acquire)) {
        if (deadlocked(now_ns())) return false;
        Nap(kJoinPollNs);
      }
      threads[i].join();
    }
    return true;
  };
  state->stop[static_cast<int>(StopPhase::kWorkload)].store(true);
  sched::Release();  // a worker in an ordered wait for a point that never came
  if (!stop_phase(StopPhase::kWorkload)) return abandon();
  result.elapsed_s = static_cast<double>(now_ns() - t0) / 1e9;
  if (!stop_phase(StopPhase::kWriteback)) return abandon();
  // The final sync runs unperturbed.
  result.pct = sched::Pct();
  if (sched::InfeasibleDep inf; result.ordered_infeasible.empty() && sched::OrderedInfeasible(&inf)) {
    result.ordered_infeasible = sched::DescribeInfeasible(inf);
  }
  result.ordered_outcomes = sched::DescribeOrderedOutcomes();
  sched::Reset();
  m.FinalSync();
  if (!stop_phase(StopPhase::kIo)) return abandon();
  m.FinalChecks();

  gather();
  std::vector<uint64_t> hist;
  for (auto& st : state->stats) st->fault_latency.MergeInto(&hist);
  result.fault_p50_ns = LatencyHistogram::Quantile(hist, 0.50);
  result.fault_p99_ns = LatencyHistogram::Quantile(hist, 0.99);
  result.jitter_delays = sched::JitterDelays();
  result.thread_roles = ThreadRoleNames();
  if (!config.trace_out.empty()) {
    m.TracePageLocks(false);
    result.page_traces = m.PageTraces();
  }
  return result;
}

}  // namespace pagerace
