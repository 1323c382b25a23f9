// Small hand-built datasets for the eval tests.
#pragma once

#include <algorithm>
#include <vector>

#include "eval/eval_data.h"
#include "eval/scorer.h"

namespace vasgd::testing {

// CSR graph from (user, product) pairs, weight 1 each.
inline InteractionGraph MakeGraph(int32_t users, int32_t products, std::vector<UserProduct> edges) {
  std::sort(edges.begin(), edges.end(), [](const UserProduct& a, const UserProduct& b) {
    return a.user != b.user ? a.user < b.user : a.product < b.product;
  });
  InteractionGraph g;
  g.num_users = users;
  g.num_products = products;
  g.user_offsets.assign(users + 1, 0);
  for (const UserProduct& e : edges) {
    ++g.user_offsets[e.user + 1];
    g.product_index.push_back(e.product);
    g.weight.push_back(1.f);
  }
  for (int32_t u = 0; u < users; ++u) g.user_offsets[u + 1] += g.user_offsets[u];
  return g;
}

// Scores given as a users × products table.
class TableScorer : public Scorer {
 public:
  TableScorer(int32_t users, int32_t products) : products_(products), table_(static_cast<size_t>(users) * products, 0.f) {}
  float& at(int32_t u, int32_t p) { return table_[static_cast<size_t>(u) * products_ + p]; }
  int32_t num_products() const override { return products_; }
  void Score(const int32_t* users, int32_t n, float* out) const override {
    for (int32_t k = 0; k < n; ++k) {
      std::copy_n(table_.data() + static_cast<size_t>(users[k]) * products_, products_, out + static_cast<size_t>(k) * products_);
    }
  }

 private:
  int32_t products_;
  std::vector<float> table_;
};

}  // namespace vasgd::testing
