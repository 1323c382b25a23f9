#include "dashboard/embedding_map.h"

#include <algorithm>
#include <cmath>

namespace vasgd {
namespace {

constexpr int kPowerIterations = 300;

using Matrix = std::vector<double>;  // dim × dim, row-major

// The unit eigenvector of the largest eigenvalue of the symmetric `c`, by power iteration from a
// fixed start; the sign makes the largest-magnitude component positive.
std::vector<double> TopEigenvector(const Matrix& c, int32_t dim) {
  std::vector<double> v(dim), next(dim);
  for (int32_t i = 0; i < dim; ++i) v[i] = 1.0 + 0.01 * i;  // fixed, not orthogonal to anything in general
  for (int it = 0; it < kPowerIterations; ++it) {
    double norm = 0;
    for (int32_t i = 0; i < dim; ++i) {
      double s = 0;
      for (int32_t j = 0; j < dim; ++j) s += c[static_cast<size_t>(i) * dim + j] * v[j];
      next[i] = s;
      norm += s * s;
    }
    norm = std::sqrt(norm);
    if (norm == 0) return std::vector<double>(dim, 0.0);
    for (int32_t i = 0; i < dim; ++i) v[i] = next[i] / norm;
  }
  const auto largest = std::max_element(v.begin(), v.end(), [](double a, double b) { return std::abs(a) < std::abs(b); });
  if (*largest < 0) {
    for (double& x : v) x = -x;
  }
  return v;
}

}  // namespace

std::vector<int32_t> SampleMapRows(const std::vector<uint8_t>& kind, size_t max_points) {
  std::vector<int32_t> cold, warm;
  for (size_t r = 0; r < kind.size(); ++r) {
    if (kind[r] == 2) cold.push_back(static_cast<int32_t>(r));
    if (kind[r] == 1) warm.push_back(static_cast<int32_t>(r));
  }
  // Evenly spaced picks keep the sample spread over the catalogue.
  auto spread = [](const std::vector<int32_t>& from, size_t n) {
    if (from.size() <= n) return from;
    std::vector<int32_t> out;
    out.reserve(n);
    for (size_t i = 0; i < n; ++i) out.push_back(from[i * from.size() / n]);
    return out;
  };
  std::vector<int32_t> rows = spread(cold, std::min(cold.size(), max_points / 4));
  std::vector<int32_t> warm_rows = spread(warm, max_points - rows.size());
  rows.insert(rows.end(), warm_rows.begin(), warm_rows.end());
  return rows;
}

std::vector<std::array<float, 2>> ProjectPca2(const float* vectors, int32_t dim, const std::vector<int32_t>& rows) {
  std::vector<std::array<float, 2>> out(rows.size(), {0.0f, 0.0f});
  if (rows.size() < 2 || dim < 2) return out;
  const size_t n = rows.size();
  // Unit rows (zero rows stay zero) and their mean.
  std::vector<double> x(n * dim), mean(dim, 0.0);
  for (size_t r = 0; r < n; ++r) {
    const float* row = vectors + static_cast<int64_t>(rows[r]) * dim;
    double norm = 0;
    for (int32_t j = 0; j < dim; ++j) norm += static_cast<double>(row[j]) * row[j];
    norm = std::sqrt(norm);
    for (int32_t j = 0; j < dim; ++j) {
      x[r * dim + j] = norm > 0 ? row[j] / norm : 0.0;
      mean[j] += x[r * dim + j] / static_cast<double>(n);
    }
  }
  for (size_t r = 0; r < n; ++r) {
    for (int32_t j = 0; j < dim; ++j) x[r * dim + j] -= mean[j];
  }
  Matrix c(static_cast<size_t>(dim) * dim, 0.0);
  for (size_t r = 0; r < n; ++r) {
    const double* xr = &x[r * dim];
    for (int32_t i = 0; i < dim; ++i) {
      for (int32_t j = i; j < dim; ++j) c[static_cast<size_t>(i) * dim + j] += xr[i] * xr[j];
    }
  }
  for (int32_t i = 0; i < dim; ++i) {
    for (int32_t j = 0; j < i; ++j) c[static_cast<size_t>(i) * dim + j] = c[static_cast<size_t>(j) * dim + i];
  }
  const std::vector<double> first = TopEigenvector(c, dim);
  // Deflate: remove the first axis' share (λ1 v1 v1ᵀ) and take the top of what remains.
  double lambda = 0;
  for (int32_t i = 0; i < dim; ++i) {
    double s = 0;
    for (int32_t j = 0; j < dim; ++j) s += c[static_cast<size_t>(i) * dim + j] * first[j];
    lambda += first[i] * s;
  }
  for (int32_t i = 0; i < dim; ++i) {
    for (int32_t j = 0; j < dim; ++j) c[static_cast<size_t>(i) * dim + j] -= lambda * first[i] * first[j];
  }
  const std::vector<double> second = TopEigenvector(c, dim);
  for (size_t r = 0; r < n; ++r) {
    double a = 0, b = 0;
    for (int32_t j = 0; j < dim; ++j) {
      a += x[r * dim + j] * first[j];
      b += x[r * dim + j] * second[j];
    }
    out[r] = {static_cast<float>(a), static_cast<float>(b)};
  }
  return out;
}

}  // namespace vasgd
