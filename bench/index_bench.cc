// bench/index_bench: the product index on a synthetic clustered catalogue (default 100,000
// products, D = 100). Prints, for HNSW and for its peer, exact search, measured in the same run:
// build time (beside hnswlib's own build of the same vectors, the build's peer), save/load time, recall@k of HNSW against exact, single-thread queries/s and
// latency percentiles, and the same for filtered queries (purchases excluded, a category).
//
//   build-*/bench/index_bench [--n 100000] [--dim 100] [--clusters 1000] [--spread 0.6]
//                             [--latent 0] [--noise 0.05] [--queries 2000] [--k 20] [--ef 64,128,256]
//                             [--m 16] [--ef-construction 200] [--score cosine|dot] [--dir /tmp]
//                             [--cold 1000]
// --cold N: also time queries where N products carry a score term (the cold products' visual-
// profile term of model/visual_profile.h, ±0.15 here), ranked apart and merged (ScoreTerms).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include <hnswlib/hnswlib.h>

#include "bench/bench_args.h"
#include "index/distance.h"
#include "index/product_index.h"
#include "index/synthetic.h"
#include "model/model_version.h"

namespace vasgd {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

// The index build's peer: hnswlib's HierarchicalNSW filled by addPoint on one thread, as
// ProductIndex::Build fills its graph, over the same unit vectors (cosine = inner product).
double HnswlibBuildSeconds(const ModelVersion& m, int hnsw_m, int ef_construction) {
  const int64_t n = static_cast<int64_t>(m.product_ids.size());
  std::vector<float> unit(m.product_vectors);
  const auto t0 = Clock::now();
  for (int64_t p = 0; p < n; ++p) NormalizeInPlace(unit.data() + p * m.dim, m.dim);
  hnswlib::InnerProductSpace space(static_cast<size_t>(m.dim));
  hnswlib::HierarchicalNSW<float> graph(&space, static_cast<size_t>(n), static_cast<size_t>(hnsw_m),
                                        static_cast<size_t>(ef_construction), /*random_seed=*/100);
  for (int64_t p = 0; p < n; ++p) graph.addPoint(unit.data() + p * m.dim, static_cast<hnswlib::labeltype>(p));
  return Seconds(t0, Clock::now());
}

struct Args {
  int64_t n = 100000;
  int32_t dim = 100;
  int32_t clusters = 1000;
  float spread = 0.6f;
  int32_t latent = 0;
  float noise = 0.05f;
  int queries = 2000;
  int k = 20;
  std::vector<int> ef = {64, 128, 256};
  int m = IndexOptions().hnsw_m;
  int ef_construction = IndexOptions().ef_construction;
  std::string score = "cosine";
  std::string dir = "/tmp";
  int64_t cold = 1000;
};

bool ParseArgs(int argc, char** argv, Args* a) {
  BenchArgs args("index_bench", argc, argv,
                 {"n", "dim", "clusters", "spread", "latent", "noise", "queries", "k", "m", "ef-construction", "score",
                  "dir", "cold", "ef"},
                 "usage: see the head of bench/index_bench.cc");
  args.Number("n", &a->n);
  args.Number("dim", &a->dim);
  args.Number("clusters", &a->clusters);
  args.Number("spread", &a->spread);
  args.Number("latent", &a->latent);
  args.Number("noise", &a->noise);
  args.Number("queries", &a->queries);
  args.Number("k", &a->k);
  args.Number("m", &a->m);
  args.Number("ef-construction", &a->ef_construction);
  args.Text("score", &a->score);
  args.Text("dir", &a->dir);
  args.Number("cold", &a->cold);
  args.IntList("ef", &a->ef);
  return args.ok();
}

struct Timing {
  double qps = 0;
  double p50_us = 0;
  double p99_us = 0;
};

// Runs every query once on this thread; returns queries/s and latency percentiles.
template <typename Fn>
Timing TimeQueries(int count, Fn&& run_one) {
  std::vector<double> lat(count);
  const auto start = Clock::now();
  for (int i = 0; i < count; ++i) {
    const auto t0 = Clock::now();
    run_one(i);
    lat[i] = Seconds(t0, Clock::now()) * 1e6;
  }
  const double total = Seconds(start, Clock::now());
  std::sort(lat.begin(), lat.end());
  return {count / total, lat[count / 2], lat[std::min<size_t>(count - 1, static_cast<size_t>(count * 0.99))]};
}

// Runs every query once, spread over `threads` threads; returns the aggregate queries/s.
template <typename Fn>
double ParallelQps(int count, int threads, Fn&& run_one) {
  std::atomic<int> next{0};
  const auto start = Clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (int i = next++; i < count; i = next++) run_one(i);
    });
  }
  for (auto& t : pool) t.join();
  return count / Seconds(start, Clock::now());
}

