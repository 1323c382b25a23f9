// A trained model version on disk (data_dir/models/<version>/), LibTorch-free so the server
// loads and uses it without LibTorch on the query path: embeddings are plain float arrays and
// the cold-product encoder is a small MLP evaluated in plain C++.
//
// Directory layout (every file listed in manifest.json with its size and CRC-32C):
//   manifest.json        version, trained_at, score, dim, config, data counts, losses, metrics, files
//   users.f32            num_users × dim little-endian float32, row = dense user id
//   products.f32         num_products × dim float32, row = dense product id
//   users.ids, products.ids   one string id per line, in dense-id order
//   product_kind.u8      per product: 0 = no embedding, 1 = warm (trained), 2 = cold (encoder)
//   popularity.f32       per product: summed purchase weight in the training snapshot
//   encoder.bin          the encoder MLP (absent when trained without features)
//   decoder.bin          the stage-1 decoder M⁻¹ (for warm starts only; absent without features)
//   neighbours.bin       item-to-item lists of the walk family (model/neighbour_lists.h; absent = none)
//   ease.bin             item-to-item lists of EASE (absent when the catalogue exceeded its cap)
//   visual.f32           num_products × visual_dim unit standardised features (zero rows = none)
//   visual_norm.f32      the standardisation: visual_dim means, then visual_dim scales
//   further files (the HNSW index) added by their writers with RecordFileChecksum
// A version is written into a staging directory and only renamed into place when complete, so a
// half-written directory is never loaded (the caller renames; see WriteModelVersion).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "model/neighbour_lists.h"

namespace vasgd {

// y = W x + b, W row-major out × in.
struct DenseLayer {
  int32_t in = 0;
  int32_t out = 0;
  std::vector<float> weight;
  std::vector<float> bias;
};

// Feature vector -> embedding: (x - input_mean) * input_scale, then the layers with ReLU between
// them (none after the last). Dropout is a training-time matter and absent here.
struct Mlp {
  std::vector<float> input_mean;   // size input_dim(); empty = 0
  std::vector<float> input_scale;  // size input_dim(); empty = 1
  std::vector<DenseLayer> layers;

  bool empty() const { return layers.empty(); }
  int32_t input_dim() const { return layers.empty() ? 0 : layers.front().in; }
  int32_t output_dim() const { return layers.empty() ? 0 : layers.back().out; }
  // Writes output_dim() floats to `out`. `scratch` is reused between calls (no allocation once warm).
  void Forward(const float* in, float* out, std::vector<float>* scratch) const;
};

enum class ProductKind : uint8_t { kNone = 0, kWarm = 1, kCold = 2 };

struct ModelVersion {
  std::string version;                // directory name, e.g. "20261125T183000Z"
  std::string trained_at;             // ISO 8601 UTC
  std::string score = "cosine";       // user->product score the evaluation chose: "cosine" | "dot"
  float cold_profile_weight = 0;      // β of model/visual_profile.h for cold products; 0 = encoder alone
  int32_t dim = 0;
  std::vector<std::string> user_ids;
  std::vector<std::string> product_ids;
  std::vector<float> user_vectors;     // user_ids.size() × dim
  std::vector<float> product_vectors;  // product_ids.size() × dim
  std::vector<uint8_t> product_kind;   // ProductKind per product
  std::vector<float> popularity;       // summed purchase weight per product
  Mlp encoder;                         // features -> embedding; empty without features
  Mlp decoder;                         // embedding -> standardised features; warm starts only; may be empty
  NeighbourLists neighbour_lists;      // walk family (rp3b | itemknn) over product rows; empty = none
  NeighbourLists ease_lists;           // EASE over product rows; empty = none
  int32_t visual_dim = 0;              // 0 = no features
  std::vector<float> visual;           // product_ids.size() × visual_dim, unit length; zero rows = none
  std::vector<float> visual_mean;      // visual_dim: z = (f − mean) · scale, then unit length
  std::vector<float> visual_scale;     // visual_dim
  std::string manifest_extra_json = "{}";  // object merged into the manifest: config, counts, losses, metrics

  const float* user(int32_t u) const { return user_vectors.data() + static_cast<int64_t>(u) * dim; }
  const float* product(int32_t p) const { return product_vectors.data() + static_cast<int64_t>(p) * dim; }
  const float* visual_row(int32_t p) const { return visual.data() + static_cast<int64_t>(p) * visual_dim; }
};

// Writes every file of `model` into `dir` (created; must not exist) and the manifest last.
Status WriteModelVersion(const std::string& dir, const ModelVersion& model);

// Writes `model` into `dir + ".staging-<pid>"` and renames it to `dir` when complete, so `dir`
// either does not exist or holds a whole version. AlreadyExists when `dir` exists.
Status WriteModelVersionAtomically(const std::string& dir, const ModelVersion& model);

// Reads and verifies a version: every file in the manifest must exist with its size and CRC-32C,
// and the arrays must agree in shape and be finite. Corruption otherwise, naming the file.
Result<ModelVersion> ReadModelVersion(const std::string& dir);

// Adds (or refreshes) `file` (relative to dir) in dir/manifest.json with its size and checksum.
Status RecordFileChecksum(const std::string& dir, const std::string& file);

// Re-checks the checksum of one file listed in the manifest (e.g. the HNSW index before loading).
Status VerifyFileChecksum(const std::string& dir, const std::string& file);

}  // namespace vasgd
