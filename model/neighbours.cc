#include "model/neighbours.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <thread>

#include "model/parallel.h"
#include "model/rng.h"

namespace vasgd {
namespace {

struct Entry {
  float weight;
  int32_t id;
};

bool Before(const Entry& a, const Entry& b) { return a.weight > b.weight || (a.weight == b.weight && a.id < b.id); }

// Per worker: a dense accumulator over products and the ids it touched, so a row costs its
// co-purchases, not the catalogue.
struct Accumulator {
  std::vector<float> sum;
  std::vector<int32_t> touched;
  std::vector<Entry> row;
};

// Runs `accumulate(i, acc)` for every product i of o.rows (all when empty; it fills
// acc.sum/acc.touched), turns the touched entries into weights with `weight(i, j, sum)` and keeps
// the top_k positive ones.
NeighbourLists BuildLists(const CoPurchaseGraph& g, const NeighbourBuildOptions& o,
                          const std::function<void(int32_t, Accumulator&)>& accumulate,
                          const std::function<float(int32_t, int32_t, float)>& weight) {
  const int32_t n = g.num_products;
  const int k = std::max(0, o.top_k);
  const bool some = !o.rows.empty();
  const int64_t built = some ? static_cast<int64_t>(o.rows.size()) : n;
  std::vector<int32_t> ids(static_cast<size_t>(built) * k);  // per built row, top_k slots
  std::vector<float> weights(static_cast<size_t>(built) * k);
  std::vector<int32_t> counts(n, 0);
  WorkerPool pool(o.threads);
  std::vector<Accumulator> work(pool.size());
  pool.Run(built, 16, [&](int w, int64_t slot) {
    const int32_t i = some ? o.rows[slot] : static_cast<int32_t>(slot);
    Accumulator& a = work[w];
    if (a.sum.empty()) a.sum.assign(n, 0.0f);
    a.touched.clear();
    accumulate(i, a);
    a.row.clear();
    for (int32_t j : a.touched) {
      const float v = weight(i, j, a.sum[j]);
      a.sum[j] = 0.0f;
      if (j != i && v > 0 && std::isfinite(v)) a.row.push_back({v, j});
    }
    const size_t keep = std::min<size_t>(a.row.size(), k);
    std::partial_sort(a.row.begin(), a.row.begin() + keep, a.row.end(), Before);
    for (size_t r = 0; r < keep; ++r) {
      ids[static_cast<size_t>(slot) * k + r] = a.row[r].id;
      weights[static_cast<size_t>(slot) * k + r] = a.row[r].weight;
    }
    counts[i] = static_cast<int32_t>(keep);
  });
  NeighbourLists out;
  out.num_products = n;
  out.offsets.assign(n + 1, 0);
  for (int32_t i = 0; i < n; ++i) out.offsets[i + 1] = out.offsets[i] + counts[i];
  out.neighbours.resize(out.offsets[n]);
  out.weights.resize(out.offsets[n]);
  for (int64_t slot = 0; slot < built; ++slot) {
    const int32_t i = some ? o.rows[slot] : static_cast<int32_t>(slot);
    std::copy_n(ids.begin() + slot * k, counts[i], out.neighbours.begin() + out.offsets[i]);
    std::copy_n(weights.begin() + slot * k, counts[i], out.weights.begin() + out.offsets[i]);
  }
  return out;
}

// Sums `per_user(u)` into acc.sum[j] for every product j bought by a buyer u of product i.
void CoPurchases(const CoPurchaseGraph& g, int32_t i, const std::vector<float>& per_user, Accumulator& a) {
  for (int64_t e = g.product_offsets[i]; e < g.product_offsets[i + 1]; ++e) {
    const int32_t u = g.product_users[e];
    const float w = per_user[u];
    for (int64_t f = g.user_offsets[u]; f < g.user_offsets[u + 1]; ++f) {
      const int32_t j = g.user_products[f];
      if (a.sum[j] == 0.0f) a.touched.push_back(j);
      a.sum[j] += w;
    }
  }
}

std::string Params(const char* format, double a, double b = 0) {
  char buf[128];
  std::snprintf(buf, sizeof buf, format, a, b);
  return buf;
}

}  // namespace

CoPurchaseGraph CoPurchaseGraph::Build(const InteractionGraph& graph, int max_user_degree, uint64_t seed) {
  CoPurchaseGraph g;
  g.num_users = graph.num_users;
  g.num_products = graph.num_products;
  g.user_offsets.assign(1, 0);
  g.user_offsets.reserve(graph.num_users + 1);
  std::vector<std::pair<uint64_t, int32_t>> ranked;
  for (int32_t u = 0; u < graph.num_users; ++u) {
    const int64_t b = graph.user_offsets[u], e = graph.user_offsets[u + 1];
    if (max_user_degree > 0 && e - b > max_user_degree) {
      // A hub: a fixed pseudo-random subset, so every row sees the same user.
      ranked.clear();
      for (int64_t x = b; x < e; ++x) {
        const int32_t p = graph.product_index[x];
        ranked.emplace_back(MixSeed(seed, static_cast<uint64_t>(u), static_cast<uint64_t>(p)), p);
      }
      std::nth_element(ranked.begin(), ranked.begin() + max_user_degree, ranked.end());
      ranked.resize(max_user_degree);
      for (const auto& r : ranked) g.user_products.push_back(r.second);
      ++g.capped_users;
    } else {
      g.user_products.insert(g.user_products.end(), graph.product_index.begin() + b, graph.product_index.begin() + e);
    }
    g.user_offsets.push_back(static_cast<int64_t>(g.user_products.size()));
  }
  // Transpose into buyers per product (counting sort: buyers come out in user order).
  g.product_offsets.assign(g.num_products + 1, 0);
  for (int32_t p : g.user_products) ++g.product_offsets[p + 1];
  for (int32_t p = 0; p < g.num_products; ++p) g.product_offsets[p + 1] += g.product_offsets[p];
  g.product_users.resize(g.user_products.size());
  std::vector<int64_t> next(g.product_offsets.begin(), g.product_offsets.end() - 1);
  for (int32_t u = 0; u < g.num_users; ++u)
    for (int64_t f = g.user_offsets[u]; f < g.user_offsets[u + 1]; ++f) g.product_users[next[g.user_products[f]]++] = u;
  return g;
}

NeighbourLists BuildRp3bLists(const CoPurchaseGraph& g, double alpha, double beta, const NeighbourBuildOptions& o) {
  // P(u -> j) = deg(u)^-1 raised to α; P(i -> u) likewise with deg(i).
  std::vector<float> user_step(g.num_users), from(g.num_products), to(g.num_products);
  for (int32_t u = 0; u < g.num_users; ++u)
    user_step[u] = static_cast<float>(std::pow(static_cast<double>(std::max<int64_t>(1, g.user_degree(u))), -alpha));
  for (int32_t p = 0; p < g.num_products; ++p) {
    const double d = static_cast<double>(std::max<int64_t>(1, g.product_degree(p)));
    from[p] = static_cast<float>(std::pow(d, -alpha));
    to[p] = static_cast<float>(std::pow(d, -beta));
  }
  NeighbourLists lists = BuildLists(
      g, o, [&](int32_t i, Accumulator& a) { CoPurchases(g, i, user_step, a); },
      [&](int32_t i, int32_t j, float sum) { return from[i] * sum * to[j]; });
  lists.family = "rp3b";
  lists.params_json = Params("{\"alpha\":%g,\"beta\":%g}", alpha, beta);
  return lists;
}

NeighbourLists BuildItemKnnLists(const CoPurchaseGraph& g, double shrink, const NeighbourBuildOptions& o) {
  const std::vector<float> ones(g.num_users, 1.0f);
  std::vector<float> root(g.num_products);
  for (int32_t p = 0; p < g.num_products; ++p) root[p] = std::sqrt(static_cast<float>(g.product_degree(p)));
  const float s = static_cast<float>(shrink);
  NeighbourLists lists = BuildLists(
      g, o, [&](int32_t i, Accumulator& a) { CoPurchases(g, i, ones, a); },
      [&](int32_t i, int32_t j, float common) { return common / (root[i] * root[j] + s); });
  lists.family = "itemknn";
  lists.params_json = Params("{\"shrink\":%g}", shrink);
  return lists;
}

}  // namespace vasgd
