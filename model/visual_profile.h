// Cold-start scoring from the user's visual profile (plain C++: shared by the evaluation and
// serving, so both rank cold products by the same formula).
//
// A cold product has no purchases: its vector M(f) comes from the encoder alone, and on TikTok the
// encoder ranked cold candidates below the image features' own cosine (docs/EVALUATION.md,
// "Cold start"). What does rank them is the user's visual profile, the mean of the standardised
// image features z(f) of the products the user bought. A cold product's score becomes
//   score = base + β · scale · (cos(profile_u, z(f_c)) − mean over the cold products c' of cos(profile_u, z(f_c')))
// base  = the model's own score (cosine or dot of X_u and M(f_c)),
// scale = 1 for a cosine model and ‖X_u‖·‖X_c‖ for a dot model (the cosine in the model's units),
// β     = ModelVersion::cold_profile_weight; a user without a profile keeps base.
// Centring on the user's mean reorders cold products among themselves without lifting them all
// above warm ones: a convex blend with the raw cosine did lift them (validation warm AUC 0.806 ->
// 0.786, Recall@20 down) while the centred form kept both (docs/EVALUATION.md).
#pragma once

#include <cstdint>
#include <vector>

#include "model/dataset.h"
#include "model/model_version.h"

namespace vasgd {

// z(f) / ‖z(f)‖ with z(f) = (f − mean) · scale per dimension; empty mean / scale mean 0 / 1 (the
// encoder's input standardisation, Mlp::input_mean / input_scale). A zero z stays zero.
void UnitStandardizedFeatures(const float* features, const std::vector<float>& mean,
                              const std::vector<float>& scale, int32_t dim, float* out);

// Accumulates a user's visual profile from the raw features of the products the user bought.
class VisualProfile {
 public:
  VisualProfile(const std::vector<float>* mean, const std::vector<float>* scale, int32_t dim);

  // Starts a new profile, possibly for another standardisation (buffers are reused).
  void Reset(const std::vector<float>* mean, const std::vector<float>* scale, int32_t dim);
  void Clear();
  void Add(const float* features);  // one bought product's raw features (dim floats)
  // Makes the sum unit-length; false when nothing (or only the mean) was added: no profile.
  bool Finish();
  const float* data() const { return sum_.data(); }

 private:
  const std::vector<float>* mean_;
  const std::vector<float>* scale_;
  int32_t dim_;
  std::vector<float> sum_, scratch_;
};

// Writes out[i] = β · (cos(profile, unit_z[i]) − mean_j cos(profile, unit_z[j])) for the n cold
// products' unit standardised features (n × dim, row-major); `profile` is unit-length (Finish()).
// The caller multiplies by its scale (1 or ‖X_u‖·‖X_c‖) and adds the result to the base score.
void CentredProfileTerms(const float* profile, const float* unit_z, int64_t n, int32_t dim, float beta, float* out);

// Fills model->visual* (the hybrid's visual term, rank/hybrid.h) from a snapshot's features: per
// dimension the mean and 1/std over the products that have features, each row standardised and
// made unit length (zero rows for products without). Leaves visual_dim 0 without features.
void SetVisualRows(const FeatureMatrix& features, ModelVersion* model);

}  // namespace vasgd
