#include "harness/core/kernel_roles.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "harness/base/clock.h"
#include "harness/base/futex.h"
#include "harness/mm/writeback.h"

namespace pagerace {
namespace {

constexpr int64_t kAuditIntervalNs = 10'000'000;
constexpr int64_t kWritebackIdleNs = 1'000'000;
// The filesystem's own activity, paced so that it happens often relative to
// faults (pacing, not synchronisation).
constexpr int64_t kFsBackgroundPauseNs = 1'000'000;

class WritebackRole : public Role {
 public:
  explicit WritebackRole(MmContext* mm) : mm_(mm) {}
  RoleId id() const override { return {RoleKind::kWriteback, 0}; }
  StopPhase stop_phase() const override { return StopPhase::kWriteback; }
  void start() override { last_audit_ = now_ns(); }
  Step step() override {
    Shared<uint32_t>& dirtied = mm_->mapping().dirty_events();
    const uint32_t seen = dirtied.load(std::memory_order_acquire);
    WritebackControl wbc;
    const WritebackPass pass = write_cache_pages(*mm_, wbc);
    mm_->a_ops().commit();
    if (now_ns() - last_audit_ > kAuditIntervalNs) {
      mm_->audit_all();
      last_audit_ = now_ns();
    }
    if (pass.written == 0) futex_wait_for(dirtied.raw(), seen, kWritebackIdleNs);
    return Step::kMore;
  }
  void wake() override {
    mm_->mapping().dirty_events().fetch_add(1);
    futex_wake_all(mm_->mapping().dirty_events().raw());
  }

 private:
  MmContext* const mm_;
  int64_t last_audit_ = 0;  // owned by the role's thread
};

class IoRole : public Role {
 public:
  explicit IoRole(MmContext* mm) : mm_(mm) {}
  RoleId id() const override { return {RoleKind::kIo, 0}; }
  StopPhase stop_phase() const override { return StopPhase::kIo; }
  Step step() override {
    // The event count is read before the stop flag: a wake() after this
    // point moves it, so Wait() does not sleep through the stop.
    const uint32_t seen = mm_->io().events();
    if (mm_->io().Drain() > 0) return Step::kMore;
    if (stopping_.load(std::memory_order_acquire)) return Step::kDone;
    mm_->io().Wait(seen);
    return Step::kMore;
  }
  void wake() override {
    stopping_.store(true, std::memory_order_release);
    mm_->io().Kick();
  }

 private:
  MmContext* const mm_;
  std::atomic<bool> stopping_{false};
};

class FsBackgroundRole : public Role {
 public:
  FsBackgroundRole(MmContext* mm, RoleId id) : mm_(mm), id_(id) {}
  RoleId id() const override { return id_; }
  int64_t pace_ns() const override { return kFsBackgroundPauseNs; }
  Step step() override {
    mm_->a_ops().background_step();
    return Step::kMore;
  }

 private:
  MmContext* const mm_;
  const RoleId id_;
};

}  // namespace

std::unique_ptr<Role> MakeWritebackRole(MmContext* mm) {
  return std::make_unique<WritebackRole>(mm);
}
std::unique_ptr<Role> MakeIoRole(MmContext* mm) { return std::make_unique<IoRole>(mm); }
std::unique_ptr<Role> MakeFsBackgroundRole(MmContext* mm) {
  const char* role = mm->a_ops().background_role();
  if (!role) return nullptr;
  auto id = ParseRole(role);
  if (!id.ok()) {
    fprintf(stderr, "pagerace: harness bug: adapter %s names background role '%s': %s\n",
            mm->a_ops().name(), role, std::string(id.status().message()).c_str());
    abort();
  }
  return std::make_unique<FsBackgroundRole>(mm, *id);
}

}  // namespace pagerace
