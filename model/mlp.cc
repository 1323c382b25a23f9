// Mlp::Forward (declared in model/model_version.h): the cold-product encoder in plain C++, so the
// server embeds a new product without LibTorch.
#include <algorithm>

#include "model/model_version.h"

namespace vasgd {

void Mlp::Forward(const float* in, float* out, std::vector<float>* scratch) const {
  if (layers.empty()) return;
  size_t widest = static_cast<size_t>(input_dim());
  for (const DenseLayer& l : layers) widest = std::max(widest, static_cast<size_t>(l.out));
  scratch->resize(2 * widest);
  float* cur = scratch->data();
  float* next = scratch->data() + widest;
  for (int32_t i = 0; i < input_dim(); ++i) {
    const float mean = input_mean.empty() ? 0.0f : input_mean[i];
    const float scale = input_scale.empty() ? 1.0f : input_scale[i];
    cur[i] = (in[i] - mean) * scale;
  }
  for (size_t k = 0; k < layers.size(); ++k) {
    const DenseLayer& l = layers[k];
    const bool last = k + 1 == layers.size();
    float* dst = last ? out : next;
    for (int32_t o = 0; o < l.out; ++o) {
      const float* w = l.weight.data() + static_cast<size_t>(o) * l.in;
      float acc = l.bias[o];
      for (int32_t i = 0; i < l.in; ++i) acc += w[i] * cur[i];
      dst[o] = last ? acc : std::max(acc, 0.0f);
    }
    std::swap(cur, next);
  }
}

}  // namespace vasgd
