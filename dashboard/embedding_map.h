// The dashboard's embedding map: product embeddings of one model version projected onto their
// first two principal components, for a bounded sample of products (computed once per version by
// the daemon and cached by the caller; the browser only draws).
//
// The rows are scaled to unit length first: the served "similar" answers rank by cosine, so the
// map shows the geometry those answers see. PCA is by power iteration on the dim × dim covariance
// of the sample (O(n·dim²) for n sampled rows), deterministic for the same input.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace vasgd {

// At most `max_points` rows of products that have an embedding (kind != 0), deterministic:
// cold products (kind 2) first, up to a quarter of the points, then warm ones evenly spaced over
// the rows; ascending row order within each group.
std::vector<int32_t> SampleMapRows(const std::vector<uint8_t>& kind, size_t max_points);

// Rows `rows` of `vectors` (row-major, `dim` floats per row), scaled to unit length, centred and
// projected onto their two principal axes: one (x, y) per row, in order. The axes' signs are fixed
// (each axis' largest-magnitude component positive), so a version always draws the same way.
// Zero rows stay at the centre's projection; fewer than 2 rows or dim < 2 give zeros.
std::vector<std::array<float, 2>> ProjectPca2(const float* vectors, int32_t dim, const std::vector<int32_t>& rows);

}  // namespace vasgd
