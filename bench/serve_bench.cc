// bench/serve_bench: the parts of bench/serve_bench.sh that are not wrk.
//
//   serve_bench setup --data-dir DIR [--products 100000] [--users 20000] [--dim 100]
//                     [--purchases 10] [--feature-dim 32] [--clusters 1000] [--spread 0.6]
//                     [--queries 1000] [--config F]
//     Writes a daemon data directory: a graph store (every product with features and a category,
//     every user's purchases, through the normal applier) and a served model version whose
//     embeddings are synthetic clustered vectors (users drawn around the same centres as the
//     products) with a random encoder, its HNSW index built and saved exactly as a retraining
//     does. Then measures, in process, HNSW recall@20 against exact search for users (their
//     purchases excluded, as served) and for similar items, and the per-query time of both.
//
//   serve_bench measure --data-dir DIR [--queries 1000] [--ef N[,N...]] [--config F]
//                       [--hybrid-candidates N[,N...]]
//     Only the measurement above, on an existing data directory (any served version: a trained
//     one too, ranked by its manifest's score), for each beam width listed; then the hybrid's
//     per-query cost for each hybrid.serve_candidates listed (default: the config's).
//
//   serve_bench load --port P [--rate 5000] [--seconds 20] [--connections 64] [--endpoint users|similar]
//                    [--users 20000] [--products 100000] [--seed 7]
//     Open loop (bench/open_loop.h): GETs user recommendations (k = 20, random users) or similar
//     products at `rate` requests/s whatever the server's pace, each latency counted from when its
//     request was due; prints the latency quantiles, the rate answered and any failure.
//
//   serve_bench ingest --port P [--rate 1000] [--seconds 30] [--users 20000] [--products 100000]
//                      [--feature-dim 32] [--run 0]
//     POSTs events to /v1/events at `rate` events/s in batches every 50 ms: 94% purchases
//     (some by new users), 5% new products with features (embedded and indexed live), 1%
//     availability changes. Prints the achieved rate and any failure. Runs against the same
//     daemon need distinct --run numbers: new products are named new-<run>-<i>, so that each
//     run inserts products the index does not hold yet.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_args.h"
#include "bench/open_loop.h"
#include "common/config_file.h"
#include "model/neighbours.h"
#include "model/visual_profile.h"
#include "rank/hybrid_ranker.h"
#include "common/log.h"
#include "common/metrics.h"
#include "daemon/model_registry.h"
#include "index/product_index.h"
#include "index/synthetic.h"
#include "model/model_version.h"
#include "store/graph_store.h"
#include "stream/event_applier.h"
#include "tests/http/http_client.h"

namespace vasgd {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

// CPU time of the calling thread, s: steadier than wall time on a machine shared with other work.
double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + ts.tv_nsec * 1e-9;
}

// Each subcommand's flags (the file comment), read by bench/bench_args.h: an unknown or repeated
// flag, or a value that is not a number, is refused by name.
struct MeasureFlags {
  std::string data_dir, config;
  int64_t queries = 1000;
  std::vector<int> efs, candidates;  // empty: the config's index.ef_search, hybrid.serve_candidates
};
struct SetupFlags {
  int64_t products = 100000, users = 20000, purchases = 10;
  int32_t dim = 100, feature_dim = 32, clusters = 1000;
  float spread = 0.6f;
  MeasureFlags measure;
};
struct IngestFlags {
  int64_t port = 8080, rate = 1000, seconds = 30, users = 20000, products = 100000, run = 0;
  int32_t feature_dim = 32;
};

struct LoadFlags {
  int64_t port = 8080, users = 20000, products = 100000, seed = 7, connections = 64;
  double rate = 5000, seconds = 20;
  std::string endpoint = "users";
};

const std::set<std::string> kMeasureFlags = {"data-dir", "config", "queries", "ef", "hybrid-candidates"};

void Read(BenchArgs& a, MeasureFlags* f) {
  a.Text("data-dir", &f->data_dir);
  a.Text("config", &f->config);
  a.Number("queries", &f->queries);
  a.IntList("ef", &f->efs);
  a.IntList("hybrid-candidates", &f->candidates);
}

void Read(BenchArgs& a, SetupFlags* f) {
  for (auto [name, field] : {std::pair<const char*, int64_t*>{"products", &f->products}, {"users", &f->users},
                             {"purchases", &f->purchases}})
    a.Number(name, field);
  for (auto [name, field] : {std::pair<const char*, int32_t*>{"dim", &f->dim}, {"feature-dim", &f->feature_dim},
                             {"clusters", &f->clusters}})
    a.Number(name, field);
  a.Number("spread", &f->spread);
  Read(a, &f->measure);
}

void Read(BenchArgs& a, IngestFlags* f) {
  for (auto [name, field] : {std::pair<const char*, int64_t*>{"port", &f->port}, {"rate", &f->rate},
                             {"seconds", &f->seconds}, {"users", &f->users}, {"products", &f->products},
                             {"run", &f->run}})
    a.Number(name, field);
  a.Number("feature-dim", &f->feature_dim);
}