double Recall(const std::vector<std::vector<ScoredProduct>>& got, const std::vector<std::vector<ScoredProduct>>& truth) {
  double sum = 0;
  for (size_t q = 0; q < got.size(); ++q) {
    std::set<int32_t> want;
    for (const auto& p : truth[q]) want.insert(p.label);
    int hit = 0;
    for (const auto& p : got[q]) hit += want.count(p.label);
    sum += truth[q].empty() ? 1.0 : static_cast<double>(hit) / truth[q].size();
  }
  return sum / got.size();
}

}  // namespace

// Unfiltered queries where a.cold products (spread over the catalogue) carry a term in ±0.15.
template <typename QueryFn>
void TimeScoreTerms(const Args& a, Metric metric, const ProductIndex& exact, const ProductIndex& hnsw, QueryFn query,
                    double plain_exact_qps) {
  if (a.cold <= 0) return;
  ScoreTerms terms;
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<float> term(-0.15f, 0.15f);
  for (int64_t p = 0; p < a.n && static_cast<int64_t>(terms.labels.size()) < a.cold; p += std::max<int64_t>(1, a.n / a.cold)) {
    terms.labels.push_back(exact.Find("p" + std::to_string(p)));
    terms.terms.push_back(term(rng));
  }
  std::vector<std::vector<ScoredProduct>> truth(a.queries), got(a.queries);
  Timing te = TimeQueries(a.queries, [&](int i) {
    truth[i] = std::move(exact.Search(query(i), metric, SearchFilter(), a.k, 0, nullptr, &terms).value());
  });
  Timing th = TimeQueries(a.queries, [&](int i) {
    got[i] = std::move(hnsw.Search(query(i), metric, SearchFilter(), a.k, 0, nullptr, &terms).value());
  });
  std::printf("\nwith score terms on %zu products (cold products' profile term), top-%d, one thread:\n",
              terms.labels.size(), a.k);
  std::printf("  %-28s %10s %10s %10s %10s %8s\n", "method", "recall", "queries/s", "p50 us", "p99 us", "vs exact");
  std::printf("  %-28s %10.4f %10.0f %10.0f %10.0f %8.1fx\n", "exact (peer)", 1.0, te.qps, te.p50_us, te.p99_us, 1.0);
  std::printf("  %-28s %10.4f %10.0f %10.0f %10.0f %8.1fx\n", "hnsw (default ef)", Recall(got, truth), th.qps,
              th.p50_us, th.p99_us, th.qps / te.qps);
  std::printf("  exact without terms ran %.0f queries/s\n", plain_exact_qps);
}

