// bench/holdout_bench: what the retraining's gate (MeasureServedHoldout, rank/fit.h: the served
// ranking's AUC on the held-out pairs) costs as the catalogue grows, exhaustive against the
// sampled competitors it ranks each pair against above rank/competitors.h's kMaxCompetitors.
// With --choice 1 it times the weight choice instead (ChooseWeights, rank/weight_choice.h: each
// pair's candidates by V over every product), and prints what it chose.
//
//   holdout_bench [--products 100000,1000000] [--pairs 5000] [--dim 100] [--threads 0] [--seed 1] [--choice 0]
//
// A synthetic model: Gaussian user and product vectors (D = --dim), popularity Zipf-like, 10% of
// the products cold, each held-out user with 10 purchases and one held-out product; the weights
// TikTok's served model chose (lists 1, VASG 2, popularity 1.6, freshness 1.6). For each catalogue
// size it prints the seconds and AUC of the exhaustive measure (its peer) and of the sampled one,
// and their ratio; exhaustive runs on at most 500 pairs above 200,000 products (its time is
// linear in the pairs, so the per-pair figure is what it reports).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <random>
#include <vector>

#include "bench/bench_args.h"
#include "rank/competitors.h"
#include "rank/fit.h"
#include "rank/weight_choice.h"

namespace vasgd {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

struct Shop {
  std::shared_ptr<ModelVersion> model;
  InteractionGraph graph;
  HoldoutPairs pairs;
};

Shop MakeShop(int64_t products, int64_t pairs, int32_t dim, uint64_t seed) {
  Shop s;
  auto m = std::make_shared<ModelVersion>();
  m->dim = dim;
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> gauss;
  m->product_vectors.resize(static_cast<size_t>(products) * dim);
  for (float& x : m->product_vectors) x = gauss(rng);
  for (int64_t p = 0; p < products; ++p) {
    m->product_ids.push_back("p" + std::to_string(p));
    const bool cold = p % 10 == 9;
    m->product_kind.push_back(static_cast<uint8_t>(cold ? ProductKind::kCold : ProductKind::kWarm));
    m->popularity.push_back(cold ? 0.f : 1000.f / static_cast<float>(p + 1));
  }
  m->user_vectors.resize(static_cast<size_t>(pairs) * dim);
  for (float& x : m->user_vectors) x = gauss(rng);
  std::uniform_int_distribution<int32_t> any(0, static_cast<int32_t>(products - 1));
  s.graph.num_users = static_cast<int32_t>(pairs);
  s.graph.num_products = static_cast<int32_t>(products);
  s.graph.user_offsets.push_back(0);
  for (int64_t u = 0; u < pairs; ++u) {
    m->user_ids.push_back("u" + std::to_string(u));
    for (int i = 0; i < 10; ++i) {
      s.graph.product_index.push_back(any(rng));
      s.graph.weight.push_back(1);
    }
    s.graph.user_offsets.push_back(static_cast<int64_t>(s.graph.product_index.size()));
    s.pairs.users.push_back(static_cast<int32_t>(u));
    s.pairs.products.push_back(any(rng));
  }
  s.model = m;
  return s;
}

// ChooseWeights over the shop's pairs with grids like the shipped ones (V, popularity, freshness).
// Each user's vector leans towards their held-out product's (+ 0.4 of it), so V ranks it above chance.
void TimeChoice(const Shop& shop, int64_t products, int threads) {
  auto model = std::make_shared<ModelVersion>(*shop.model);
  for (size_t i = 0; i < shop.pairs.users.size(); ++i) {
    float* u = model->user_vectors.data() + static_cast<size_t>(shop.pairs.users[i]) * model->dim;
    const float* t = model->product(shop.pairs.products[i]);
    for (int j = 0; j < model->dim; ++j) u[j] += 0.4f * t[j];
  }
  ChoiceOptions o;
  o.threads = threads;
  o.grids.vasg = {0, 0.5f, 1, 2};
  o.grids.popularity = {0, 0.4f, 1.6f};
  o.grids.freshness = {0, 1.6f};
  HybridTables tables(model, HybridWeights());
  const auto t0 = Clock::now();
  Result<WeightChoice> c = ChooseWeights(tables, shop.pairs, o);
  const double s = Seconds(t0);
  if (!c.ok()) {
    std::fprintf(stderr, "%s\n", c.status().ToString().c_str());
    return;
  }
  std::printf("{\"products\":%lld,\"pairs\":%lld,\"choice_seconds\":%.2f,\"settings\":%lld,\"recall\":%.6f,"
              "\"ndcg\":%.6f,\"weights\":%s}\n",
              static_cast<long long>(products), static_cast<long long>(c->pairs), s,
              static_cast<long long>(c->settings_tried), c->best.recall, c->best.ndcg, c->weights.ToJson().c_str());
  std::fflush(stdout);
}

int Main(int argc, char** argv) {
  const char* usage =
      "usage: holdout_bench [--products 100000,1000000] [--pairs 5000] [--dim 100] [--threads 0] [--seed 1] [--choice 0]";
  BenchArgs args("holdout_bench", argc, argv, {"products", "pairs", "dim", "threads", "seed", "choice"}, usage);
  std::vector<int> sizes = {100000, 1000000};
  int64_t pairs = 5000, seed = 1;
  int32_t dim = 100;
  int threads = 0, choice = 0;
  args.Number("choice", &choice);
  args.IntList("products", &sizes);
  args.Number("pairs", &pairs);
  args.Number("dim", &dim);
  args.Number("threads", &threads);
  args.Number("seed", &seed);
  if (!args.ok()) return 2;
  HybridWeights w;
  w.neighbours = 1;
  w.vasg = 2;
  w.popularity = 1.6f;
  w.freshness = 1.6f;
  for (int products : sizes) {
    Shop shop = MakeShop(products, pairs, dim, static_cast<uint64_t>(seed));
    shop.pairs.train = &shop.graph;  // here: MakeShop's graph moved with the Shop
    if (choice) {
      TimeChoice(shop, products, threads);
      continue;
    }
    auto t0 = Clock::now();
    const double sampled = MeasureServedHoldout(shop.model, w, shop.pairs, threads);
    const double sampled_s = Seconds(t0);
    // The exhaustive peer on the first pairs only past 200,000 products: linear in the pairs.
    HoldoutPairs some = shop.pairs;
    if (products > 200000 && some.users.size() > 500) {
      some.users.resize(500);
      some.products.resize(500);
    }
    t0 = Clock::now();
    const double all = MeasureServedHoldout(shop.model, w, some, threads, products);
    const double all_s = Seconds(t0) * static_cast<double>(shop.pairs.users.size()) / static_cast<double>(some.users.size());
    std::printf("{\"products\":%d,\"pairs\":%lld,\"dim\":%d,\"competitors\":%lld,\"sampled_seconds\":%.2f,"
                "\"sampled_auc\":%.4f,\"exhaustive_seconds\":%.2f,\"exhaustive_pairs_run\":%zu,\"exhaustive_auc\":%.4f,"
                "\"exhaustive_over_sampled\":%.1f}\n",
                products, static_cast<long long>(pairs), dim,
                static_cast<long long>(std::min<int64_t>(products, kMaxCompetitors)), sampled_s, sampled, all_s,
                some.users.size(), all, all_s / std::max(1e-9, sampled_s));
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace
}  // namespace vasgd

int main(int argc, char** argv) { return vasgd::Main(argc, argv); }
