// Regression tests for issue 13: the get_user_pages race (Jan Kara,
// linux-mm, January 2018), played step by step, each step on the thread of
// the role that takes it in the kernel, in an explicit order (no sleeps, no
// timing: each step runs to completion before the next starts).
//
//   1. (setup) page 0 of a file mapped shared, not yet cached.
//   2. gup0: get_user_pages(FOLL_WRITE) faults page 0 in with write access:
//      ->page_mkwrite attaches the fs metadata (buffers, an NFS request), the
//      page is dirty and its pte writable; the reference (or pin) is taken.
//   3. writeback: write_cache_pages cleans the page (page_mkclean,
//      clear_page_dirty_for_io, ->writepage), the I/O completes and NFS's
//      COMMIT retires the request.
//   4. reclaim (the "reclaim" variant only): shrink_page finds the page
//      clean and releases its buffers (try_to_release_page); the page stays
//      cached, held by the reference.
//   5. gup0: the device writes a stamp into the page (not through a pte).
//   6. gup0: set_page_dirty_lock: the page is dirty again with no
//      ->page_mkwrite having run; the pin is dropped.
//   7. writeback: 5.15 ext4 finds no buffers, warns and drops the dirty bit;
//      NFS has no request and sends nothing.  The stamp is lost.
//
// How the loss is detected: I3 (->writepage entered on a dirty page without
// metadata whose bytes the store lacks; not data-losing by itself), then
// after the final sync the data ledger (the device's stamp is not on the
// store: data-losing).  The root
// cause names the GUP window and writeback as its intruder.
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "fs_adapters/buffer.h"
#include "harness/check/invariants.h"
#include "harness/check/root_cause.h"
#include "harness/core/config.h"
#include "harness/core/machine.h"
#include "harness/mm/filemap.h"
#include "harness/mm/gup.h"
#include "harness/mm/writeback.h"
#include "test_machine.h"