void Read(BenchArgs& a, LoadFlags* f) {
  for (auto [name, field] : {std::pair<const char*, int64_t*>{"port", &f->port}, {"users", &f->users},
                             {"products", &f->products}, {"seed", &f->seed}, {"connections", &f->connections}})
    a.Number(name, field);
  a.Number("rate", &f->rate);
  a.Number("seconds", &f->seconds);
  a.Text("endpoint", &f->endpoint);
}

// A random one-layer encoder features -> embedding (live products need one to be placed).
Mlp RandomEncoder(int32_t in, int32_t out, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f / std::sqrt(static_cast<float>(in)));
  DenseLayer layer;
  layer.in = in;
  layer.out = out;
  layer.weight.resize(static_cast<size_t>(in) * out);
  for (float& w : layer.weight) w = g(rng);
  layer.bias.assign(out, 0.0f);
  Mlp mlp;
  mlp.layers.push_back(std::move(layer));
  return mlp;
}

std::vector<float> Features(int64_t product, int32_t dim) {
  std::mt19937_64 rng(static_cast<uint64_t>(product) * 7919 + 13);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> f(dim);
  for (float& x : f) x = g(rng);
  return f;
}

double Recall(const std::vector<ScoredProduct>& got, const std::vector<int32_t>& exact) {
  int hits = 0;
  for (const ScoredProduct& p : got) hits += std::count(exact.begin(), exact.end(), p.label) > 0;
  return exact.empty() ? 1.0 : static_cast<double>(hits) / static_cast<double>(exact.size());
}

// Exact top-k rows by the score of `unit_rows`' space (cosine when they are unit vectors and the
// query is normalised, else the inner product), excluding `excluded` (sorted); ties to the lower
// row. Double precision, nothing shared with the index's code.
std::vector<int32_t> ExactTopK(const std::vector<float>& rows, int64_t n, int32_t dim, const float* query,
                               const std::vector<int32_t>& excluded, int k) {
  std::vector<std::pair<double, int32_t>> scored;
  scored.reserve(n);
  for (int64_t p = 0; p < n; ++p) {
    if (std::binary_search(excluded.begin(), excluded.end(), static_cast<int32_t>(p))) continue;
    const float* row = rows.data() + p * dim;
    double s = 0;
    for (int32_t d = 0; d < dim; ++d) s += static_cast<double>(row[d]) * query[d];
    scored.emplace_back(s, static_cast<int32_t>(p));
  }
  const int top = std::min<int>(k, static_cast<int>(scored.size()));
  std::partial_sort(scored.begin(), scored.begin() + top, scored.end(), [](const auto& a, const auto& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  });
  std::vector<int32_t> out;
  for (int i = 0; i < top; ++i) out.push_back(scored[i].second);
  return out;
}

std::vector<float> Normalized(const float* v, int32_t dim) {
  double n = 0;
  for (int32_t d = 0; d < dim; ++d) n += static_cast<double>(v[d]) * v[d];
  n = std::sqrt(n);
  std::vector<float> out(v, v + dim);
  for (float& x : out) x = n > 0 ? static_cast<float>(x / n) : 0.0f;
  return out;
}

// Recall@20 and CPU time per query of the served version in --data-dir, for each beam width in
// --ef (default: the config's index.ef_search): HNSW (asked first, whatever the catalogue's
// size) beside its peer, the index's own exact search, users ranked by the model's score with
// their purchases excluded as served, similar items by cosine; recall against a brute-force
// reference computed here. The index still falls back to exact search where the graph cannot
// fill an answer (heavily filtered queries: index/product_index_query.cc); those answers are
// counted (SearchStats::exact) and printed, since their recall is exact search's, not HNSW's.
// One JSON line per beam width.
int MeasureHybrid(const ModelVersion& m, const Config& config, const std::string& data_dir,
                  const std::vector<int64_t>& query_users, const std::vector<SearchFilter>& filters, int candidates);

