// Race signatures (DESIGN §8): duplicate reports are counted, not repeated.
//
// Two reports share a signature when their kind, invariant and data_losing
// are equal and so are the names of the page's last kSignatureEvents events
// (fewer when the trace is shorter).  Times, threads and page numbers differ
// from one instance of a race to the next and are left out.
//
// This is the only definition: the Oracle groups reports by it, the result
// JSON writes it into every race ("signature", "signature_events") and
// scripts/reports merges runs by that field.  The hash is computed over the
// names, not the enum values, so it stays the same when a table grows.
//
// Thread-safety: pure functions; RaceSignatureHash is allocation-free
// (the oracle calls it from the SIGSEGV handler).
#ifndef PAGERACE_HARNESS_CHECK_RACE_SIGNATURE_H_
#define PAGERACE_HARNESS_CHECK_RACE_SIGNATURE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "harness/check/oracle.h"
#include "harness/check/race_kind.h"
#include "harness/check/trace.h"

namespace pagerace {

// How many of the page's last events a signature covers.
inline constexpr int kSignatureEvents = 6;

// The signature of a report whose page trace is trace[0..n) (oldest first).
// Allocation-free.
uint64_t RaceSignatureHash(RaceKind kind, Invariant invariant, bool data_losing,
                           const TraceEntry* trace, int n, const char* variant = "");
// The part of a report's detail that tells two reports of one kind apart:
// I2's "writable:" or "read-only:", I3's whether the page holds bytes the
// store lacks (invariants.cc); "" for every other kind (their details carry
// numbers and names that would split one race into many).
const char* SignatureVariant(RaceKind kind, const char* detail);

struct RaceSignature {
  uint64_t hash = 0;
  std::string hex;            // hash as 16 lower-case hex digits: the JSON field
  std::vector<Event> events;  // the events it covers, oldest first
};
RaceSignature SignatureOf(const RaceRecord& r);

}  // namespace pagerace

#endif  // PAGERACE_HARNESS_CHECK_RACE_SIGNATURE_H_
