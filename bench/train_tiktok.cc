// Trains VASG on a dataset directory laid out like ../shared/data/tiktok and prints the training
// figures (wall time per epoch, pairs/s) and a quick test-split check (Recall@20, NDCG@20, AUCs)
// with the eval/ metrics. The CPU half of bench/train_vs_gensim.sh, and the quick quality probe
// used to choose the trainer's defaults (the full sweep is `vasgd eval`).
//
//   train_tiktok DIR [--set 'train.negatives=5;train.epochs=5'] [--score dot|cosine|both]
//                    [--warm-start] [--incremental FRACTION]
//
// --incremental F: the warm-start experiment. Trains a base model on the training graph with a
// fraction F of its edges held back, then on the full graph (a) warm-started from the base with
// ceil(epochs × warm_start_epoch_fraction) epochs, (b) from scratch with as many epochs, and
// (c) from scratch with all epochs; prints each one's figures.
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <string>

#include "common/config_file.h"
#include "common/log.h"
#include "eval/eval_data.h"
#include "eval/ranking_metrics.h"
#include "eval/scorer.h"
#include "model/rng.h"
#include "model/trainer.h"
#include "model/tsv.h"

namespace vasgd {
namespace {

std::string TomlValue(const std::string& v) {
  if (v == "true" || v == "false" || v.empty() || v[0] == '[' || v[0] == '"') return v;
  char* end = nullptr;
  std::strtod(v.c_str(), &end);
  return (end != v.c_str() && *end == '\0') ? v : "\"" + v + "\"";
}

Status ApplySet(const std::string& settings, Config* config) {
  std::string toml, item;
  std::istringstream in(settings);
  while (std::getline(in, item, ';')) {
    const size_t eq = item.find('=');
    if (eq == std::string::npos) return Status::InvalidArgument("--set takes key=value;...");
    toml += item.substr(0, eq) + " = " + TomlValue(item.substr(eq + 1)) + "\n";
  }
  return LoadConfigText(toml, config);
}

void PrintMetrics(const char* label, const ModelVersion& m, const EvalData& data, ScoreKind kind) {
  const Embeddings e = EmbeddingsOf(m);
  RankingOptions ro;
  const RankingMetrics r = EvaluateRanking(*MakeEmbeddingScorer(e, kind), data.train.graph, data.test, ro);
  std::printf("%-10s %-6s R@20=%.4f N@20=%.4f R@20warm=%.4f R@20cold=%.4f AUCwarm=%.4f AUCcold=%.4f "
              "AUCcold_among_cold=%.4f\n",
              label, ScoreKindName(kind), r.recall, r.ndcg, r.recall_warm, r.recall_cold, r.auc_warm, r.auc_cold,
              r.auc_cold_among_cold);
}

int Main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: train_tiktok DIR [--set 'train.k=v;...'] [--score dot|cosine|both] [--warm-start]\n");
    return 2;
  }
  Config config;
  std::string score = "both";
  bool warm = false;
  double incremental = 0;
  for (int i = 2; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--set") && i + 1 < argc) {
      Status st = ApplySet(argv[++i], &config);
      if (!st.ok()) {
        std::fprintf(stderr, "%s\n", st.ToString().c_str());
        return 2;
      }
    } else if (!std::strcmp(argv[i], "--score") && i + 1 < argc) {
      score = argv[++i];
    } else if (!std::strcmp(argv[i], "--warm-start")) {
      warm = true;
    } else if (!std::strcmp(argv[i], "--incremental") && i + 1 < argc) {
      incremental = std::atof(argv[++i]);
    } else {
      std::fprintf(stderr, "unknown argument %s\n", argv[i]);
      return 2;
    }
  }
  LogOptions lo;
  lo.level = "warn";
  ConfigureLogging(lo);
  Result<EvalData> data = LoadEvalData(argv[1]);
  if (!data.ok()) {
    std::fprintf(stderr, "%s\n", data.status().ToString().c_str());
    return 1;
  }
  TrainOptions o = config.train;
  auto run = [&](const char* label, const ModelVersion* prev, const TrainingData* train = nullptr) -> Result<ModelVersion> {
    const auto t0 = std::chrono::steady_clock::now();
    Result<ModelVersion> m = Train(train ? *train : data->train, o, prev, nullptr);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!m.ok()) return m;
    std::printf("%-10s %s\n", label, m->manifest_extra_json.c_str());
    std::printf("%-10s total %.1f s\n", label, s);
    if (score == "dot" || score == "both") PrintMetrics(label, *m, *data, ScoreKind::kDot);
    if (score == "cosine" || score == "both") PrintMetrics(label, *m, *data, ScoreKind::kCosine);
    std::fflush(stdout);
    return m;
  };
  if (incremental > 0) {
    // The same ids, a fraction of the edges held back (deterministic).
    TrainingData base = data->train;
    const InteractionGraph& g = data->train.graph;
    std::vector<int32_t> us, ps;
    std::vector<float> ws;
    Rng rng(99);
    for (int32_t u = 0; u < g.num_users; ++u)
      for (int64_t e = g.user_offsets[u]; e < g.user_offsets[u + 1]; ++e)
        if (rng.Uniform() >= incremental) {
          us.push_back(u);
          ps.push_back(g.product_index[e]);
          ws.push_back(g.weight[e]);
        }
    base.graph = BuildInteractionGraph(g.num_users, g.num_products, us, ps, ws);
    std::printf("incremental: base graph %lld of %lld edges\n", static_cast<long long>(base.graph.num_edges()),
                static_cast<long long>(g.num_edges()));
    Result<ModelVersion> b = run("base", nullptr, &base);
    if (!b.ok()) return 1;
    const int full_epochs = o.epochs;
    if (!run("warm", &b.value()).ok()) return 1;
    o.epochs = std::max(1, static_cast<int>(std::ceil(full_epochs * o.warm_start_epoch_fraction)));
    if (!run("cold-same", nullptr).ok()) return 1;
    o.epochs = full_epochs;
    return run("cold-full", nullptr).ok() ? 0 : 1;
  }
  Result<ModelVersion> m = run("train", nullptr);
  if (!m.ok()) {
    std::fprintf(stderr, "%s\n", m.status().ToString().c_str());
    return 1;
  }
  if (warm) {
    Result<ModelVersion> w = run("warmstart", &m.value());
    if (!w.ok()) return 1;
  }
  return 0;
}

}  // namespace
}  // namespace vasgd

int main(int argc, char** argv) { return vasgd::Main(argc, argv); }