int Measure(const MeasureFlags& f) {
  const std::string& data_dir = f.data_dir;
  const int64_t wanted = f.queries;
  const int k = 20;
  Config config;
  if (!f.config.empty() && !LoadConfigFile(f.config, &config).ok()) return 2;
  const std::vector<int> efs = f.efs.empty() ? std::vector<int>{config.index.ef_search} : f.efs;
  config.store.data_dir = data_dir;
  Result<ModelVersion> read = ReadModelVersion(data_dir + "/models/current");
  Result<Metric> metric = read.ok() ? ParseMetric(read->score) : Result<Metric>(read.status());
  if (!metric.ok()) {
    std::fprintf(stderr, "serve_bench measure: %s\n", metric.status().ToString().c_str());
    return 1;
  }
  const ModelVersion& m = *read;
  const int32_t dim = m.dim;
  const int64_t users = static_cast<int64_t>(m.user_ids.size()), products = static_cast<int64_t>(m.product_ids.size());
  IndexOptions exact_options = config.index;
  exact_options.exact_below = products + 1;  // every query answered by exact search
  auto exact_index = ProductIndex::Load(data_dir + "/models/current", m, exact_options);
  auto store = GraphStore::OpenReadOnly(config.store);
  if (!exact_index.ok() || !store.ok()) {
    std::fprintf(stderr, "serve_bench measure: cannot load the index or the store\n");
    return 1;
  }
  // Reference rows: unit vectors for cosine (similar items, cosine users), raw ones for dot.
  std::vector<float> unit(m.product_vectors.size());
  std::vector<bool> has_vector(products);
  for (int64_t p = 0; p < products; ++p) {
    has_vector[p] = m.product_kind.empty() || m.product_kind[p] != static_cast<uint8_t>(ProductKind::kNone);
    std::vector<float> u = Normalized(m.product(static_cast<int32_t>(p)), dim);
    std::copy(u.begin(), u.end(), unit.begin() + p * dim);
  }
  // The queries: users (their purchases excluded, as served) and products for `similar`. Rows
  // without a vector never enter an answer: excluded from the reference too.
  std::vector<int32_t> no_vector;
  for (int64_t p = 0; p < products; ++p) {
    if (!has_vector[p]) no_vector.push_back(static_cast<int32_t>(p));
  }
  const int64_t queries = std::min(wanted, users);
  std::vector<int64_t> query_users(queries), query_products;
  std::vector<SearchFilter> filters(queries);
  std::vector<std::vector<int32_t>> excluded_rows(queries);
  std::vector<ProductWeight> purchases;
  std::string name;
  for (int64_t q = 0; q < queries; ++q) {
    query_users[q] = (q * 7919) % users;
    int32_t dense = -1;
    std::vector<std::string> bought;
    if ((*store)->FindUser(m.user_ids[query_users[q]], &dense) && (*store)->UserPurchases(dense, &purchases).ok()) {
      for (const ProductWeight& p : purchases) {
        if ((*store)->ProductName(p.id, &name)) bought.push_back(name);
      }
    }
    filters[q] = (*exact_index)->MakeFilter(bought, "");  // index labels are model rows
    excluded_rows[q] = filters[q].excluded;
    excluded_rows[q].insert(excluded_rows[q].end(), no_vector.begin(), no_vector.end());
    std::sort(excluded_rows[q].begin(), excluded_rows[q].end());
  }
  for (int64_t q = 0; static_cast<int64_t>(query_products.size()) < queries && q < 50 * queries; ++q) {
    const int64_t p = (q * 104729) % products;
    if (has_vector[p]) query_products.push_back(p);
  }
  // Truth, once for every beam width.
  const std::vector<float>& user_rows = *metric == Metric::kDot ? m.product_vectors : unit;
  std::vector<std::vector<int32_t>> user_truth(queries), similar_truth(query_products.size());
  for (int64_t q = 0; q < queries; ++q) {
    const float* u = m.user(static_cast<int32_t>(query_users[q]));
    const std::vector<float> query = *metric == Metric::kDot ? std::vector<float>(u, u + dim) : Normalized(u, dim);
    user_truth[q] = ExactTopK(user_rows, products, dim, query.data(), excluded_rows[q], k);
  }
  for (size_t q = 0; q < query_products.size(); ++q) {
    std::vector<int32_t> excluded = no_vector;
    excluded.push_back(static_cast<int32_t>(query_products[q]));
    std::sort(excluded.begin(), excluded.end());
    similar_truth[q] = ExactTopK(unit, products, dim, unit.data() + query_products[q] * dim, excluded, k);
  }
  double t = ThreadCpuSeconds();
  for (int64_t q = 0; q < queries; ++q) {
    auto peer = (*exact_index)->Search(m.user(static_cast<int32_t>(query_users[q])), *metric, filters[q], k, 0);
    if (!peer.ok()) return 1;
  }
  const double exact_cpu = ThreadCpuSeconds() - t;

  for (int ef : efs) {
    IndexOptions graph_options = config.index;
    graph_options.ef_search = ef;
    graph_options.exact_below = 0;  // the graph answers whatever the catalogue's size
    auto index = ProductIndex::Load(data_dir + "/models/current", m, graph_options);
    if (!index.ok()) {
      std::fprintf(stderr, "serve_bench measure: %s\n", index.status().ToString().c_str());
      return 1;
    }
    // Each kind of query in its own pass, as a server runs them back to back (interleaving a
    // 40 MB exact scan would evict the graph from the caches and slow HNSW down).
    std::vector<std::vector<ScoredProduct>> user_hits(queries), similar_hits(query_products.size());
    int64_t user_exact = 0, similar_exact = 0;  // answers that fell back to exact search
    SearchStats stats;
    t = ThreadCpuSeconds();
    for (int64_t q = 0; q < queries; ++q) {
      auto got = (*index)->Search(m.user(static_cast<int32_t>(query_users[q])), *metric, filters[q], k, 0, &stats);
      if (got.ok()) user_hits[q] = std::move(got.value());
      user_exact += stats.exact;
    }
    const double hnsw_cpu = ThreadCpuSeconds() - t;
    t = ThreadCpuSeconds();
    for (size_t q = 0; q < query_products.size(); ++q) {
      auto got = (*index)->Similar(m.product_ids[query_products[q]], SearchFilter(), k, 0, &stats);
      if (got.ok()) similar_hits[q] = std::move(got.value());
      similar_exact += stats.exact;
    }
    const double similar_cpu = ThreadCpuSeconds() - t;
    double user_recall = 0, similar_recall = 0;
    for (int64_t q = 0; q < queries; ++q) user_recall += Recall(user_hits[q], user_truth[q]);
    for (size_t q = 0; q < query_products.size(); ++q) similar_recall += Recall(similar_hits[q], similar_truth[q]);
    std::printf("{\"products\":%lld,\"score\":\"%s\",\"hnsw_m\":%d,\"ef_construction\":%d,\"ef_search\":%d,"
                "\"queries\":%lld,\"user_recall_at_20\":%.4f,\"similar_recall_at_20\":%.4f,"
                "\"user_exact_fallbacks\":%lld,\"similar_queries\":%lld,\"similar_exact_fallbacks\":%lld,"
                "\"hnsw_user_query_cpu_us\":%.1f,\"hnsw_similar_query_cpu_us\":%.1f,"
                "\"exact_user_query_cpu_us\":%.1f,\"exact_over_hnsw\":%.1f}\n",
                static_cast<long long>(products), MetricName(*metric), config.index.hnsw_m,
                config.index.ef_construction, ef, static_cast<long long>(queries), user_recall / queries,
                similar_recall / std::max<size_t>(1, query_products.size()), static_cast<long long>(user_exact),
                static_cast<long long>(query_products.size()), static_cast<long long>(similar_exact), hnsw_cpu / queries * 1e6,
                similar_cpu / std::max<size_t>(1, query_products.size()) * 1e6, exact_cpu / queries * 1e6,
                exact_cpu / std::max(1e-9, hnsw_cpu));
  }
  const std::vector<int> candidates = f.candidates.empty() ? std::vector<int>{config.hybrid.serve_candidates} : f.candidates;
  for (int c : candidates)
    if (int rc = MeasureHybrid(m, config, data_dir, query_users, filters, c); rc != 0) return rc;
  return 0;
}

