#include "eval/scorer.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "model/visual_profile.h"

namespace vasgd {

Embeddings EmbeddingsOf(const ModelVersion& m) {
  Embeddings e;
  e.dim = m.dim;
  e.num_users = static_cast<int32_t>(m.user_ids.size());
  e.num_products = static_cast<int32_t>(m.product_ids.size());
  e.users = m.user_vectors;
  e.products = m.product_vectors;
  e.has_product.resize(m.product_kind.size());
  for (size_t p = 0; p < m.product_kind.size(); ++p)
    e.has_product[p] = m.product_kind[p] != static_cast<uint8_t>(ProductKind::kNone);
  return e;
}

bool ParseScoreKind(const char* name, ScoreKind* kind) {
  if (std::strcmp(name, "dot") == 0) {
    *kind = ScoreKind::kDot;
    return true;
  }
  if (std::strcmp(name, "cosine") == 0) {
    *kind = ScoreKind::kCosine;
    return true;
  }
  return false;
}

const char* ScoreKindName(ScoreKind kind) { return kind == ScoreKind::kDot ? "dot" : "cosine"; }

std::vector<float> NormalizedRows(const float* values, int64_t rows, int32_t dim) {
  std::vector<float> out(values, values + rows * dim);
  for (int64_t r = 0; r < rows; ++r) {
    float* v = out.data() + r * dim;
    double norm2 = 0;
    for (int32_t d = 0; d < dim; ++d) norm2 += static_cast<double>(v[d]) * v[d];
    if (norm2 <= 0) continue;
    const float inv = static_cast<float>(1.0 / std::sqrt(norm2));
    for (int32_t d = 0; d < dim; ++d) v[d] *= inv;
  }
  return out;
}

namespace {

class EmbeddingScorer : public Scorer {
 public:
  EmbeddingScorer(const Embeddings& e, ScoreKind kind, std::vector<float> bias)
      : dim_(e.dim), num_users_(e.num_users), num_products_(e.num_products), bias_(std::move(bias)) {
    users_ = kind == ScoreKind::kCosine ? NormalizedRows(e.users.data(), e.num_users, e.dim) : e.users;
    const std::vector<float> products =
        kind == ScoreKind::kCosine ? NormalizedRows(e.products.data(), e.num_products, e.dim) : e.products;
    // Transposed (dim × products) so that one user's row is dim contiguous axpy passes.
    products_t_.assign(static_cast<size_t>(dim_) * num_products_, 0.f);
    for (int32_t p = 0; p < num_products_; ++p) {
      for (int32_t d = 0; d < dim_; ++d) {
        products_t_[static_cast<size_t>(d) * num_products_ + p] = products[static_cast<size_t>(p) * dim_ + d];
      }
    }
    for (int32_t p = 0; p < num_products_; ++p) {
      if (!e.HasProduct(p)) missing_.push_back(p);
    }
    cold_ = e.cold_profiles;
    if (cold_.weight > 0 && kind == ScoreKind::kDot) {
      user_norms_ = RowNorms(e.users.data(), e.num_users, e.dim);
      for (int32_t p : cold_.products) cold_norms_.push_back(RowNorms(e.product(p), 1, e.dim)[0]);
    }
  }

  int32_t num_products() const override { return num_products_; }

  void Score(const int32_t* users, int32_t n, float* out) const override {
    const int32_t np = num_products_;
    for (int32_t k = 0; k < n; ++k) {
      float* row = out + static_cast<int64_t>(k) * np;
      if (bias_.empty()) std::memset(row, 0, sizeof(float) * np);
      else std::memcpy(row, bias_.data(), sizeof(float) * np);
      const int32_t u = users[k];
      if (u < 0 || u >= num_users_) {
        for (int32_t p : missing_) row[p] = -std::numeric_limits<float>::infinity();
        continue;
      }
      const float* x = users_.data() + static_cast<int64_t>(u) * dim_;
      for (int32_t d = 0; d < dim_; ++d) {
        const float a = x[d];
        if (a == 0.f) continue;
        const float* col = products_t_.data() + static_cast<int64_t>(d) * np;
        for (int32_t p = 0; p < np; ++p) row[p] += a * col[p];
      }
      BlendCold(u, row);
      for (int32_t p : missing_) row[p] = -std::numeric_limits<float>::infinity();
    }
  }

 private:
  int32_t dim_;
  int32_t num_users_;
  int32_t num_products_;
  std::vector<float> users_;
  std::vector<float> products_t_;
  std::vector<float> bias_;
  std::vector<int32_t> missing_;
  ColdProfiles cold_;
  std::vector<float> user_norms_, cold_norms_;  // dot models only: the blend's scale

  static std::vector<float> RowNorms(const float* rows, int64_t n, int32_t dim) {
    std::vector<float> norms(n);
    for (int64_t i = 0; i < n; ++i) {
      double s = 0;
      for (int32_t d = 0; d < dim; ++d) s += static_cast<double>(rows[i * dim + d]) * rows[i * dim + d];
      norms[i] = static_cast<float>(std::sqrt(s));
    }
    return norms;
  }

  void BlendCold(int32_t u, float* row) const {
    if (cold_.weight <= 0 || cold_.products.empty()) return;
    const float* profile = cold_.users.data() + static_cast<int64_t>(u) * cold_.dim;
    if (std::all_of(profile, profile + cold_.dim, [](float v) { return v == 0.f; })) return;
    thread_local std::vector<float> terms;  // Score() runs on several threads
    terms.resize(cold_.products.size());
    CentredProfileTerms(profile, cold_.product_z.data(), static_cast<int64_t>(terms.size()), cold_.dim,
                        cold_.weight, terms.data());
    for (size_t i = 0; i < terms.size(); ++i) {
      const float scale = user_norms_.empty() ? 1.f : user_norms_[u] * cold_norms_[i];
      row[cold_.products[i]] += scale * terms[i];
    }
  }
};

}  // namespace

std::unique_ptr<Scorer> MakeEmbeddingScorer(const Embeddings& embeddings, ScoreKind kind,
                                            std::vector<float> product_bias) {
  return std::make_unique<EmbeddingScorer>(embeddings, kind, std::move(product_bias));
}

}  // namespace vasgd
