#include "model/visual_profile.h"

#include <algorithm>
#include <cmath>

namespace vasgd {
namespace {

void Standardize(const float* features, const std::vector<float>& mean, const std::vector<float>& scale,
                 int32_t dim, float* out) {
  for (int32_t d = 0; d < dim; ++d) {
    const float centred = features[d] - (mean.empty() ? 0.f : mean[d]);
    out[d] = centred * (scale.empty() ? 1.f : scale[d]);
  }
}

// Scales z to unit length; false (z untouched) when it is (nearly) zero.
bool ToUnit(float* z, int32_t dim) {
  double norm2 = 0;
  for (int32_t d = 0; d < dim; ++d) norm2 += static_cast<double>(z[d]) * z[d];
  if (!(norm2 > 1e-12)) return false;
  const float inv = static_cast<float>(1.0 / std::sqrt(norm2));
  for (int32_t d = 0; d < dim; ++d) z[d] *= inv;
  return true;
}

}  // namespace

void UnitStandardizedFeatures(const float* features, const std::vector<float>& mean,
                              const std::vector<float>& scale, int32_t dim, float* out) {
  Standardize(features, mean, scale, dim, out);
  if (!ToUnit(out, dim)) std::fill(out, out + dim, 0.f);
}

VisualProfile::VisualProfile(const std::vector<float>* mean, const std::vector<float>* scale, int32_t dim)
    : mean_(mean), scale_(scale), dim_(dim), sum_(dim, 0.f), scratch_(dim, 0.f) {}

void VisualProfile::Reset(const std::vector<float>* mean, const std::vector<float>* scale, int32_t dim) {
  mean_ = mean;
  scale_ = scale;
  dim_ = dim;
  sum_.assign(dim, 0.f);
  scratch_.resize(dim);
}

void VisualProfile::Clear() { std::fill(sum_.begin(), sum_.end(), 0.f); }

void VisualProfile::Add(const float* features) {
  Standardize(features, *mean_, *scale_, dim_, scratch_.data());
  for (int32_t d = 0; d < dim_; ++d) sum_[d] += scratch_[d];
}

bool VisualProfile::Finish() { return ToUnit(sum_.data(), dim_); }

void CentredProfileTerms(const float* profile, const float* unit_z, int64_t n, int32_t dim, float beta, float* out) {
  double mean = 0;
  for (int64_t i = 0; i < n; ++i) {
    float cosine = 0;
    for (int32_t d = 0; d < dim; ++d) cosine += profile[d] * unit_z[i * dim + d];
    out[i] = cosine;
    mean += cosine;
  }
  if (n > 0) mean /= static_cast<double>(n);
  for (int64_t i = 0; i < n; ++i) out[i] = beta * (out[i] - static_cast<float>(mean));
}

void SetVisualRows(const FeatureMatrix& f, ModelVersion* m) {
  m->visual_dim = 0;
  m->visual.clear();
  if (f.dim <= 0) return;
  const int64_t n = static_cast<int64_t>(f.present.size());
  std::vector<double> sum(f.dim, 0), sq(f.dim, 0);
  int64_t count = 0;
  for (int64_t p = 0; p < n; ++p) {
    if (!f.present[p]) continue;
    ++count;
    for (int32_t d = 0; d < f.dim; ++d) {
      const double x = f.row(static_cast<int32_t>(p))[d];
      sum[d] += x;
      sq[d] += x * x;
    }
  }
  if (count == 0) return;
  m->visual_dim = f.dim;
  m->visual_mean.resize(f.dim);
  m->visual_scale.resize(f.dim);
  for (int32_t d = 0; d < f.dim; ++d) {
    const double mean = sum[d] / count, var = std::max(0.0, sq[d] / count - mean * mean);
    m->visual_mean[d] = static_cast<float>(mean);
    m->visual_scale[d] = var > 1e-12 ? static_cast<float>(1.0 / std::sqrt(var)) : 0.f;
  }
  m->visual.assign(static_cast<size_t>(n) * f.dim, 0.f);
  for (int64_t p = 0; p < n; ++p) {
    if (!f.present[p]) continue;
    float* z = m->visual.data() + p * f.dim;
    const float* x = f.row(static_cast<int32_t>(p));
    double norm2 = 0;
    for (int32_t d = 0; d < f.dim; ++d) {
      z[d] = (x[d] - m->visual_mean[d]) * m->visual_scale[d];
      norm2 += static_cast<double>(z[d]) * z[d];
    }
    const float inv = norm2 > 1e-12 ? static_cast<float>(1.0 / std::sqrt(norm2)) : 0.f;
    for (int32_t d = 0; d < f.dim; ++d) z[d] *= inv;
  }
}

}  // namespace vasgd