int Main(int argc, char** argv) {
  Args a;
  if (!ParseArgs(argc, argv, &a)) return 2;
  char shape[96];
  if (a.latent > 0) {
    std::snprintf(shape, sizeof(shape), "offsets in a %d-dim subspace per cluster + noise %.2f", a.latent, a.noise);
  } else {
    std::snprintf(shape, sizeof(shape), "isotropic offsets");
  }
  std::printf("index_bench: %lld products, D=%d, %d clusters, spread %.2f, %s, %d queries, k=%d, score %s, "
              "kernel %s, graph built by one thread\n",
              static_cast<long long>(a.n), a.dim, a.clusters, a.spread, shape, a.queries, a.k, a.score.c_str(),
              DotImplementation());

  ClusteredSpec spec;
  spec.n = a.n;
  spec.dim = a.dim;
  spec.clusters = a.clusters;
  spec.spread = a.spread;
  spec.latent_dim = a.latent;
  spec.noise = a.noise;
  spec.seed = 1;
  if (a.score == "dot") {  // lengths that vary, as trained embeddings' do
    spec.min_length = 0.5f;
    spec.max_length = 2.0f;
  }
  ModelVersion model;
  model.version = "bench";
  model.score = a.score;
  model.dim = a.dim;
  model.product_vectors = ClusteredVectors(spec);
  for (int64_t i = 0; i < a.n; ++i) model.product_ids.push_back("p" + std::to_string(i));
  model.product_kind.assign(a.n, static_cast<uint8_t>(ProductKind::kWarm));
  spec.n = a.queries;
  spec.point_seed = 2;  // users: fresh points around the same centres
  const std::vector<float> queries = ClusteredVectors(spec);
  const Metric metric = a.score == "dot" ? Metric::kDot : Metric::kCosine;
  auto query = [&](int i) { return queries.data() + static_cast<int64_t>(i) * a.dim; };

  IndexOptions hnsw_options;
  hnsw_options.exact_below = 0;
  hnsw_options.hnsw_m = a.m;
  hnsw_options.ef_construction = a.ef_construction;
  const auto b0 = Clock::now();
  auto hnsw = ProductIndex::Build(model, hnsw_options);
  const double build_s = Seconds(b0, Clock::now());
  if (!hnsw.ok()) {
    std::fprintf(stderr, "%s\n", hnsw.status().ToString().c_str());
    return 1;
  }
  std::printf("build (M=%d, ef_construction=%d): %.1f s\n", hnsw_options.hnsw_m, hnsw_options.ef_construction, build_s);
  const double peer_s = HnswlibBuildSeconds(model, a.m, a.ef_construction);
  std::printf("peer: hnswlib's own build (HierarchicalNSW, InnerProductSpace on the unit vectors, the same M and "
              "ef_construction, one thread): %.1f s; vasgd / hnswlib %.2f\n", peer_s, build_s / peer_s);

  const std::string dir = a.dir + "/vasgd-index-bench-" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  const auto s0 = Clock::now();
  Status saved = (*hnsw)->Save(dir);
  const double save_s = Seconds(s0, Clock::now());
  const auto l0 = Clock::now();
  auto loaded = ProductIndex::Load(dir, model, hnsw_options);
  const double load_s = Seconds(l0, Clock::now());
  uint64_t bytes = 0;
  for (const auto& f : ProductIndex::FileNames(metric)) bytes += std::filesystem::file_size(dir + "/" + f);
  // The peer: the same products searched exactly (blocked scan, same kernel), loaded from the
  // same files with exact_below above the catalogue size.
  IndexOptions exact_options;
  exact_options.exact_below = int64_t{1} << 40;
  auto exact = ProductIndex::Load(dir, model, exact_options);
  if (!saved.ok() || !loaded.ok() || !exact.ok()) {
    std::fprintf(stderr, "save/load failed: %s %s\n", saved.ToString().c_str(), loaded.status().ToString().c_str());
    return 1;
  }
  std::printf("save %.2f s, load (with verification against the model) %.2f s, %.1f MiB on disk: "
              "a restart serves %.0fx sooner than a rebuild\n",
              save_s, load_s, bytes / 1048576.0, build_s / load_s);

  // --- unfiltered ---
  std::vector<std::vector<ScoredProduct>> truth(a.queries), got(a.queries);
  Timing t_exact = TimeQueries(a.queries, [&](int i) {
    truth[i] = std::move((*exact)->Search(query(i), metric, SearchFilter(), a.k, 0).value());
  });
  std::printf("\nunfiltered top-%d, one thread:\n", a.k);
  std::printf("  %-28s %10s %10s %10s %10s %8s\n", "method", "recall", "queries/s", "p50 us", "p99 us", "vs exact");
  std::printf("  %-28s %10.4f %10.0f %10.0f %10.0f %8.1fx\n", "exact (peer)", 1.0, t_exact.qps, t_exact.p50_us,
              t_exact.p99_us, 1.0);
  for (int ef : a.ef) {
    IndexOptions o = hnsw_options;
    o.ef_search = ef;
    // Same graph, other beam width: reload it (cheap) rather than rebuild.
    auto with_ef = ProductIndex::Load(dir, model, o);
    if (!with_ef.ok()) return 1;
    Timing t = TimeQueries(a.queries, [&](int i) {
      got[i] = std::move((*with_ef)->Search(query(i), metric, SearchFilter(), a.k, 0).value());
    });
    char name[64];
    std::snprintf(name, sizeof(name), "hnsw ef_search=%d%s", ef, ef == IndexOptions().ef_search ? " (default)" : "");
    std::printf("  %-28s %10.4f %10.0f %10.0f %10.0f %8.1fx\n", name, Recall(got, truth), t.qps, t.p50_us, t.p99_us,
                t.qps / t_exact.qps);
  }

  const double par_exact = ParallelQps(a.queries, 2, [&](int i) {
    (void)(*exact)->Search(query(i), metric, SearchFilter(), a.k, 0);
  });
  const double par_hnsw = ParallelQps(a.queries, 2, [&](int i) {
    (void)(*loaded)->Search(query(i), metric, SearchFilter(), a.k, 0);
  });
  std::printf("  two query threads: exact %.0f queries/s, hnsw ef_search=%d %.0f queries/s (%.1fx)\n", par_exact,
              hnsw_options.ef_search, par_hnsw, par_hnsw / par_exact);
  std::filesystem::remove_all(dir);
  TimeScoreTerms(a, metric, **exact, **loaded, query, t_exact.qps);

  // --- filtered: the user's 50 purchases are among their nearest products (the worst case for
  // over-fetching), 10% of products are unavailable, and half the queries ask for a category
  // holding 10% of the catalogue.
  std::mt19937_64 rng(3);
  for (int64_t p = 0; p < a.n; p += 10) {
    const std::string id = "p" + std::to_string(p + 7 < a.n ? p + 7 : p);
    (void)(*exact)->SetAvailable(id, false);
    (void)(*hnsw)->SetAvailable(id, false);
  }
  for (int64_t p = 0; p < a.n; ++p) {
    if (p % 10 != 3) continue;
    const std::string id = "p" + std::to_string(p);
    (void)(*exact)->SetCategories(id, {"tenth"});
    (void)(*hnsw)->SetCategories(id, {"tenth"});
  }
  std::vector<SearchFilter> filters(a.queries);
  for (int i = 0; i < a.queries; ++i) {
    auto near = (*exact)->Search(query(i), metric, SearchFilter(), 200, 0).value();
    std::vector<std::string> purchases;
    for (int j = 0; j < 50; ++j) purchases.push_back(near[rng() % near.size()].id);
    filters[i] = (*exact)->MakeFilter(purchases, i % 2 ? "tenth" : "");
  }
  Timing tf_exact = TimeQueries(a.queries, [&](int i) {
    truth[i] = std::move((*exact)->Search(query(i), metric, filters[i], a.k, 0).value());
  });
  int exact_fallbacks = 0;
  int64_t rounds = 0;
  size_t short_answers = 0;
  Timing tf = TimeQueries(a.queries, [&](int i) {
    SearchStats st;
    got[i] = std::move((*hnsw)->Search(query(i), metric, filters[i], a.k, 0, &st).value());
    exact_fallbacks += st.exact;
    rounds += st.graph_rounds;
  });
  for (int i = 0; i < a.queries; ++i) short_answers += got[i].size() < static_cast<size_t>(a.k);
  std::printf("\nfiltered top-%d (50 nearby purchases excluded, 10%% unavailable, half the queries in a 10%% "
              "category), one thread:\n", a.k);
  std::printf("  %-28s %10s %10s %10s %10s %8s\n", "method", "recall", "queries/s", "p50 us", "p99 us", "vs exact");
  std::printf("  %-28s %10.4f %10.0f %10.0f %10.0f %8.1fx\n", "exact (peer)", 1.0, tf_exact.qps, tf_exact.p50_us,
              tf_exact.p99_us, 1.0);
  char label[64];
  std::snprintf(label, sizeof(label), "hnsw ef_search=%d (default)", hnsw_options.ef_search);
  std::printf("  %-28s %10.4f %10.0f %10.0f %10.0f %8.1fx\n", label, Recall(got, truth), tf.qps, tf.p50_us,
              tf.p99_us, tf.qps / tf_exact.qps);
  std::printf("  graph rounds per query %.2f, exact fallbacks %d of %d, answers shorter than k: %zu\n",
              static_cast<double>(rounds) / a.queries, exact_fallbacks, a.queries, short_answers);
  return short_answers == 0 ? 0 : 1;
}

}  // namespace vasgd

int main(int argc, char** argv) { return vasgd::Main(argc, argv); }
