// Scorers: how a method ranks products for a user, as plain arrays (no LibTorch), so the ranking
// metrics treat every method alike. A scorer fills a block of rows, one per user, each holding a
// score for every product; higher is better.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "model/model_version.h"

namespace vasgd {

class Scorer {
 public:
  virtual ~Scorer() = default;

  virtual int32_t num_products() const = 0;

  // Writes the scores of users[0..n) against every product: out[k * num_products() + p] is the
  // score of product p for users[k]. Must be safe to call from several threads at once.
  // Users the method knows nothing about get some finite row (e.g. all equal); never an error.
  virtual void Score(const int32_t* users, int32_t n, float* out) const = 0;
};

enum class ScoreKind { kDot, kCosine };

// Parses "dot" / "cosine"; false for anything else.
bool ParseScoreKind(const char* name, ScoreKind* kind);
const char* ScoreKindName(ScoreKind kind);

// model/visual_profile.h's profile term for cold products, precomputed for every user: a cold
// product's score becomes base + β·scale·(cos(profile_u, z(f_p)) − the user's mean over cold
// products). weight 0 = off.
struct ColdProfiles {
  float weight = 0;                // β
  int32_t dim = 0;                 // feature dimension
  std::vector<int32_t> products;   // the cold products that get the blend
  std::vector<float> product_z;    // products.size() × dim: unit-length standardised features
  std::vector<float> users;        // num_users × dim: unit-length visual profiles; a zero row = none
};

// Users and products in one space R^dim, row-major. A method without vectors for some products
// (cold ones it cannot embed) leaves has_product[p] == 0; those products rank last.
struct Embeddings {
  int32_t dim = 0;
  int32_t num_users = 0;
  int32_t num_products = 0;
  std::vector<float> users;            // num_users × dim
  std::vector<float> products;         // num_products × dim
  std::vector<uint8_t> has_product;    // num_products; empty = every product has a vector
  ColdProfiles cold_profiles;          // optional (weight 0 = off)

  const float* user(int32_t u) const { return users.data() + static_cast<int64_t>(u) * dim; }
  const float* product(int32_t p) const { return products.data() + static_cast<int64_t>(p) * dim; }
  bool HasProduct(int32_t p) const { return has_product.empty() || has_product[p] != 0; }
};

// A model version's user and product vectors as a space (products without a vector marked), copied.
Embeddings EmbeddingsOf(const ModelVersion& model);

// score(u, p) = <X_u, X_p> (kDot) or cos(X_u, X_p) (kCosine; a zero vector has cosine 0).
// Products without a vector score -inf; users outside [0, num_users) score 0 (plus the bias).
// Scores are computed as blocked products over a transposed copy of the product table, so a
// row costs dim passes over contiguous memory that the compiler vectorises.
// With embeddings.cold_profiles.weight > 0, cold products get the profile term ColdProfiles describes.
// With `product_bias` (size num_products), score(u, p) gets product_bias[p] added: a per-product
// prior such as β·log(1 + popularity).
std::unique_ptr<Scorer> MakeEmbeddingScorer(const Embeddings& embeddings, ScoreKind kind,
                                            std::vector<float> product_bias = {});

// Returns v / ||v|| row by row (zero rows stay zero).
std::vector<float> NormalizedRows(const float* values, int64_t rows, int32_t dim);

}  // namespace vasgd
