// The store's read cache (store/read_cache.h) when a shop's users do not all fit: its hit rate
// under Zipf-distributed reads of users' purchases, beside its peer in the same run, an oracle
// that always holds the most read users in as many entries (the best any cache of that size
// can do on such a stream), and the CPU time per read.
//
//   build/bench/read_cache_bench [--users 200000] [--reads 2000000] [--room-permille 100] [--purchases 10]
//
// A miss puts the user's purchases (as GraphStore::UserPurchases does after reading RocksDB).
// The cache gets the bytes room-permille / 1000 of the users' entries take.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "common/flags.h"
#include "store/read_cache.h"

namespace {

struct Figures {
  double hit_rate;
  double oracle_hit_rate;
  double ns_per_read;
  size_t bytes;
};

Figures Run(int users, int64_t reads, double fraction, int purchases, double zipf) {
  std::vector<double> cdf(static_cast<size_t>(users));
  double sum = 0;
  for (int i = 0; i < users; ++i) cdf[static_cast<size_t>(i)] = sum += 1.0 / std::pow(i + 1, zipf);
  for (double& c : cdf) c /= sum;
  const std::vector<vasgd::ProductWeight> bought(static_cast<size_t>(purchases), {1, 1.f});
  // Sized by one entry's bytes, measured: one user's purchases alone in a large cache.
  vasgd::ReadCache probe(size_t{1} << 30);
  probe.PutPurchases(0, probe.Generation(0), bought);
  const int64_t entries = static_cast<int64_t>(fraction * users);
  vasgd::ReadCache cache(static_cast<size_t>(entries) * probe.bytes());
  std::mt19937_64 rng(1);
  std::uniform_real_distribution<double> uniform(0, 1);
  std::vector<int32_t> stream(static_cast<size_t>(reads));
  for (int32_t& u : stream) u = static_cast<int32_t>(std::lower_bound(cdf.begin(), cdf.end(), uniform(rng)) - cdf.begin());
  std::vector<vasgd::ProductWeight> got;
  int64_t hits = 0, oracle_hits = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (int32_t u : stream) {
    if (cache.Purchases(u, &got)) {
      ++hits;
    } else {
      cache.PutPurchases(u, cache.Generation(u), bought);
    }
  }
  const double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
  for (int32_t u : stream) oracle_hits += u < entries;  // users are numbered by how often they are read
  return {static_cast<double>(hits) / static_cast<double>(reads),
          static_cast<double>(oracle_hits) / static_cast<double>(reads), ns / static_cast<double>(reads), cache.bytes()};
}

}  // namespace

int main(int argc, char** argv) {
  auto flags = vasgd::Flags::ParseOnly(std::vector<std::string>(argv + 1, argv + argc),
                                       {"users", "reads", "room-permille", "purchases"});
  auto users = flags.ok() ? flags->GetInt("users", 200000) : flags.status();
  auto reads = flags.ok() ? flags->GetInt("reads", 2000000) : flags.status();
  auto room = flags.ok() ? flags->GetInt("room-permille", 100) : flags.status();
  auto purchases = flags.ok() ? flags->GetInt("purchases", 10) : flags.status();
  for (auto* v : {&users, &reads, &room, &purchases}) {
    if (!v->ok() || **v <= 0) {
      std::fprintf(stderr, "read_cache_bench: %s\n", v->ok() ? "every flag must be positive" : v->status().ToString().c_str());
      return 2;
    }
  }
  const double fraction = static_cast<double>(*room) / 1000;
  std::printf("read cache: %lld users, %lld reads, room for %.1f%% of the users' entries (%lld purchases each)\n\n",
              static_cast<long long>(*users), static_cast<long long>(*reads), 100 * fraction,
              static_cast<long long>(*purchases));
  std::printf("| Zipf exponent | hit rate | oracle (the most read users held) | ÷ oracle | ns per read | bytes |\n");
  std::printf("|---|---|---|---|---|---|\n");
  for (double zipf : {0.8, 1.0, 1.2}) {
    const Figures f = Run(static_cast<int>(*users), *reads, fraction, static_cast<int>(*purchases), zipf);
    std::printf("| %.1f | %.4f | %.4f | %.2f | %.0f | %zu |\n", zipf, f.hit_rate, f.oracle_hit_rate,
                f.hit_rate / f.oracle_hit_rate, f.ns_per_read, f.bytes);
  }
  return 0;
}
