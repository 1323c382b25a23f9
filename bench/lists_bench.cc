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
#include <map>
#include <sstream>
#include <string>
#include <vector>

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

int64_t Flag(const std::map<std::string, std::string>& f, const char* name, int64_t fallback) {
  auto it = f.find(name);
  return it == f.end() ? fallback : std::atoll(it->second.c_str());
}

int Main(int argc, char** argv) {
  std::map<std::string, std::string> f;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::string(argv[i]).rfind("--", 0) != 0) {
      std::fprintf(stderr, "lists_bench: flags are --name value\n");
      return 2;
    }
    f[argv[i] + 2] = argv[i + 1];
  }
  const int64_t users = Flag(f, "users", 1000000), products = Flag(f, "products", 1000000),
                purchases = Flag(f, "purchases", 10000000);
  std::vector<int64_t> caps;
  std::stringstream list(f.count("caps") ? f.at("caps") : "500,100");
  for (std::string item; std::getline(list, item, ',');) caps.push_back(std::atoll(item.c_str()));
  NeighbourBuildOptions o;
  o.top_k = static_cast<int>(Flag(f, "top-k", 100));
  o.threads = static_cast<int>(Flag(f, "threads", 0));
  const double alpha = f.count("alpha") ? std::atof(f.at("alpha").c_str()) : 0.8;
  const double beta = f.count("beta") ? std::atof(f.at("beta").c_str()) : 0.0;

  auto t0 = Clock::now();
  const InteractionGraph g = PowerLawShop(users, products, purchases, static_cast<uint64_t>(Flag(f, "seed", 1)));
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