// The hybrid (rank/hybrid_ranker.h) for the same users: per-query CPU time of the served path
// (candidates, above index.exact_below) and of scoring every product, the part of it that is the
// lists and the visual profile (HybridScorer::Prepare), and how much of the exhaustive top 20 the
// candidates find.
int MeasureHybrid(const ModelVersion& m, const Config& config, const std::string& data_dir,
                  const std::vector<int64_t>& query_users, const std::vector<SearchFilter>& filters, int candidates) {
  auto model = std::make_shared<ModelVersion>(m);
  Result<std::unique_ptr<HybridTables>> tables = HybridTables::FromModel(model);
  IndexOptions exhaustive_options = config.index;
  exhaustive_options.exact_below = static_cast<int64_t>(m.product_ids.size()) + 1;
  auto served = ProductIndex::Load(data_dir + "/models/current", m, config.index);
  auto exhaustive = ProductIndex::Load(data_dir + "/models/current", m, exhaustive_options);
  if (!tables.ok() || !served.ok() || !exhaustive.ok()) {
    std::fprintf(stderr, "serve_bench measure: cannot load the hybrid's tables or the index\n");
    return 1;
  }
  HybridScorer scorer(tables->get());
  const int64_t queries = static_cast<int64_t>(query_users.size());
  // What the daemon finds at load (hybrid.nearest_at_load), for every model user, on one thread.
  double t = ThreadCpuSeconds();
  const UserCandidates nearest = UserCandidates::Find(**served, m.user_vectors.data(),
                                                      static_cast<int64_t>(m.user_ids.size()), candidates, 1);
  const double nearest_s = ThreadCpuSeconds() - t;
  const UserCandidates* use_nearest = nullptr;
  auto request = [&](int64_t q) {
    HybridRequest r;
    r.nearest = use_nearest;
    r.user_row = query_users[q];
    r.purchased = filters[q].excluded.data();  // the user's purchases, as index labels
    r.num_purchased = static_cast<int64_t>(filters[q].excluded.size());
    r.user_vector = m.user(static_cast<int32_t>(query_users[q]));
    r.k = 20;
    r.candidates = candidates;
    return r;
  };
  auto run = [&](const ProductIndex& index, std::vector<std::vector<int32_t>>* labels, int64_t* scored) {
    const double t = ThreadCpuSeconds();
    HybridStats stats;
    for (int64_t q = 0; q < queries; ++q) {
      Result<std::vector<RankedProduct>> got = RankHybrid(index, **tables, &scorer, filters[q], request(q), &stats);
      *scored += stats.scored;
      if (got.ok())
        for (const RankedProduct& p : *got) (*labels)[q].push_back(p.label);
    }
    return (ThreadCpuSeconds() - t) / std::max<int64_t>(1, queries) * 1e6;
  };
  std::vector<std::vector<int32_t>> walk_top(queries), candidate_top(queries), exhaustive_top(queries);
  int64_t walk_scored = 0, candidate_scored = 0, exhaustive_scored = 0;
  const double walk_us = run(**served, &walk_top, &walk_scored);
  if (config.hybrid.nearest_at_load) use_nearest = &nearest;
  const double candidate_us = run(**served, &candidate_top, &candidate_scored);
  use_nearest = nullptr;
  const double exhaustive_us = run(**exhaustive, &exhaustive_top, &exhaustive_scored);
  // The served path once 2,000 products were indexed after the nearest were found (copies of
  // model products' vectors), which the ranker scans per query (rank/hybrid_ranker.cc).
  double added_us = 0, added_walk_us = 0;
  if (config.hybrid.nearest_at_load) {
    std::vector<float> v(m.dim);
    for (int i = 0; i < 2000; ++i) {
      const float* row = m.product(i % static_cast<int32_t>(m.product_ids.size()));
      v.assign(row, row + m.dim);
      const std::string id = "added-" + std::to_string(i);
      if (!(*served)->AddProduct(id, v).ok()) return 1;
      (*tables)->AddProduct((*served)->Find(id), nullptr);  // as the daemon's live embedding does
    }
    std::vector<std::vector<int32_t>> added_top(queries);
    int64_t added_scored = 0;
    added_walk_us = run(**served, &added_top, &added_scored);
    use_nearest = &nearest;
    added_us = run(**served, &added_top, &added_scored);
    use_nearest = nullptr;
  }
  t = ThreadCpuSeconds();
  for (int64_t q = 0; q < queries; ++q) {
    const HybridRequest r = request(q);
    scorer.Prepare({r.purchased, r.num_purchased, r.user_vector});
  }
  const double prepare_us = (ThreadCpuSeconds() - t) / std::max<int64_t>(1, queries) * 1e6;
  auto overlap = [&](const std::vector<std::vector<int32_t>>& tops) {
    double sum = 0;
    for (int64_t q = 0; q < queries; ++q) {
      std::vector<int32_t> a = tops[q], b = exhaustive_top[q];
      std::sort(a.begin(), a.end());
      std::sort(b.begin(), b.end());
      std::vector<int32_t> both;
      std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(both));
      sum += b.empty() ? 1.0 : static_cast<double>(both.size()) / b.size();
    }
    return sum / std::max<int64_t>(1, queries);
  };
  // served_*: the daemon's path (nearest found at load when hybrid.nearest_at_load); walk_*: the
  // graph walked per query, as for a fold-in user or a category.
  std::printf("{\"hybrid\":true,\"products\":%lld,\"queries\":%lld,\"serve_candidates\":%d,\"weights\":%s,"
              "\"nearest_at_load\":%s,\"served_query_cpu_us\":%.1f,\"served_scored_per_query\":%.0f,"
              "\"served_top20_in_exhaustive_top20\":%.4f,\"walk_query_cpu_us\":%.1f,\"walk_scored_per_query\":%.0f,"
              "\"walk_top20_in_exhaustive_top20\":%.4f,\"nearest_at_load_cpu_us_per_user\":%.1f,"
              "\"nearest_at_load_mib\":%.1f,\"served_query_cpu_us_2000_added\":%.1f,\"walk_query_cpu_us_2000_added\":%.1f,"
              "\"exhaustive_query_cpu_us\":%.1f,"
              "\"lists_and_profile_cpu_us\":%.1f}\n",
              static_cast<long long>(m.product_ids.size()), static_cast<long long>(queries), candidates,
              (*tables)->weights().ToJson().c_str(), config.hybrid.nearest_at_load ? "true" : "false", candidate_us,
              static_cast<double>(candidate_scored) / std::max<int64_t>(1, queries), overlap(candidate_top), walk_us,
              static_cast<double>(walk_scored) / std::max<int64_t>(1, queries), overlap(walk_top),
              nearest_s / std::max<size_t>(1, m.user_ids.size()) * 1e6,
              static_cast<double>(nearest.bytes()) / (1 << 20), added_us, added_walk_us, exhaustive_us, prepare_us);
  return 0;
}

