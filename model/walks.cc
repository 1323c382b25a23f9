#include "model/walks.h"

#include <algorithm>
#include <utility>

namespace vasgd {

WalkGraph WalkGraph::FromInteractions(const InteractionGraph& graph) {
  WalkGraph g;
  g.num_users = graph.num_users;
  g.num_products = graph.num_products;
  const int32_t n = g.num_nodes();
  g.offsets.assign(static_cast<size_t>(n) + 1, 0);
  for (int32_t u = 0; u < graph.num_users; ++u) {
    g.offsets[u + 1] = graph.user_offsets[u + 1] - graph.user_offsets[u];
    for (int64_t e = graph.user_offsets[u]; e < graph.user_offsets[u + 1]; ++e)
      ++g.offsets[g.product_node(graph.product_index[e]) + 1];
  }
  for (int32_t v = 0; v < n; ++v) g.offsets[v + 1] += g.offsets[v];
  g.neighbors.resize(static_cast<size_t>(g.offsets[n]));
  std::vector<int64_t> fill(g.offsets.begin(), g.offsets.end() - 1);
  for (int32_t u = 0; u < graph.num_users; ++u) {
    for (int64_t e = graph.user_offsets[u]; e < graph.user_offsets[u + 1]; ++e) {
      const int32_t p = g.product_node(graph.product_index[e]);
      g.neighbors[fill[u]++] = p;
      g.neighbors[fill[p]++] = u;
    }
  }
  return g;
}

int32_t RandomWalk(const WalkGraph& g, int32_t start, int32_t length, Rng* rng, int32_t* out) {
  int32_t v = start;
  out[0] = v;
  int32_t n = 1;
  for (; n < length; ++n) {
    const int64_t deg = g.degree(v);
    if (deg == 0) break;
    v = g.neighbors[g.offsets[v] + rng->Below(static_cast<uint32_t>(deg))];
    out[n] = v;
  }
  return n;
}

WalkCorpus::WalkCorpus(const WalkGraph& graph, int walks_per_node, int walk_length, uint64_t seed, int epoch,
                       int64_t max_walks, const std::vector<int32_t>* starts)
    : graph_(graph), rounds_(walks_per_node), walk_length_(walk_length),
      epoch_seed_(MixSeed(seed, 0x77616c6bull /* "walk" */, static_cast<uint64_t>(epoch))) {
  if (starts) {
    for (int32_t v : *starts)
      if (v >= 0 && v < graph.num_nodes() && graph.degree(v) > 0) order_.push_back(v);
  } else {
    for (int32_t v = 0; v < graph.num_nodes(); ++v)
      if (graph.degree(v) > 0) order_.push_back(v);
  }
  Rng rng(epoch_seed_);
  for (size_t i = order_.size(); i > 1; --i) std::swap(order_[i - 1], order_[rng.Below(static_cast<uint32_t>(i))]);
  size_ = uncapped_size();
  if (max_walks > 0) size_ = std::min(size_, max_walks);
}

int32_t WalkCorpus::Walk(int64_t i, int32_t* out) const {
  const int64_t n = static_cast<int64_t>(order_.size());
  Rng rng(MixSeed(epoch_seed_, static_cast<uint64_t>(i / n), static_cast<uint64_t>(start(i))));
  return RandomWalk(graph_, start(i), walk_length_, &rng, out);
}

}  // namespace vasgd
