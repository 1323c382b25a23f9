// bench/shard_cost: the measured figures behind docs/SCALE.md's cost model of an index sharded
// by product hash across replica groups with scatter-gather top-k. On a synthetic clustered
// catalogue (index/synthetic.h, as bench/index_bench: D = 100, 1,000 clusters, spread 0.6) of n
// products it measures, in one run:
//   - the peer: ONE index over all n products (as one replica holds it today): build time, the
//     heap memory its build added (vectors, HNSW graph, id maps: bytes per product), bytes on
//     disk, and CPU per top-k query;
//   - for each S in --shards: the same products split into S shards by a hash of the product id,
//     one index per shard; every query goes to all S shards (one after another here, in process:
//     no network) and their S top-k lists are merged. Printed: the summed CPU of the S searches
//     per query (what the fleet pays), the slowest shard's time per query (the latency floor when
//     the shards answer in parallel), the merge's time, and recall@k of the merged answer against
//     exact search over all n (the index's own exact scan, loaded from the peer's files).
// Usage: shard_cost [--n 60000] [--shards 2,4] [--queries 1000] [--k 20] [--dim 100] [--dir /tmp]
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "bench/bench_args.h"
#include "index/product_index.h"
#include "index/synthetic.h"
#include "model/model_version.h"

namespace vasgd {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

struct Args {
  int64_t n = 60000;
  std::vector<int> shards = {2, 4};
  int queries = 1000;
  int k = 20;
  int32_t dim = 100;
  std::string dir = "/tmp";
};

bool ParseArgs(int argc, char** argv, Args* a) {
  BenchArgs args("shard_cost", argc, argv, {"n", "queries", "k", "dim", "dir", "shards"},
                 "");  // Main prints the usage
  args.Number("n", &a->n);
  args.Number("queries", &a->queries);
  args.Number("k", &a->k);
  args.Number("dim", &a->dim);
  args.Text("dir", &a->dir);
  args.IntList("shards", &a->shards);
  return args.ok() && a->n > 0 && a->queries > 0 && a->k > 0 && !a->shards.empty();
}

// Heap bytes in use (malloc'd, small blocks and mmapped ones): unlike the resident set, it falls
// when an index is freed, so the shards' figure is not hidden by pages the peer left behind.
double HeapBytes() {
  const struct mallinfo2 m = ::mallinfo2();
  return static_cast<double>(m.uordblks + m.hblkhd);
}

ModelVersion ModelOf(const std::vector<float>& vectors, const std::vector<int64_t>& rows, int32_t dim) {
  ModelVersion m;
  m.version = "bench";
  m.score = "cosine";
  m.dim = dim;
  m.product_vectors.reserve(rows.size() * dim);
  for (int64_t r : rows) {
    m.product_ids.push_back("p" + std::to_string(r));
    m.product_vectors.insert(m.product_vectors.end(), vectors.begin() + r * dim, vectors.begin() + (r + 1) * dim);
  }
  m.product_kind.assign(rows.size(), static_cast<uint8_t>(ProductKind::kWarm));
  return m;
}

std::unique_ptr<ProductIndex> BuildOrDie(const ModelVersion& m, const IndexOptions& o) {
  auto index = ProductIndex::Build(m, o);
  if (!index.ok()) {
    std::fprintf(stderr, "build: %s\n", index.status().ToString().c_str());
    std::exit(1);
  }
  return std::move(index).value();
}

double Recall(const std::vector<std::vector<std::string>>& got, const std::vector<std::vector<std::string>>& truth) {
  double sum = 0;
  for (size_t q = 0; q < got.size(); ++q) {
    const std::set<std::string> want(truth[q].begin(), truth[q].end());
    int hit = 0;
    for (const std::string& id : got[q]) hit += static_cast<int>(want.count(id));
    sum += want.empty() ? 1.0 : static_cast<double>(hit) / static_cast<double>(want.size());
  }
  return sum / static_cast<double>(got.size());
}

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

std::vector<std::string> Ids(const std::vector<ScoredProduct>& ranked) {
  std::vector<std::string> out;
  for (const ScoredProduct& p : ranked) out.push_back(p.id);
  return out;
}

int Main(int argc, char** argv) {
  Args a;
  if (!ParseArgs(argc, argv, &a)) {
    std::fprintf(stderr, "usage: shard_cost [--n 60000] [--shards 2,4] [--queries 1000] [--k 20] [--dim 100] [--dir /tmp]\n");
    return 2;
  }
  ClusteredSpec spec;
  spec.n = a.n;
  spec.dim = a.dim;
  spec.clusters = 1000;
  spec.spread = 0.6f;
  spec.seed = 1;
  const std::vector<float> vectors = ClusteredVectors(spec);
  spec.n = a.queries;
  spec.point_seed = 2;  // users: fresh points around the same centres
  const std::vector<float> queries = ClusteredVectors(spec);
  auto query = [&](int i) { return queries.data() + static_cast<int64_t>(i) * a.dim; };
  IndexOptions options;  // the shipped M, ef_construction, ef_search
  options.exact_below = 0;  // always the graph: the cost being modelled
  std::printf("shard_cost: n=%lld products, D=%d, %d queries, top-%d, M=%d ef_construction=%d ef_search=%d\n",
              static_cast<long long>(a.n), a.dim, a.queries, a.k, options.hnsw_m, options.ef_construction,
              options.ef_search);

  // --- the peer: one index over everything ---
  std::vector<int64_t> all(a.n);
  for (int64_t i = 0; i < a.n; ++i) all[i] = i;
  const ModelVersion whole = ModelOf(vectors, all, a.dim);
  const double rss0 = HeapBytes();
  auto t0 = Clock::now();
  std::unique_ptr<ProductIndex> peer = BuildOrDie(whole, options);
  const double build_s = Seconds(t0, Clock::now());
  const double index_bytes = HeapBytes() - rss0;
  const std::string dir = a.dir + "/vasgd-shard-cost-" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  if (!peer->Save(dir).ok()) return 1;
  double disk = 0;
  for (const std::string& f : ProductIndex::FileNames(Metric::kCosine)) disk += std::filesystem::file_size(dir + "/" + f);
  IndexOptions exact_options = options;
  exact_options.exact_below = int64_t{1} << 40;
  auto exact = ProductIndex::Load(dir, whole, exact_options);
  std::filesystem::remove_all(dir);
  if (!exact.ok()) return 1;
  std::vector<std::vector<std::string>> truth(a.queries), got(a.queries);
  for (int q = 0; q < a.queries; ++q) truth[q] = Ids((*exact)->Search(query(q), Metric::kCosine, {}, a.k, 0).value());
  std::vector<double> one_us(a.queries);
  for (int q = 0; q < a.queries; ++q) {
    t0 = Clock::now();
    got[q] = Ids(peer->Search(query(q), Metric::kCosine, {}, a.k, 0).value());
    one_us[q] = Seconds(t0, Clock::now()) * 1e6;
  }
  double one_mean = 0;
  for (double u : one_us) one_mean += u / a.queries;
  std::printf("\n%-24s %9s %9s %9s %11s %11s %9s %9s %9s\n", "layout", "build s", "heap MiB", "B/product", "CPU us/q",
              "slowest us", "p99 us", "merge us", "recall");
  std::printf("%-24s %9.1f %9.1f %9.0f %11.1f %11.1f %9.1f %9s %9.4f\n", "1 index (peer)", build_s,
              index_bytes / 1048576.0, index_bytes / static_cast<double>(a.n), one_mean, one_mean,
              Percentile(one_us, 0.99), "-", Recall(got, truth));
  std::printf("  (the peer's files on disk: %.1f MiB, %.0f B/product)\n", disk / 1048576.0, disk / a.n);
  peer.reset();

  // --- S shards by product hash, scatter-gather ---
  for (int s : a.shards) {
    std::vector<std::vector<int64_t>> rows(s);
    for (int64_t i = 0; i < a.n; ++i) rows[std::hash<std::string>()(whole.product_ids[i]) % s].push_back(i);
    std::vector<std::unique_ptr<ProductIndex>> shards;
    const double r0 = HeapBytes();
    t0 = Clock::now();
    for (int j = 0; j < s; ++j) shards.push_back(BuildOrDie(ModelOf(vectors, rows[j], a.dim), options));
    const double shards_build = Seconds(t0, Clock::now());
    const double shards_bytes = HeapBytes() - r0;
    std::vector<double> sum_us(a.queries), max_us(a.queries), merge_us(a.queries);
    std::vector<ScoredProduct> merged;
    for (int q = 0; q < a.queries; ++q) {
      merged.clear();
      double slowest = 0, total = 0;
      for (const auto& shard : shards) {
        t0 = Clock::now();
        std::vector<ScoredProduct> part = shard->Search(query(q), Metric::kCosine, {}, a.k, 0).value();
        const double us = Seconds(t0, Clock::now()) * 1e6;
        total += us;
        slowest = std::max(slowest, us);
        merged.insert(merged.end(), part.begin(), part.end());
      }
      t0 = Clock::now();
      std::partial_sort(merged.begin(), merged.begin() + std::min<size_t>(a.k, merged.size()), merged.end(),
                        [](const ScoredProduct& x, const ScoredProduct& y) { return x.score > y.score; });
      merged.resize(std::min<size_t>(a.k, merged.size()));
      merge_us[q] = Seconds(t0, Clock::now()) * 1e6;
      sum_us[q] = total;
      max_us[q] = slowest;
      got[q] = Ids(merged);
    }
    double sum_mean = 0, max_mean = 0, merge_mean = 0;
    for (int q = 0; q < a.queries; ++q) {
      sum_mean += sum_us[q] / a.queries;
      max_mean += max_us[q] / a.queries;
      merge_mean += merge_us[q] / a.queries;
    }
    char name[64];
    std::snprintf(name, sizeof(name), "%d shards of ~%lld", s, static_cast<long long>(a.n / s));
    std::printf("%-24s %9.1f %9.1f %9.0f %11.1f %11.1f %9.1f %9.2f %9.4f\n", name, shards_build,
                shards_bytes / 1048576.0, shards_bytes / static_cast<double>(a.n), sum_mean, max_mean,
                Percentile(max_us, 0.99), merge_mean, Recall(got, truth));
    std::printf("  ratio to the peer: fleet CPU per query x%.2f, latency floor x%.2f\n", sum_mean / one_mean,
                max_mean / one_mean);
  }
  return 0;
}

}  // namespace
}  // namespace vasgd

int main(int argc, char** argv) { return vasgd::Main(argc, argv); }