int Setup(const SetupFlags& f) {
  const std::string& data_dir = f.measure.data_dir;
  if (data_dir.empty()) {
    std::fprintf(stderr, "serve_bench setup: --data-dir is required\n");
    return 2;
  }
  const int64_t products = f.products, users = f.users, purchases = f.purchases;
  const int32_t dim = f.dim, feature_dim = f.feature_dim, clusters = f.clusters;
  const float spread = f.spread;
  Config config;
  if (!f.measure.config.empty()) {
    if (Status s = LoadConfigFile(f.measure.config, &config); !s.ok()) {
      std::fprintf(stderr, "serve_bench setup: %s\n", s.ToString().c_str());
      return 2;
    }
  }
  config.store.data_dir = data_dir;
  config.store.sync_writes = false;
  LogOptions quiet;
  quiet.level = "warn";
  ConfigureLogging(quiet);
  std::filesystem::remove_all(data_dir);

  // Embeddings: products and users around the same 1000 centres.
  ClusteredSpec spec;
  spec.n = products;
  spec.dim = dim;
  spec.clusters = clusters;
  spec.spread = spread;
  spec.noise = 0.05f;
  spec.seed = 1;
  const std::vector<float> product_vectors = ClusteredVectors(spec);
  spec.n = users;
  spec.point_seed = 99;
  const std::vector<float> user_vectors = ClusteredVectors(spec);

  // The store, through the applier: products (features, category), then purchases near the user.
  auto t0 = Clock::now();
  auto store = GraphStore::Open(config.store);
  if (!store.ok()) {
    std::fprintf(stderr, "serve_bench setup: %s\n", store.status().ToString().c_str());
    return 1;
  }
  MetricsRegistry metrics;
  EventApplier applier(store->get(), &metrics);
  std::vector<Event> batch;
  std::vector<UpdateOutcome> outcomes;
  auto flush = [&] {
    outcomes.resize(batch.size());
    Status s = applier.Apply(batch.data(), batch.size(), {}, outcomes.data());
    if (!s.ok()) std::fprintf(stderr, "serve_bench setup: %s\n", s.ToString().c_str());
    batch.clear();
    return s.ok();
  };
  for (int64_t p = 0; p < products; ++p) {
    Event e;
    e.type = UpdateType::kProduct;
    e.product = "p" + std::to_string(p);
    e.has_features = true;
    e.features = Features(p, feature_dim);
    e.has_categories = true;
    e.categories = {"cat-" + std::to_string(p % 50)};
    batch.push_back(std::move(e));
    if (batch.size() == 8192 && !flush()) return 1;
  }
  std::mt19937_64 rng(5);
  std::vector<std::vector<int32_t>> bought(users);
  for (int64_t u = 0; u < users; ++u) {
    // Purchases inside the user's cluster (same i % clusters), as a trained model would place them.
    for (int64_t i = 0; i < purchases; ++i) {
      const int64_t per_cluster = products / clusters;
      const int64_t p = (u % clusters) + clusters * static_cast<int64_t>(rng() % std::max<int64_t>(1, per_cluster));
      Event e;
      e.type = UpdateType::kPurchase;
      e.user = "u" + std::to_string(u);
      e.product = "p" + std::to_string(p);
      bought[u].push_back(static_cast<int32_t>(p));
      batch.push_back(std::move(e));
      if (batch.size() == 8192 && !flush()) return 1;
    }
    std::sort(bought[u].begin(), bought[u].end());
    bought[u].erase(std::unique(bought[u].begin(), bought[u].end()), bought[u].end());
  }
  if (!batch.empty() && !flush()) return 1;
  const double store_seconds = Seconds(t0, Clock::now());
  store->reset();

  // The model version, written and indexed as a retraining writes it.
  ModelVersion m;
  ModelRegistry registry(data_dir + "/models", 5);
  if (!registry.Init().ok()) return 1;
  m.version = registry.NewVersionName();
  m.trained_at = "2026-01-01T00:00:00Z";
  m.score = "cosine";
  m.dim = dim;
  for (int64_t u = 0; u < users; ++u) m.user_ids.push_back("u" + std::to_string(u));
  for (int64_t p = 0; p < products; ++p) m.product_ids.push_back("p" + std::to_string(p));
  m.user_vectors = user_vectors;
  m.product_vectors = product_vectors;
  m.product_kind.assign(products, static_cast<uint8_t>(ProductKind::kWarm));
  m.popularity.assign(products, 0.0f);
  for (const auto& b : bought)
    for (int32_t p : b) m.popularity[p] += 1.0f;
  m.encoder = RandomEncoder(feature_dim, dim, 3);
  // The hybrid's parts as a retraining makes them: RP3β lists from the purchases, the products'
  // standardised features, and weights with every term on (the cost of the formula, not a
  // quality claim: the weights are the ones TikTok's served model chose at e6718b7, seed 42; with
  // freshness on, serving also scores the newest products as candidates).
  t0 = Clock::now();
  InteractionGraph graph;
  graph.num_users = static_cast<int32_t>(users);
  graph.num_products = static_cast<int32_t>(products);
  graph.user_offsets.push_back(0);
  for (const auto& b : bought) {
    graph.product_index.insert(graph.product_index.end(), b.begin(), b.end());
    graph.user_offsets.push_back(static_cast<int64_t>(graph.product_index.size()));
  }
  graph.weight.assign(graph.product_index.size(), 1.0f);
  NeighbourBuildOptions lists_options;
  lists_options.top_k = config.neighbours.top_k;
  m.neighbour_lists = BuildRp3bLists(CoPurchaseGraph::Build(graph, config.neighbours.max_user_degree, 1), 0.8, 0.0,
                                     lists_options);
  FeatureMatrix features;
  features.dim = feature_dim;
  features.present.assign(products, 1);
  for (int64_t p = 0; p < products; ++p) {
    const std::vector<float> f = Features(p, feature_dim);
    features.values.insert(features.values.end(), f.begin(), f.end());
  }
  SetVisualRows(features, &m);
  const double lists_seconds = Seconds(t0, Clock::now());
  m.manifest_extra_json = R"({"validation":{"synthetic":true},"hybrid":{"weights":)"
                          R"({"neighbours":1,"ease":0,"vasg":2,"popularity":1.6,"freshness":1.6,"visual":0.1,)"
                          R"("cold_visual":0.25,"cold_order":true,"cold_order_visual":1}}})";
  const std::string staging = registry.StagingDir("bench");
  t0 = Clock::now();
  if (Status s = WriteModelVersion(staging, m); !s.ok()) {
    std::fprintf(stderr, "serve_bench setup: %s\n", s.ToString().c_str());
    return 1;
  }
  auto index = ProductIndex::Build(m, config.index, 0);
  if (!index.ok()) {
    std::fprintf(stderr, "serve_bench setup: %s\n", index.status().ToString().c_str());
    return 1;
  }
  const double build_seconds = Seconds(t0, Clock::now());
  if (!(*index)->Save(staging).ok()) return 1;
  for (const std::string& file : ProductIndex::FileNames(Metric::kCosine)) {
    if (!RecordFileChecksum(staging, file).ok()) return 1;
  }
  if (!registry.Publish(staging, m.version).ok()) return 1;

  std::printf("{\"products\":%lld,\"users\":%lld,\"dim\":%d,\"purchases_per_user\":%lld,\"store_load_seconds\":%.1f,"
              "\"lists_and_visual_seconds\":%.1f,\"index_build_seconds\":%.1f,\"version\":\"%s\"}\n",
              static_cast<long long>(products), static_cast<long long>(users), dim, static_cast<long long>(purchases),
              store_seconds, lists_seconds, build_seconds, m.version.c_str());
  return Measure(f.measure);
}

