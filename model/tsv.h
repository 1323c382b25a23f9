// Interactions as tab-separated text: a header line, then `user<TAB>item[<TAB>weight]` per line,
// ids taken as opaque strings. The line parser is usable on its own, one line at a time (the bulk
// importer streams large files through it); the loader builds the trainer's TrainingData.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "model/dataset.h"

namespace vasgd {

// One parsed line; the views point into the line given to ParseInteractionLine.
struct Interaction {
  std::string_view user;
  std::string_view item;
  float weight = 1.0f;
};

// Parses one data line (a trailing '\r' or '\n' is ignored). Errors are InvalidArgument with a
// message that starts with a stable reason word: `missing_field` (fewer than 2 columns or an empty
// id), `too_many_fields`, `id_too_long` (more than max_id_bytes), `bad_weight` (not a finite
// number > 0).
Status ParseInteractionLine(std::string_view line, Interaction* out, int max_id_bytes = 256);

// What a pass over a file saw. Rejected lines are skipped (the rest is kept), counted, and the
// first few reasons kept with their line numbers (1-based, the header is line 1).
struct TsvReadStats {
  int64_t lines = 0;      // data lines, header and blank lines excluded
  int64_t accepted = 0;
  int64_t rejected = 0;
  std::vector<std::string> first_errors;  // "line 17: bad_weight: ..." (at most 10)
};

// Streams `path`: skips the header line, parses every other non-blank line and calls `on_row`
// for each valid one. A non-OK Status from `on_row` stops the pass and is returned. IoError when
// the file cannot be read. `stats` may be null.
Status ForEachInteraction(const std::string& path,
                          const std::function<Status(const Interaction&)>& on_row,
                          TsvReadStats* stats, int max_id_bytes = 256);

// Builds TrainingData from an interactions TSV and, when `features_npy` is non-empty, a feature
// matrix whose row i belongs to product id "i" (decimal). With features, products "0".."n-1" get
// dense ids 0..n-1 (warm or cold); products only seen in the TSV follow without features. Users
// and remaining products are numbered in order of first appearance. A repeated (user, item) pair
// becomes one edge with the summed weight; rows are taken in time order (an edge's sequence is
// its last row's position). Bad lines are skipped and reported in `stats`.
Result<TrainingData> LoadTrainingData(const std::string& interactions_tsv,
                                      const std::string& features_npy, TsvReadStats* stats = nullptr,
                                      int max_id_bytes = 256);

// Builds the CSR graph from (user, product, weight) triples over dense ids; duplicates summed.
// The triples are taken as given in time order: an edge's sequence is its last triple's index.
InteractionGraph BuildInteractionGraph(int32_t num_users, int32_t num_products,
                                       const std::vector<int32_t>& users,
                                       const std::vector<int32_t>& products,
                                       const std::vector<float>& weights);

}  // namespace vasgd
