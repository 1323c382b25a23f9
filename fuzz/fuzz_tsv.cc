// Fuzz harness: the interactions TSV reader (model/tsv.h) behind `vasgd import --interactions`
// and `vasgd train --interactions`: the line parser alone, the streaming reader and the loader
// that builds the trainer's graph. Invariants: accepted rows have non-empty ids within the limit
// and a finite weight > 0; the reader's counts add up; the graph is consistent with its rows.
#include <cmath>
#include <cstdint>
#include <string_view>

#include "fuzz/fuzz_check.h"
#include "fuzz/memfd_file.h"
#include "model/tsv.h"

namespace {

constexpr int kMaxIdBytes = 32;

void CheckRow(const vasgd::Interaction& row) {
  FUZZ_CHECK(!row.user.empty() && !row.item.empty(), "ids present");
  FUZZ_CHECK(row.user.size() <= kMaxIdBytes && row.item.size() <= kMaxIdBytes, "ids within the limit");
  FUZZ_CHECK(std::isfinite(row.weight) && row.weight > 0, "weight finite and positive");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  // Every line through the line parser on its own.
  for (size_t start = 0; start <= text.size();) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    vasgd::Interaction row;
    if (vasgd::ParseInteractionLine(text.substr(start, end - start), &row, kMaxIdBytes).ok()) CheckRow(row);
    start = end + 1;
  }

  MemFile file(data, size);
  if (!file.ok()) return 0;
  vasgd::TsvReadStats stats;
  int64_t rows = 0;
  vasgd::Status s = vasgd::ForEachInteraction(
      file.path(),
      [&](const vasgd::Interaction& row) {
        CheckRow(row);
        ++rows;
        return vasgd::Status::Ok();
      },
      &stats, kMaxIdBytes);
  FUZZ_CHECK(s.ok(), s.ToString().c_str());
  FUZZ_CHECK(stats.accepted == rows, "accepted rows were all passed on");
  FUZZ_CHECK(stats.accepted + stats.rejected == stats.lines, "every data line accepted or rejected");
  FUZZ_CHECK(stats.first_errors.size() <= 10 && stats.first_errors.size() <= static_cast<size_t>(stats.rejected),
             "first errors kept");

  vasgd::Result<vasgd::TrainingData> d = vasgd::LoadTrainingData(file.path(), "", nullptr, kMaxIdBytes);
  FUZZ_CHECK(d.ok(), d.status().ToString().c_str());
  const vasgd::InteractionGraph& g = d->graph;
  FUZZ_CHECK(static_cast<int64_t>(d->user_ids.size()) == g.num_users, "a name per user");
  FUZZ_CHECK(static_cast<int64_t>(d->product_ids.size()) == g.num_products, "a name per product");
  FUZZ_CHECK(g.num_edges() <= rows, "no more edges than accepted rows");
  FUZZ_CHECK((rows == 0) == (g.num_edges() == 0), "edges iff rows");
  return 0;
}