int Load(const LoadFlags& f) {
  if (f.endpoint != "users" && f.endpoint != "similar") {
    std::fprintf(stderr, "serve_bench load: --endpoint is users or similar, not '%s'\n", f.endpoint.c_str());
    return 2;
  }
  std::mt19937_64 rng(static_cast<uint64_t>(f.seed));
  const bool users = f.endpoint == "users";
  auto target = [&](int64_t) {
    return users ? "/v1/users/u" + std::to_string(rng() % static_cast<uint64_t>(f.users)) + "/recommendations?k=20"
                 : "/v1/products/p" + std::to_string(rng() % static_cast<uint64_t>(f.products)) + "/similar?k=20";
  };
  OpenLoopOptions o;
  o.port = static_cast<uint16_t>(f.port);
  o.rate = f.rate;
  o.seconds = f.seconds;
  o.connections = static_cast<int>(f.connections);
  OpenLoopResult r;
  std::string error;
  if (!RunOpenLoop(o, target, &r, &error)) {
    std::fprintf(stderr, "serve_bench load: %s\n", error.c_str());
    return 1;
  }
  std::printf("{\"endpoint\":\"%s\",\"open_loop\":true,\"rate\":%.0f,\"connections\":%d,\"sent\":%lld,"
              "\"answered\":%lld,\"non_2xx\":%lld,\"failed\":%lld,\"answered_per_second\":%.0f,"
              "\"p50_ms\":%.2f,\"p90_ms\":%.2f,\"p99_ms\":%.2f,\"p999_ms\":%.2f,\"max_ms\":%.2f}\n",
              f.endpoint.c_str(), f.rate, o.connections, static_cast<long long>(r.sent),
              static_cast<long long>(r.answered), static_cast<long long>(r.non_2xx), static_cast<long long>(r.failed),
              r.seconds > 0 ? static_cast<double>(r.answered) / r.seconds : 0.0, r.QuantileMs(0.5), r.QuantileMs(0.9),
              r.QuantileMs(0.99), r.QuantileMs(0.999), r.QuantileMs(1.0));
  std::string per_second;
  for (int32_t t = 0; t < static_cast<int32_t>(std::ceil(f.seconds)); ++t)
    per_second += (t ? "," : "") + std::to_string(std::lround(r.QuantileMs(0.99, t) * 100) / 100.0).substr(0, 5);
  std::fprintf(stderr, "p99 ms per second: [%s]\n", per_second.c_str());
  return r.failed == 0 && r.non_2xx == 0 ? 0 : 1;
}

