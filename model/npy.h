// NumPy .npy files (format versions 1.0, 2.0 and 3.0), as the product feature matrices come:
// 2-D, C order, little-endian float16 (`<f2`) or float32 (`<f4`), read into float32.
// Writing produces version 1.0 `<f4` files that numpy.load reads.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "model/dataset.h"

namespace vasgd {

struct NpyMatrix {
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<float> values;  // rows * cols, row-major

  const float* row(int64_t r) const { return values.data() + r * cols; }
};

// IEEE 754 binary16 -> binary32 (subnormals, infinities and NaN included).
float HalfToFloat(uint16_t half);

// Parses a whole .npy file held in memory. Accepts dtype '<f2', '<f4' (and '|f2'-free
// variants with '=' on little-endian hosts), fortran_order False, a 2-D shape (a 1-D shape
// (n,) is read as n × 1). Anything else is InvalidArgument naming what is wrong; a file
// shorter than its header promises is Corruption. Non-finite values are kept: callers decide.
Result<NpyMatrix> ParseNpy(const char* data, size_t size);

// Reads `path` and parses it; IoError when the file cannot be read.
Result<NpyMatrix> ReadNpy(const std::string& path);

// Writes rows × cols float32 values as a version 1.0 '<f4' C-order .npy file.
Status WriteNpy(const std::string& path, const float* values, int64_t rows, int64_t cols);

// Reads a feature matrix for the trainer: row i of the file gives the features of product "i".
// present[i] = 1 for every row whose values are all finite; a row with NaN/Inf is zeroed, marked
// absent and counted in *non_finite_rows (may be null).
Result<FeatureMatrix> ReadFeatureMatrix(const std::string& path, int64_t* non_finite_rows = nullptr);

}  // namespace vasgd