namespace pagerace {
namespace {

// A registered thread that runs the steps handed to it, one at a time;
// Run returns once the step is done.  Steps of different threads therefore
// never overlap: the test's order is the schedule.
class StepThread {
 public:
  explicit StepThread(std::string role)
      : thread_([this, role] {
          TestThread t(role);
          std::unique_lock<std::mutex> l(mu_);
          for (;;) {
            cv_.wait(l, [this] { return step_ != nullptr || quit_; });
            if (quit_) return;
            std::function<void()> step = std::move(step_);
            step_ = nullptr;
            l.unlock();
            step();
            l.lock();
            done_ = true;
            cv_.notify_all();
          }
        }) {}
  ~StepThread() {
    {
      std::lock_guard<std::mutex> l(mu_);
      quit_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void Run(std::function<void()> step) {
    std::unique_lock<std::mutex> l(mu_);
    done_ = false;
    step_ = std::move(step);
    cv_.notify_all();
    cv_.wait(l, [this] { return done_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::function<void()> step_;
  bool done_ = false;
  bool quit_ = false;
  std::thread thread_;
};

struct Kara {
  std::unique_ptr<Machine> machine;
  Machine& m() { return *machine; }
  MmContext& mm() { return machine->mm(); }

  Kara(const char* scheme, const char* fs, GupMode mode, PinWriteback pw) {
    sched::Reset();
    RunConfig c;
    c.scheme = &Scheme(scheme);
    c.fs = &Adapter(fs);
    c.workload = &Workload("dio");
    c.threads = 1;
    c.pwriters = 0;
    c.pages = 4;
    c.gup = mode;
    c.pin_writeback = pw;
    machine = Machine::Create(c).value();
  }
  ~Kara() { sched::Reset(); }

  void writeback() {
    WritebackControl wbc;
    write_cache_pages(mm(), wbc);
    mm().io().Drain();
    mm().a_ops().commit();
  }
};

struct Result {
  bool pinned = false;        // step 2 took the page
  bool refused = false;       // FOLL_LONGTERM refused
  bool buffers_released = false;
  uint64_t i3_unsent = 0;
  int ledger_lost = 0;
  bool stamp_persisted = false;
  bool gup_cause = false;  // a report's root cause is the GUP window, entered by writeback
};

// Plays the seven steps; `reclaim` adds step 4.
Result Play(Kara& k, bool reclaim) {
  Result r;
  uint64_t seq = 0;
  GupIo io;
  {
    StepThread gup("gup0"), wb("writeback"), rc("reclaim");
    gup.Run([&] { r.pinned = k.m().workload().GupPin(0, 0, 0, &io); });
    if (!r.pinned) return r;
    wb.Run([&] { k.writeback(); });
    if (reclaim) {
      rc.Run([&] {
        const bool had = PagePrivate(io.page);
        shrink_page(k.mm(), 0);
        r.buffers_released = had && !PagePrivate(io.page);
      });
    }
    gup.Run([&] { k.m().workload().GupDeviceWrite(0, io, &seq); });
    gup.Run([&] { k.m().workload().GupComplete(&io); });
    wb.Run([&] { k.writeback(); });
    wb.Run([&] {
      sync_mapping(k.mm(), /*drain=*/true);
      k.m().FinalChecks();
    });
  }
  for (const RaceGroup& g : k.mm().oracle().Groups()) {
    if (g.first.kind == RaceKind::kWritepageWithoutMetadata &&
        std::string(g.first.detail) == kI3Unsent) {
      r.i3_unsent += g.count;
    }
  }
  r.ledger_lost = static_cast<int>(k.mm().oracle().count(RaceKind::kLostWrite));
  r.stamp_persisted = k.m().adapter().store().ReadSlot(0, 0) == Ledger::Stamp(0, seq);
  for (const CauseTracker::CauseCount& c : k.mm().causes().Causes()) {
    if (RootCause::Unpack(c.cause).Id() == "get_user_pages/gup_pin_to_set_page_dirty_lock/writeback") {
      r.gup_cause = true;
    }
  }
  return r;
}

std::string Reports(Kara& k) {
  std::string out;
  for (const RaceGroup& g : k.mm().oracle().Groups()) {
    out += std::string("\n  ") + RaceKindName(g.first.kind) + " " + InvariantName(g.first.invariant);
  }
  return out;
}

// 5.15 (`modern`), buffer (5.15 ext4): writeback cleans the pinned page,
// reclaim releases its buffers, set_page_dirty_lock dirties a page without
// buffers, ext4_writepage warns and drops it.
TEST(GupRaceTest, ModernBufferLosesTheDevicesData) {
  for (GupMode mode : {GupMode::kGet, GupMode::kPin}) {
    Kara k("modern", "buffer", mode, PinWriteback::kNone);
    Result r = Play(k, /*reclaim=*/true);
    SCOPED_TRACE(GupModeName(mode));
    ASSERT_TRUE(r.pinned);
    EXPECT_TRUE(r.buffers_released) << "reclaim must release the clean page's buffers";
    EXPECT_GE(r.i3_unsent, 1u) << Reports(k);
    EXPECT_GE(r.ledger_lost, 1);
    EXPECT_FALSE(r.stamp_persisted);
    EXPECT_TRUE(r.gup_cause) << Reports(k);
    EXPECT_EQ(static_cast<BufferAdapter&>(k.m().adapter()).ext4_pages_without_buffers(), 1u);
  }
}

// The same steps without reclaim: the buffers stay attached, and
// set_page_dirty_lock (__set_page_dirty_buffers) dirties them again, so
// buffer loses nothing.  This is the control for the test above.
TEST(GupRaceTest, ModernBufferWithoutReclaimKeepsItsBuffers) {
  Kara k("modern", "buffer", GupMode::kPin, PinWriteback::kNone);
  Result r = Play(k, /*reclaim=*/false);
  ASSERT_TRUE(r.pinned);
  EXPECT_EQ(k.mm().oracle().total(), 0u) << Reports(k);
  EXPECT_TRUE(r.stamp_persisted);
}

// v2.6.29/30 (`legacy`, `locked`): the buffer adapter's ->writepage is
// block_write_full_page, which gives a dirty page without buffers new ones
// (create_empty_buffers) and finds its blocks with get_block: ->page_mkwrite
// allocated them in step 2, so the stamp is written.  The issue expected a
// loss here; the v2.6.30 source says otherwise (fs_adapters/FIDELITY.md).
// NFS, with no request for the page, loses it in every era.
TEST(GupRaceTest, OlderErasLoseOnNfsNotOnBlockWriteFullPage) {
  for (const char* scheme : {"legacy", "locked"}) {
    SCOPED_TRACE(scheme);
    {
      Kara k(scheme, "buffer", GupMode::kGet, PinWriteback::kNone);
      Result r = Play(k, /*reclaim=*/true);
      ASSERT_TRUE(r.pinned);
      EXPECT_TRUE(r.buffers_released);
      EXPECT_EQ(r.i3_unsent, 0u) << Reports(k);
      EXPECT_EQ(r.ledger_lost, 0);
      EXPECT_TRUE(r.stamp_persisted);
    }
    {
      Kara k(scheme, "nfs", GupMode::kGet, PinWriteback::kNone);
      Result r = Play(k, /*reclaim=*/false);
      ASSERT_TRUE(r.pinned);
      EXPECT_GE(r.i3_unsent, 1u) << Reports(k);
      EXPECT_GE(r.ledger_lost, 1);
      EXPECT_FALSE(r.stamp_persisted);
      EXPECT_TRUE(r.gup_cause) << Reports(k);
    }
  }
}

TEST(GupRaceTest, ModernNfsLosesTheDevicesData) {
  Kara k("modern", "nfs", GupMode::kPin, PinWriteback::kNone);
  Result r = Play(k, /*reclaim=*/false);
  ASSERT_TRUE(r.pinned);
  EXPECT_GE(r.i3_unsent, 1u) << Reports(k);
  EXPECT_GE(r.ledger_lost, 1);
  EXPECT_FALSE(r.stamp_persisted);
  EXPECT_TRUE(r.gup_cause);
}

// ceph: 5.15's ceph_set_page_dirty BUGs on a newly dirty page when no writer
// holds an Fw cap reference (BUG_ON(ci->i_wr_ref == 0)); set_page_dirty_lock
// after writeback cleaned the pinned page holds none.  The v2.6.34 model
// (`locked`) has no such check: the page gets the head snap context and is
// written.  Pin-aware writeback leaves the page dirty, so nothing BUGs.
TEST(GupRaceTest, ModernCephBugsOnADirtyWithoutFwReference) {
  auto bugs = [](Kara& k) {
    uint64_t n = 0;
    for (const RaceGroup& g : k.mm().oracle().Groups()) {
      if (g.first.kind == RaceKind::kKernelBug &&
          std::string(g.first.detail).find("BUG_ON(ci->i_wr_ref == 0)") != std::string::npos) {
        n += g.count;
      }
    }
    return n;
  };
  {
    Kara k("modern", "ceph", GupMode::kPin, PinWriteback::kNone);
    Result r = Play(k, /*reclaim=*/false);
    ASSERT_TRUE(r.pinned);
    EXPECT_EQ(bugs(k), 1u) << Reports(k);
    EXPECT_TRUE(r.gup_cause) << Reports(k);
  }
  {
    Kara k("locked", "ceph", GupMode::kGet, PinWriteback::kNone);
    Result r = Play(k, /*reclaim=*/false);
    ASSERT_TRUE(r.pinned);
    EXPECT_EQ(k.mm().oracle().total(), 0u) << Reports(k);
    EXPECT_TRUE(r.stamp_persisted);
  }
  {
    Kara k("modern", "ceph", GupMode::kPin, PinWriteback::kSkip);
    Result r = Play(k, /*reclaim=*/false);
    ASSERT_TRUE(r.pinned);
    EXPECT_EQ(k.mm().oracle().total(), 0u) << Reports(k);
    EXPECT_TRUE(r.stamp_persisted);
  }
}

// v6.4 (d824ec2a1546): reclaim keeps a pinned page's buffers, which closes
// the reclaim variant on buffer; writeback still cleans the pinned page, so
// NFS (the writeback-only variant) still loses.
TEST(GupRaceTest, V64ClosesTheReclaimVariantOnly) {
  {
    Kara k("modern", "buffer", GupMode::kPin, PinWriteback::kV6_4);
    Result r = Play(k, /*reclaim=*/true);
    ASSERT_TRUE(r.pinned);
    EXPECT_FALSE(r.buffers_released);
    EXPECT_EQ(k.mm().oracle().total(), 0u) << Reports(k);
    EXPECT_TRUE(r.stamp_persisted);
  }
  {
    Kara k("modern", "nfs", GupMode::kPin, PinWriteback::kV6_4);
    Result r = Play(k, /*reclaim=*/false);
    ASSERT_TRUE(r.pinned);
    EXPECT_GE(r.i3_unsent, 1u) << Reports(k);
    EXPECT_FALSE(r.stamp_persisted);
  }
  {
    // FOLL_GET: page_maybe_dma_pinned is false, v6.4's check cannot see it.
    Kara k("modern", "buffer", GupMode::kGet, PinWriteback::kV6_4);
    Result r = Play(k, /*reclaim=*/true);
    EXPECT_TRUE(r.buffers_released);
    EXPECT_GE(r.i3_unsent, 1u) << Reports(k);
  }
}

// The proposed pin-aware writeback: the pinned page is never cleaned, so
// both variants are clean on both filesystems -- with FOLL_PIN only.
TEST(GupRaceTest, PinAwareWritebackClosesBothVariants) {
  for (PinWriteback pw : {PinWriteback::kSkip, PinWriteback::kBounce}) {
    for (const char* fs : {"buffer", "nfs"}) {
      for (bool reclaim : {false, true}) {
        SCOPED_TRACE(std::string(PinWritebackName(pw)) + " " + fs + (reclaim ? " reclaim" : ""));
        Kara k("modern", fs, GupMode::kPin, pw);
        Result r = Play(k, reclaim);
        ASSERT_TRUE(r.pinned);
        EXPECT_EQ(k.mm().oracle().total(), 0u) << Reports(k);
        EXPECT_TRUE(r.stamp_persisted);
      }
    }
    Kara k("modern", "nfs", GupMode::kGet, pw);
    Result r = Play(k, /*reclaim=*/false);
    EXPECT_GE(r.i3_unsent, 1u) << PinWritebackName(pw) << " cannot see a FOLL_GET reference";
  }
}

// v6.5: a FOLL_LONGTERM write pin on a file mapping that needs dirty
// tracking is refused before any fault; counted per refusal, said once.
TEST(GupRaceTest, LongtermIsRefusedAndSaidOnce) {
  Kara k("modern", "buffer", GupMode::kLongterm, PinWriteback::kNone);
  {
    StepThread gup("gup0");
    gup.Run([&] {
      TestThread counted("gup1");
      for (int i = 0; i < 5; ++i) {
        GupIo io;
        EXPECT_FALSE(k.m().workload().GupPin(0, 0, 0, &io));
      }
      EXPECT_EQ(counted.count(Stat::kGupRefused), 5u);
      EXPECT_EQ(counted.count(Stat::kFaults), 0u);
    });
  }
  EXPECT_EQ(k.mm().mapping().find_get_page(0), nullptr) << "refused before any fault";
  const std::vector<std::string> notes = GupNotes(k.m().config(), 5);
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("refused, as v6.5 does"), std::string::npos) << notes[0];
  EXPECT_NE(notes[0].find("5 refused"), std::string::npos) << notes[0];
}

TEST(GupConfigTest, BadInputIsOneLineNamingTheFlag) {
  RawFlags raw;
  raw.workload = "dio";
  raw.gup = "sometimes";
  auto c = ParseConfig(raw);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("--gup=sometimes"), absl::string_view::npos);
  raw.gup = "pin";
  raw.scheme = "legacy";
  c = ParseConfig(raw);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("v5.6"), absl::string_view::npos);
  raw = RawFlags();
  raw.workload = "mixed";
  raw.gup = "get";
  EXPECT_FALSE(ParseConfig(raw).ok());
  raw = RawFlags();
  raw.workload = "dio";
  raw.scheme = "modern";
  raw.pin_writeback = "later";
  c = ParseConfig(raw);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("--pin-writeback=later"), absl::string_view::npos);
  raw.pin_writeback = "skip";
  c = ParseConfig(raw);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->gup, GupMode::kPin) << "5.15's era default is pin_user_pages";
  raw.scheme = "locked";
  raw.pin_writeback = "";
  c = ParseConfig(raw);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->gup, GupMode::kGet) << "v2.6.30 has get_user_pages only";
}

}  // namespace
}  // namespace pagerace