int Ingest(const IngestFlags& f) {
  const uint16_t port = static_cast<uint16_t>(f.port);
  const int64_t rate = f.rate, seconds = f.seconds, users = f.users, products = f.products, run = f.run;
  const int32_t feature_dim = f.feature_dim;
  const auto tick = std::chrono::milliseconds(50);
  const int64_t per_tick = std::max<int64_t>(1, rate / 20);
  std::mt19937_64 rng(11 + run);
  int64_t sent = 0, accepted = 0, failures = 0, new_products = 0;
  testing_http::Connection* conn = nullptr;
  const auto start = Clock::now();
  auto next = start;
  while (Clock::now() - start < std::chrono::seconds(seconds)) {
    std::string body = "[";
    for (int64_t i = 0; i < per_tick; ++i) {
      if (i) body += ",";
      const uint64_t r = rng() % 100;
      if (r < 94) {
        const int64_t u = (r < 4) ? users + static_cast<int64_t>(rng() % 100000) : static_cast<int64_t>(rng() % users);
        body += R"({"type":"purchase","user":"u)" + std::to_string(u) + R"(","product":"p)" +
                std::to_string(rng() % products) + "\"}";
      } else if (r < 99) {
        std::string feats = "[";
        for (float x : Features(products + run * 1000000 + new_products, feature_dim)) {
          feats += (feats.size() > 1 ? "," : "") + std::to_string(x);
        }
        feats += "]";
        body += R"({"type":"product","product":"new-)" + std::to_string(run) + "-" + std::to_string(new_products++) +
                R"(","features":)" + feats +
                R"(,"categories":["cat-1"]})";
      } else {
        body += R"({"type":"product","product":"p)" + std::to_string(rng() % products) + R"(","available":)" +
                (rng() % 2 ? "true" : "false") + "}";
      }
    }
    body += "]";
    if (!conn) conn = new testing_http::Connection(port);
    const std::string req = "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
                            std::to_string(body.size()) + "\r\n\r\n" + body;
    testing_http::Response resp;
    if (conn->Send(req)) resp = conn->Read(std::chrono::milliseconds(5000));
    sent += per_tick;
    if (resp.status == 200) {
      const size_t at = resp.body.find("\"accepted\":");
      accepted += at == std::string::npos ? 0 : std::atoll(resp.body.c_str() + at + 11);
    } else {
      if (failures++ < 3) {
        std::fprintf(stderr, "serve_bench ingest: HTTP %d: %s\n", resp.status, resp.body.substr(0, 300).c_str());
      }
    }
    if (resp.status != 200 || resp.closed) {
      delete conn;
      conn = nullptr;
    }
    next += tick;
    std::this_thread::sleep_until(next);
  }
  delete conn;
  const double elapsed = Seconds(start, Clock::now());
  std::printf("{\"events_sent\":%lld,\"events_accepted\":%lld,\"failed_requests\":%lld,\"seconds\":%.1f,"
              "\"events_per_second\":%.0f,\"new_products\":%lld}\n",
              static_cast<long long>(sent), static_cast<long long>(accepted), static_cast<long long>(failures), elapsed,
              accepted / elapsed, static_cast<long long>(new_products));
  return failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace vasgd

