// bench/lists_bench: what the item-to-item lists (model/neighbours.h) cost to train at scale.
//
//   lists_bench [--users 1000000] [--products 1000000] [--purchases 10000000] [--caps 500,100]
//               [--top-k 100] [--threads 0] [--alpha 0.8] [--beta 0] [--seed 1]
//
// A synthetic shop with power-law degrees on both sides (user activity and product popularity
// Zipf-like, exponent about 1, so a few hub users buy thousands of products and a few hub products
// are bought by a large share of users), every purchase once. For each hub cap (the
// neighbours.max_user_degree the retraining uses) it prints: the walk's cost bound Σ_u min(deg, cap)²,
// the time to build the capped graph and the RP3β lists, the lists' size, and the process's peak
// RSS; the uncapped bound is printed beside, since the cap is what keeps hubs from dominating it.
// The quality the cap costs is measured on TikTok with `vasgd eval --methods RP3b --set
// neighbours.max_user_degree=N` (docs/EVALUATION.md): no peer builds lists at this size in the
// same run, so the peer figure here is the uncapped bound.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "bench/bench_args.h"
#include "model/neighbours.h"
#include "model/rng.h"

namespace vasgd {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

double PeakRssMiB() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss / 1024.0;
}

// Draws from a Zipf-like law over [0, n) with exponent ~1: rank r has weight 1 / (r + 10).
// Inverse of the continuous CDF: cheap and close enough for degrees.
int64_t Zipf(int64_t n, Rng* rng) {
  const double a = 10, u = rng->Uniform();
  const double x = a * std::pow((n + a) / a, u) - a;
  return std::min<int64_t>(n - 1, static_cast<int64_t>(x));
}

InteractionGraph PowerLawShop(int64_t users, int64_t products, int64_t purchases, uint64_t seed) {
  Rng rng(seed);
  // Each purchase: a user by activity, a product by popularity; duplicates within a user dropped.
  std::vector<std::vector<int32_t>> rows(users);
  for (int64_t i = 0; i < purchases; ++i) {
    // Scatter ranks over ids so that hubs are not all low ids.
    const int64_t u = (Zipf(users, &rng) * 2654435761LL) % users;
    const int64_t p = (Zipf(products, &rng) * 40503LL + 17) % products;
    rows[u].push_back(static_cast<int32_t>(p));
  }
  InteractionGraph g;
  g.num_users = static_cast<int32_t>(users);
  g.num_products = static_cast<int32_t>(products);
  g.user_offsets.reserve(users + 1);
  g.user_offsets.push_back(0);
  for (auto& r : rows) {
    std::sort(r.begin(), r.end());
    r.erase(std::unique(r.begin(), r.end()), r.end());
    g.product_index.insert(g.product_index.end(), r.begin(), r.end());
    g.user_offsets.push_back(static_cast<int64_t>(g.product_index.size()));
    std::vector<int32_t>().swap(r);
  }
  g.weight.assign(g.product_index.size(), 1.0f);
  return g;
}

int Main(int argc, char** argv) {
  BenchArgs args("lists_bench", argc, argv,
                 {"users", "products", "purchases", "caps", "top-k", "threads", "alpha", "beta", "seed"},
                 "usage: see the head of bench/lists_bench.cc");
  int64_t users = 1000000, products = 1000000, purchases = 10000000;
  uint64_t seed = 1;
  std::vector<int> cap_list = {500, 100};
  NeighbourBuildOptions o;
  o.top_k = 100;
  o.threads = 0;
  double alpha = 0.8, beta = 0.0;
  args.Number("users", &users);
  args.Number("products", &products);
  args.Number("purchases", &purchases);
  args.IntList("caps", &cap_list);
  args.Number("top-k", &o.top_k);
  args.Number("threads", &o.threads);
  args.Number("alpha", &alpha);
  args.Number("beta", &beta);
  args.Number("seed", &seed);
  if (!args.ok()) return 2;
  const std::vector<int64_t> caps(cap_list.begin(), cap_list.end());

  auto t0 = Clock::now();
  const InteractionGraph g = PowerLawShop(users, products, purchases, seed);
  int64_t max_user = 0;
  double uncapped = 0;
  for (int64_t u = 0; u < users; ++u) {
    const int64_t d = g.user_offsets[u + 1] - g.user_offsets[u];
    max_user = std::max(max_user, d);
    uncapped += static_cast<double>(d) * d;
  }
  std::printf("{\"users\":%lld,\"products\":%lld,\"edges\":%lld,\"max_user_degree\":%lld,\"generate_seconds\":%.1f,"
              "\"walk_cost_uncapped\":%.3g}\n",
              static_cast<long long>(users), static_cast<long long>(products), static_cast<long long>(g.num_edges()),
              static_cast<long long>(max_user), Seconds(t0), uncapped);
  std::fflush(stdout);
  for (int64_t cap : caps) {
    t0 = Clock::now();
    const CoPurchaseGraph walk = CoPurchaseGraph::Build(g, static_cast<int>(cap), 42);
    const double graph_seconds = Seconds(t0);
    double cost = 0;
    for (int32_t u = 0; u < walk.num_users; ++u) cost += static_cast<double>(walk.user_degree(u)) * walk.user_degree(u);
    t0 = Clock::now();
    const NeighbourLists lists = BuildRp3bLists(walk, alpha, beta, o);
    const double lists_seconds = Seconds(t0);
    int64_t with_list = 0;
    for (int32_t p = 0; p < lists.num_products; ++p) with_list += lists.offsets[p + 1] > lists.offsets[p];
    std::printf("{\"cap\":%lld,\"capped_users\":%lld,\"walk_cost\":%.3g,\"cost_vs_uncapped\":%.4f,\"graph_seconds\":%.1f,"
                "\"lists_seconds\":%.1f,\"products_with_a_list\":%lld,\"list_entries\":%lld,\"lists_mib\":%.0f,"
                "\"peak_rss_mib\":%.0f}\n",
                static_cast<long long>(cap), static_cast<long long>(walk.capped_users), cost, cost / uncapped,
                graph_seconds, lists_seconds, static_cast<long long>(with_list), static_cast<long long>(lists.size()),
                (lists.size() * 8.0 + lists.offsets.size() * 8.0) / (1 << 20), PeakRssMiB());
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace
}  // namespace vasgd

int main(int argc, char** argv) { return vasgd::Main(argc, argv); }
