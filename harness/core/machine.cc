#include "harness/core/machine.h"

#include "harness/core/kernel_roles.h"
#include "harness/mm/writeback.h"

namespace pagerace {

absl::StatusOr<std::unique_ptr<Machine>> Machine::Create(const RunConfig& config) {
  std::unique_ptr<Machine> m(new Machine(config));
  m->scheme_ = config.scheme->make();
  m->adapter_ = config.fs->make();
  MmOptions mo;
  mo.pages = config.pages;
  mo.mappings = config.mappings;
  mo.pin_writeback = config.pin_writeback;
  mo.reverted = config.reverts;
  auto mm = MmContext::Create(mo, m->scheme_.get(), m->adapter_.get());
  if (!mm.ok()) return mm.status();
  m->mm_ = *std::move(mm);
  const int writers = config.threads + config.pwriters;
  m->ledger_ = std::make_unique<Ledger>(
      config.pages, static_cast<uint32_t>(m->mm_->page_size() / sizeof(uint64_t)),
      static_cast<uint32_t>(writers));
  if (config.workload->arm) config.workload->arm(m->adapter_.get());
  MixedOptions wo;
  wo.threads = config.threads;
  wo.pwriters = config.pwriters;
  wo.seed = config.seed;
  if (config.ops) wo.ops_per_writer = std::max<uint64_t>(1, config.ops / writers);
  wo.gup_mode = config.gup;
  if (config.workload->shape) config.workload->shape(&wo);
  m->workload_ = std::make_unique<MixedWorkload>(m->mm_.get(), m->ledger_.get(), wo);
  return m;
}

Machine::~Machine() { TracePageLocks(false); }

std::vector<std::unique_ptr<Role>> Machine::MakeRoles() {
  std::vector<std::unique_ptr<Role>> roles;
  roles.push_back(MakeIoRole(mm_.get()));
  roles.push_back(MakeWritebackRole(mm_.get()));
  if (auto fs = MakeFsBackgroundRole(mm_.get())) roles.push_back(std::move(fs));
  workload_->AddRoles(&roles);
  return roles;
}

void Machine::FinalSync() { sync_mapping(*mm_, /*drain=*/false); }

void Machine::FinalChecks() {
  mm_->audit_all();
  workload_->CheckLedger();
}

void Machine::TracePageLocks(bool on) {
  if (on == tracing_locks_) return;
  tracing_locks_ = on;
  SetPageLockObserver(on ? this : nullptr);
}

void Machine::OnPageLock(const Page* page, bool locked) {
  if (page->index < mm_->pages()) {
    mm_->trace(page->index, locked ? Event::kLockPage : Event::kUnlockPage);
  }
}

std::vector<std::pair<uint64_t, std::vector<TraceEntry>>> Machine::PageTraces() {
  std::vector<std::pair<uint64_t, std::vector<TraceEntry>>> out;
  for (uint64_t i = 0; i < mm_->pages(); ++i) {
    std::vector<TraceEntry> t(Tracer::kRing);
    t.resize(mm_->tracer().Snapshot(i, t.data(), Tracer::kRing));
    if (!t.empty()) out.emplace_back(i, std::move(t));
  }
  return out;
}

}  // namespace pagerace
