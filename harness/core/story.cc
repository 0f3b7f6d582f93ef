// The story of one serial run (explore.h: TellStory, FirstDifference,
// ScheduleRun::short_schedule): the total-order log told in kernel terms.
#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "harness/check/race_kind.h"
#include "harness/check/root_cause.h"
#include "harness/check/trace.h"
#include "harness/core/explore.h"

namespace pagerace {
namespace {

// One log entry in the story's words.
std::string Phrase(const LogEntry& e, const StoryVocabulary& v) {
  if (e.report) {
    return absl::StrCat("⇒ ", InvariantName(static_cast<Invariant>(e.invariant)), " ",
                        RaceKindName(static_cast<RaceKind>(e.what)),
                        e.data_losing ? " (data-losing)" : "");
  }
  const auto window = static_cast<FaultWindow>(e.invariant);
  switch (static_cast<Event>(e.what)) {
    case Event::kWindowOpen:
      return absl::StrCat("[window opens: ", FaultWindowText(window), "]");
    case Event::kWindowClose:
      return "[window closes]";
    case Event::kWindowEntered:
      return absl::StrCat("[enters the window ", FaultWindowText(window), "]");
    case Event::kWindowTransition:
      return absl::StrCat("[", FaultWindowText(window), "]");
    case Event::kTlbFlush:
      return "TLB flushed (no CPU can store through the old pte now)";
    case Event::kStaleTlbStore:
      return "the store lands through a stale TLB entry (no fault: the pte is gone, the TLB "
             "not yet flushed)";
    case Event::kGupTake:
      return "get_user_pages takes the page (FOLL_WRITE)";
    case Event::kDeviceWrite:
      return "the device writes into the page (DMA, no pte)";
    case Event::kGupRelease:
      return "the page's reference (pin) is dropped";
    case Event::kFaultWriteWp:
      return absl::StrCat("write fault on a read-only pte: ", v.do_wp_page);
    case Event::kFaultWriteNopage:
      return absl::StrCat("write fault on a missing pte: ", v.do_fault);
    case Event::kFaultRead:
      return "read fault";
    case Event::kPageMkwriteEnter:
      return absl::StrCat("->page_mkwrite (", v.page_mkwrite, ")");
    case Event::kMetadataAttach:
      return absl::StrCat("fs metadata attached: ", v.metadata);
    case Event::kPageMkwriteReturn:
      return "returns, page unlocked";
    case Event::kPageMkwriteReturnLocked:
      return "returns with the page locked";
    case Event::kPageMkwriteFail:
      return "fails (SIGBUS)";
    case Event::kPageMkwriteRetry:
      return "returns VM_FAULT_NOPAGE: the fault is retried";
    case Event::kInvalidatePage:
      return "invalidate_complete_page: the page leaves the page cache";
    case Event::kLaunderPage:
      return "->launder_page: the dirty page is written out under its lock";
    case Event::kInvalidateBusy:
      return "invalidate_complete_page2 gives up: the page is dirty or keeps its private data "
             "(-EBUSY)";
    case Event::kMigratePage:
      return "migrate_page: a new page takes the slot, with the old one's PG_dirty and fs data";
    case Event::kDropBuffers:
      return "drop_buffers: the clean buffers go";
    case Event::kJournalCommitData:
      return "the journal commit writes the page's data buffers by hand (PG_dirty and ptes untouched)";
    case Event::kGrowWithoutPageLock:
      return "i_size grown over the EOF page's tail (no page lock: ext4, a block a page)";
    case Event::kWriteBeginOtherPage:
      return "grab_cache_page_write_begin locked another page at the index (the faulting one "
             "was truncated): WARN_ON(page != locked_page)";
    case Event::kMappingGoneRetry:
      return "page->mapping gone: retry the fault";
    case Event::kPteNotSameRetry:
      return "!pte_same: retry the fault";
    case Event::kPteMkRead:
      return "installs a read-only pte";
    case Event::kSetPageDirty:
      return "set_page_dirty: PG_dirty";
    case Event::kWritepage:
      return "->writepage";
    case Event::kWritepageNoMetadata:
      return absl::StrCat("->writepage sends nothing (no ", v.metadata, ")");
    case Event::kMetadataRetire:
      return absl::StrCat("fs metadata retired: ", v.metadata);
    case Event::kTryToUnmapDirty:
      return "try_to_unmap: pte dirty → set_page_dirty";
    case Event::kLostWrite:
      return "the ledger finds the store gone";
    case Event::kFsyncCall:
      return "fsync(2) called on the dirty page: filemap_fdatawrite sizes nr_to_write";
    default:
      return EventName(static_cast<Event>(e.what));
  }
}

// Adds `phrase` unless it repeats the last one.
void Add(std::vector<std::string>* parts, std::string phrase) {
  if (!parts->empty() && parts->back() == phrase) return;
  parts->push_back(std::move(phrase));
}

// The entries of [begin, end) as "page P: a → b → c; page Q: ...".
std::string Describe(const std::vector<LogEntry>& log, size_t begin, size_t end,
                     const StoryVocabulary& v, bool name_pages) {
  std::string out;
  std::vector<std::string> parts;
  uint64_t page = ~0ull;
  auto flush = [&] {
    if (parts.empty()) return;
    absl::StrAppend(&out, out.empty() ? "" : "; ", name_pages ? absl::StrCat("page ", page, ": ") : "",
                    absl::StrJoin(parts, " → "));
    parts.clear();
  };
  for (size_t i = begin; i < end; ++i) {
    if (log[i].page != page) {
      flush();
      page = log[i].page;
    }
    Add(&parts, Phrase(log[i], v));
  }
  flush();
  return out;
}

// Why thread `t` stopped running at some choice in [from, to): the first
// choice there that picked another thread.
// `in_window`: the thread stopped in a fault after ->page_mkwrite returned
// and before pte_mkwrite (the window the seed's commit closes).
std::string WhySwitched(const ScheduleRun& run, int t, uint32_t from, uint32_t to, bool in_window) {
  for (uint32_t c = from; c < to && c < run.choices.size(); ++c) {
    const sched::SerialChoice& ch = run.choices[c];
    if (ch.pick == t) continue;
    if (ch.current != t) return "";
    if (ch.site == sched::kSiteBlock) return " — blocks";
    if (ch.site == sched::kSiteExit) return " — finishes";
    if (ch.current_can_run) {
      return absl::StrCat(" — preempted at ", sched::SerialSiteName(ch.site), " (step ", c + 1, ")",
                          in_window ? ", inside the seed's window: ->page_mkwrite has returned, "
                                      "the pte is not yet writable"
                                    : "");
    }
    return "";
  }
  return "";
}

bool InWindow(const std::vector<LogEntry>& log, size_t begin, size_t end) {
  bool in = false;
  for (size_t i = begin; i < end; ++i) {
    if (log[i].report) continue;
    switch (static_cast<Event>(log[i].what)) {
      case Event::kPageMkwriteReturn:
      case Event::kPageMkwriteReturnLocked:
        in = true;
        break;
      case Event::kPteMkwrite:
      case Event::kPageMkwriteFail:
      case Event::kMappingGoneRetry:
      case Event::kPteNotSameRetry:
        in = false;
        break;
      default:
        break;
    }
  }
  return in;
}

std::string Ops(const std::vector<ScenarioOp>& ops) {
  std::vector<std::string> out;
  for (const ScenarioOp& op : ops) out.push_back(FormatScenarioOp(op));
  return absl::StrJoin(out, "; ");
}

}  // namespace

std::string ScheduleRun::short_schedule() const {
  size_t n = choices.size();
  while (n > 0) {
    const sched::SerialChoice& c = choices[n - 1];
    if (c.pick != sched::DefaultPick(c.runnable, c.current, c.current_can_run)) break;
    --n;
  }
  return sched::FormatSchedule(std::vector<int>(picks.begin(), picks.begin() + static_cast<long>(n)));
}

std::vector<std::string> TellStory(const Scenario& scenario, const ScheduleRun& run) {
  std::vector<std::string> story;
  const std::vector<LogEntry>& log = run.log;
  bool many_pages = false;
  for (const LogEntry& e : log) many_pages |= e.page != log.front().page;
  if (!scenario.setup.empty()) story.push_back(absl::StrCat("setup: ", Ops(scenario.setup)));
  int number = 0;
  size_t i = 0;
  while (i < log.size() && log[i].phase == LogEntry::kSetup) ++i;
  while (i < log.size() && log[i].phase == LogEntry::kRun) {
    size_t j = i;
    while (j < log.size() && log[j].phase == LogEntry::kRun && log[j].thread == log[i].thread) ++j;
    const int t = log[i].thread;
    std::string who = t >= 0 && static_cast<size_t>(t) < scenario.threads.size()
                          ? RoleName(scenario.threads[static_cast<size_t>(t)].role)
                          : std::string("driver");
    const uint32_t next_step =
        j < log.size() && log[j].phase == LogEntry::kRun ? log[j].step : static_cast<uint32_t>(run.choices.size());
    story.push_back(absl::StrCat(++number, ". ", who, ": ", Describe(log, i, j, run.vocabulary, many_pages),
                                 WhySwitched(run, t, log[j - 1].step, next_step, InWindow(log, i, j))));
    i = j;
  }
  if (i < log.size()) {
    story.push_back(absl::StrCat(++number, ". after the run, sync and final checks: ",
                                 Describe(log, i, log.size(), run.vocabulary, many_pages)));
  }
  if (run.deadlocked) story.push_back(absl::StrCat(++number, ". no thread can run (deadlock)"));
  if (run.log_overflowed) story.push_back(absl::StrCat("(the log holds only the first ", log.size(), " events)"));
  return story;
}

std::string FirstDifference(const ScheduleRun& a, const ScheduleRun& b) {
  if (a.deadlocked != b.deadlocked) return "one run deadlocked, the other did not";
  const size_t nc = std::min(a.choices.size(), b.choices.size());
  for (size_t i = 0; i < nc; ++i) {
    if (!(a.choices[i] == b.choices[i])) {
      return absl::StrCat("choice ", i + 1, " differs (site ", sched::SerialSiteName(a.choices[i].site),
                          " vs ", sched::SerialSiteName(b.choices[i].site), ", runnable ",
                          a.choices[i].runnable, " vs ", b.choices[i].runnable, ")");
    }
  }
  if (a.choices.size() != b.choices.size()) {
    return absl::StrCat(a.choices.size(), " choices vs ", b.choices.size());
  }
  const size_t nl = std::min(a.log.size(), b.log.size());
  StoryVocabulary v = a.vocabulary;
  for (size_t i = 0; i < nl; ++i) {
    if (!(a.log[i] == b.log[i])) {
      return absl::StrCat("log entry ", i + 1, " differs: thread ", a.log[i].thread, " page ",
                          a.log[i].page, " ", Phrase(a.log[i], v), " vs thread ", b.log[i].thread,
                          " page ", b.log[i].page, " ", Phrase(b.log[i], v));
    }
  }
  if (a.log.size() != b.log.size()) {
    return absl::StrCat(a.log.size(), " log entries vs ", b.log.size());
  }
  if (a.races.size() != b.races.size()) {
    return absl::StrCat(a.races.size(), " distinct reports vs ", b.races.size());
  }
  for (size_t i = 0; i < a.races.size(); ++i) {
    const RaceRecord& x = a.races[i].first;
    const RaceRecord& y = b.races[i].first;
    if (x.kind != y.kind || x.invariant != y.invariant || x.data_losing != y.data_losing ||
        x.page != y.page || a.races[i].count != b.races[i].count) {
      return absl::StrCat("report ", i + 1, " differs: ", RaceKindName(x.kind), " vs ",
                          RaceKindName(y.kind));
    }
  }
  return "";
}

}  // namespace pagerace
