// Bulk import into the graph store through the same validation and applier as Kafka and HTTP:
// `.npy` product features (row i -> product "i"), TSV interactions (`user<TAB>item[<TAB>weight]`
// after a header line) and JSON Lines events. Large batches, one durable write per batch.
// Bad rows are skipped, counted by reason and reported; they never stop the import.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"
#include "stream/event_applier.h"

namespace vasgd {

struct ImportOptions {
  size_t batch_events = 65536;            // events per store write batch
  int64_t max_message_bytes = 4 << 20;    // JSON Lines: longer lines are message_too_large
};

struct ImportReport {
  int64_t rows = 0;       // data rows/lines/events read (header and blank lines excluded)
  int64_t accepted = 0;   // applied to the store
  int64_t rejected = 0;
  std::map<std::string, int64_t> rejected_by_reason;
  std::vector<std::string> first_errors;  // "line 17: bad_weight: ..." (at most 10)
  double seconds = 0;

  // {"rows":..,"accepted":..,"rejected":..,"rejected_by_reason":{..},"first_errors":[..],
  //  "seconds":..,"rows_per_second":..}
  std::string ToJson() const;
};

// Product features from a 2-D float16/float32 .npy (model/npy.h): row i becomes the product event
// {"product": "i", "features": row}. Import features before interactions and products "0".."n-1"
// get dense ids 0..n-1. IoError/InvalidArgument when the file cannot be read; store errors as is.
Status ImportFeaturesNpy(const std::string& path, EventApplier* applier, const ImportOptions& options,
                         ImportReport* report);

// Purchases from TSV with a header line (model/tsv.h's line parser, then ValidateEvent).
Status ImportInteractionsTsv(const std::string& path, EventApplier* applier, const ImportOptions& options,
                             ImportReport* report);

// Events from JSON Lines (one event per line, parsed like a Kafka message; blank lines skipped).
Status ImportEventsJsonl(const std::string& path, EventApplier* applier, const ImportOptions& options,
                         ImportReport* report);

}  // namespace vasgd
