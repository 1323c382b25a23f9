#include "rank/competitors.h"

#include <algorithm>

#include "index/distance.h"

namespace vasgd {

std::vector<uint8_t> WithoutVector(const ModelVersion& m) {
  std::vector<uint8_t> without(m.product_ids.size());
  for (size_t p = 0; p < without.size(); ++p) without[p] = m.product_kind[p] == static_cast<uint8_t>(ProductKind::kNone);
  return without;
}

std::vector<int32_t> EvenSample(const std::vector<int32_t>& labels, int64_t max) {
  const int64_t n = static_cast<int64_t>(labels.size());
  if (n <= max) return labels;
  const int64_t stride = (n + max - 1) / max;
  std::vector<int32_t> out;
  for (int64_t i = 0; i < n; i += stride) out.push_back(labels[i]);
  return out;
}

std::vector<float> RawRows(const ModelVersion& m, const std::vector<int32_t>& labels) {
  std::vector<float> rows(labels.size() * static_cast<size_t>(m.dim));
  for (size_t i = 0; i < labels.size(); ++i)
    std::copy(m.product(labels[i]), m.product(labels[i]) + m.dim, rows.begin() + i * m.dim);
  return rows;
}

std::vector<float> UnitRows(const ModelVersion& m, const std::vector<int32_t>& labels) {
  std::vector<float> unit = RawRows(m, labels);
  for (size_t i = 0; i < labels.size(); ++i) NormalizeInPlace(unit.data() + i * m.dim, m.dim);
  return unit;
}

float CosineWithProduct(const ModelVersion& m, const float* unit_query, int32_t p, std::vector<float>* row) {
  row->assign(m.product(p), m.product(p) + m.dim);
  NormalizeInPlace(row->data(), m.dim);
  return Dot(unit_query, row->data(), m.dim);
}

double AucOfLast(const float* scores, int64_t n) {
  const int64_t competitors = n - 1;
  if (competitors < 1) return 0.5;
  const float target = scores[competitors];
  double below = 0;
  for (int64_t i = 0; i < competitors; ++i) below += scores[i] < target ? 1.0 : (scores[i] == target ? 0.5 : 0.0);
  return below / static_cast<double>(competitors);
}

}  // namespace vasgd
