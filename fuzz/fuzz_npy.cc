// Fuzz harness: the .npy reader (model/npy.h) that `vasgd import --features` and the trainer use
// on product feature files. Invariants: a parsed matrix holds exactly rows × cols values, and the
// file path (ReadFeatureMatrix) agrees with the in-memory parser, marking exactly the rows with
// non-finite values as absent.
#include <cmath>
#include <cstdint>

#include "fuzz/fuzz_check.h"
#include "fuzz/memfd_file.h"
#include "model/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  vasgd::Result<vasgd::NpyMatrix> m = vasgd::ParseNpy(reinterpret_cast<const char*>(data), size);
  if (!m.ok()) {
    FUZZ_CHECK(!m.status().message().empty(), "a refusal says why");
    return 0;
  }
  FUZZ_CHECK(m->rows >= 0 && m->cols >= 0, "non-negative shape");
  FUZZ_CHECK(m->values.size() == static_cast<size_t>(m->rows) * static_cast<size_t>(m->cols), "rows x cols values");

  MemFile file(data, size);
  if (!file.ok()) return 0;
  int64_t non_finite = -1;
  vasgd::Result<vasgd::FeatureMatrix> f = vasgd::ReadFeatureMatrix(file.path(), &non_finite);
  if (!f.ok()) return 0;  // e.g. a shape the feature matrix does not take; ParseNpy decided above
  int64_t expected_bad = 0;
  for (int64_t r = 0; r < m->rows; ++r) {
    bool finite = true;
    for (int64_t c = 0; c < m->cols; ++c) finite = finite && std::isfinite(m->row(r)[c]);
    expected_bad += !finite;
  }
  FUZZ_CHECK(non_finite == expected_bad, "non-finite rows counted");
  return 0;
}