int main(int argc, char** argv) {
  using namespace vasgd;
  static const char* kUsage = "usage: serve_bench setup|measure|ingest|load [--flag value]... (see bench/serve_bench.cc)";
  if (argc < 2) {
    std::fprintf(stderr, "%s\n", kUsage);
    return 2;
  }
  const std::string cmd = argv[1];
  const std::string program = "serve_bench " + cmd;
  if (cmd == "measure") {
    BenchArgs a(program.c_str(), argc, argv, kMeasureFlags, kUsage, 2);
    MeasureFlags f;
    Read(a, &f);
    return a.ok() ? Measure(f) : 2;
  }
  if (cmd == "setup") {
    std::set<std::string> known = kMeasureFlags;
    known.insert({"products", "users", "purchases", "dim", "feature-dim", "clusters", "spread"});
    BenchArgs a(program.c_str(), argc, argv, known, kUsage, 2);
    SetupFlags f;
    Read(a, &f);
    return a.ok() ? Setup(f) : 2;
  }
  if (cmd == "ingest") {
    BenchArgs a(program.c_str(), argc, argv, {"port", "rate", "seconds", "users", "products", "feature-dim", "run"},
                kUsage, 2);
    IngestFlags f;
    Read(a, &f);
    return a.ok() ? Ingest(f) : 2;
  }
  if (cmd == "load") {
    BenchArgs a(program.c_str(), argc, argv, {"port", "rate", "seconds", "connections", "endpoint", "users", "products", "seed"},
                kUsage, 2);
    LoadFlags f;
    Read(a, &f);
    return a.ok() ? Load(f) : 2;
  }
  std::fprintf(stderr, "serve_bench: unknown command %s\n%s\n", cmd.c_str(), kUsage);
  return 2;
}
