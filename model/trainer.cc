// The VASG trainer. Reading order: Train() at the bottom, then Stage1() and Stage2().
#include "model/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <nlohmann/json.hpp>
#include <thread>
#include <unordered_map>

#include "common/elapsed.h"
#include "common/huge_pages.h"
#include "common/log.h"
#include "model/parallel.h"
#include "model/rng.h"
#include "model/sgns.h"
#include "model/torch_util.h"
#include "model/walks.h"

namespace vasgd {
namespace {

using internal::CudaAutocast;
using internal::ExportMlp;
using internal::ImportMlp;
using internal::MakeMlp;
using json = nlohmann::json;

// Until the evaluation settles it, "auto" ranks by inner product: on TikTok the vector norms carry
// popularity that cosine throws away (docs/EVALUATION.md, ../shared/VASG.md "Known weak spots").
constexpr const char* kAutoScore = "dot";
// Kendall log-variances are clamped so a loss near 0 (no negatives) cannot blow up its weight.
constexpr double kMinLogVar = -2.3, kMaxLogVar = 4.6;  // weights 1/(2σ²) in [0.005, 5]
// Batched path: a row's step per batch counts at most this many of its pairs (torch_util.h).
// Measured on TikTok (CPU, 2 walks/node, 1 epoch, 5 negatives): without a cap 65,536 centres per
// batch diverged to NaN; with 256 it trains like 4,096 centres uncapped (loss 3.977 vs 3.975;
// Hogwild 3.943); 16 or 64 starved popular rows (warm AUC by dot 0.27 / 0.39 vs 0.45).
constexpr int64_t kMaxRowContributions = 256;
// A capped walk corpus (train.max_walk_tokens) scales stage 1's step by 1/share up to this.
constexpr double kMaxBudgetStepScale = 10;

std::string UtcNow(const char* format) {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, format, &tm);
  return buf;
}

// Everything a run shares: the graph, the table, the standardised features, the decoder.
struct Run {
  const TrainingData& data;
  const TrainOptions& opt;
  const ProgressCallback& progress;
  const TrainScope& scope;
  torch::Device device;
  int threads;
  Clock::time_point start = Clock::now();
  Clock::time_point last_report = Clock::now();

  WalkGraph graph;
  int32_t U = 0, P = 0;
  int D = 0;
  std::vector<uint8_t> weighted;  // per node: 1 = product centre with features (skip-gram gets w1)
  torch::Tensor table;            // (U + P) × D on `device`

  // Features, standardised with the mean/std over products that have them.
  int I = 0;
  torch::Tensor features;  // P × I on `device`; rows without features are 0
  std::vector<float> feature_mean, feature_scale;
  bool decoder_on = false;
  torch::nn::Sequential decoder{nullptr};
  torch::Tensor log_var;  // [2]: Kendall s1 (skip-gram), s2 (reconstruction)
  std::unique_ptr<torch::optim::Optimizer> decoder_opt;
  std::vector<int> widths;  // decoder hidden widths

  // Report.
  json losses = json::object();
  double pairs_per_second = 0, stage1_seconds = 0, stage2_seconds = 0, decoder_seconds = 0;
  int64_t pairs_total = 0, tokens_total = 0;
  int epochs_run = 0;
  int encoder_epochs_run = 0;
  double step_scale = 1;  // stage 1's step factor under train.max_walk_tokens
  const ModelVersion* previous = nullptr;  // warm start source, may be null
  bool warm_started = false, encoder_warm_started = false;
  int64_t warm_rows = 0;
  int32_t cold_embedded = 0;

  Run(const TrainingData& d, const TrainOptions& o, const ProgressCallback& p, const TrainScope& sc, torch::Device dev)
      : data(d), opt(o), progress(p), scope(sc), device(dev) {}

  // Where walks start: every node, or the scope's.
  const std::vector<int32_t>* walk_starts() const { return scope.walk_starts.empty() ? nullptr : &scope.walk_starts; }

  double w(int i) const { return 0.5 * std::exp(-log_var[i].item<double>()); }

  // True when a progress report is due (every 0.5 s).
  bool Due() const { return progress && SecondsSince(last_report) >= 0.5; }

  // Sends a report; false = cancelled. stage_fraction: share of stage 1 done (0 outside it).
  bool Emit(TrainProgress pr, double stage_fraction, double remaining_after) {
    last_report = Clock::now();
    if (!progress) return true;
    pr.device = device.is_cuda() ? "cuda" : "cpu";
    pr.elapsed_seconds = SecondsSince(start);
    pr.eta_seconds = remaining_after;
    if (stage_fraction > 0) pr.eta_seconds += SecondsSince(start) / stage_fraction * (1 - stage_fraction);
    return progress(pr);
  }
};

Status Cancelled() { return Status::Unavailable("training cancelled"); }

// ---- set-up ---------------------------------------------------------------------------------

Status Validate(const TrainingData& d, const TrainOptions& o) {
  const InteractionGraph& g = d.graph;
  if (o.dim <= 0 || o.walks_per_node <= 0 || o.walk_length < 2 || o.epochs <= 0 || o.batch_size <= 0)
    return Status::InvalidArgument("train: dim, walks_per_node, epochs and batch_size must be > 0, walk_length >= 2");
  if (o.window < 3 || o.window % 2 == 0)
    return Status::InvalidArgument("train: window must be odd and >= 3 (centre included)");
  if (o.negatives < 0 || o.negatives > 64) return Status::InvalidArgument("train: negatives must be in [0, 64]");
  if (!(o.decoder_sample_rate > 0 && o.decoder_sample_rate <= 1))
    return Status::InvalidArgument("train: decoder_sample_rate must be in (0, 1]");
  if (o.optimizer != "adam" && o.optimizer != "sgd") return Status::InvalidArgument("train: optimizer must be adam or sgd");
  if (!(o.cold_profile_weight >= 0 && o.cold_profile_weight <= 1))
    return Status::InvalidArgument("train: cold_profile_weight must be in [0, 1]");
  if (!(o.encoder_rank_weight >= 0)) return Status::InvalidArgument("train: encoder_rank_weight must be >= 0");
  if (o.score != "auto" && o.score != "cosine" && o.score != "dot")
    return Status::InvalidArgument("train: score must be auto, cosine or dot");
  if (o.kernel != "auto" && o.kernel != "hogwild" && o.kernel != "torch")
    return Status::InvalidArgument("train: kernel must be auto, hogwild or torch");
  if (o.contexts != "all" && o.contexts != "cross") return Status::InvalidArgument("train: contexts must be all or cross");
  if (g.num_users < 0 || g.num_products < 0 || g.user_offsets.size() != static_cast<size_t>(g.num_users) + 1 ||
      g.product_index.size() != static_cast<size_t>(g.num_edges()) || g.weight.size() != g.product_index.size())
    return Status::InvalidArgument("train: the interaction graph's arrays disagree in size");
  if (d.user_ids.size() != static_cast<size_t>(g.num_users) || d.product_ids.size() != static_cast<size_t>(g.num_products))
    return Status::InvalidArgument("train: id lists disagree with the graph's counts");
  for (int32_t p : g.product_index)
    if (p < 0 || p >= g.num_products) return Status::InvalidArgument("train: a product index is out of range");
  if (g.num_edges() == 0) return Status::InvalidArgument("train: the graph has no purchases");
  const FeatureMatrix& f = d.features;
  if (f.dim < 0 || (f.dim > 0 && (f.values.size() != static_cast<size_t>(g.num_products) * f.dim ||
                                  f.present.size() != static_cast<size_t>(g.num_products))))
    return Status::InvalidArgument("train: the feature matrix disagrees with the number of products");
  return Status::Ok();
}

// Fills `t` (rows × dim) with word2vec's initialisation: uniform in [−0.5/D, 0.5/D].
void InitialiseTable(float* t, int32_t rows, int dim, uint64_t seed) {
  Rng rng(MixSeed(seed, 0x696e6974ull /* "init" */));
  const size_t n = static_cast<size_t>(rows) * dim;
  for (size_t i = 0; i < n; ++i) t[i] = static_cast<float>((rng.Uniform() - 0.5) / dim);
}

// Copies rows of ids the previous version knows; returns how many.
int64_t WarmStartRows(const ModelVersion& prev, const std::vector<std::string>& ids, bool users, int32_t row0,
                      int dim, float* table) {
  std::unordered_map<std::string, int32_t> index;
  const std::vector<std::string>& prev_ids = users ? prev.user_ids : prev.product_ids;
  for (size_t i = 0; i < prev_ids.size(); ++i) index.emplace(prev_ids[i], static_cast<int32_t>(i));
  int64_t copied = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    auto it = index.find(ids[i]);
    if (it == index.end()) continue;
    if (!users && prev.product_kind[it->second] == static_cast<uint8_t>(ProductKind::kNone)) continue;
    const float* src = users ? prev.user(it->second) : prev.product(it->second);
    std::copy(src, src + dim, table + (static_cast<size_t>(row0) + i) * dim);
    ++copied;
  }
  return copied;
}

// The Kendall log-variances a previous version ended with (0, 0 when it has none).
std::vector<float> PreviousLogVar(const ModelVersion& prev) {
  const json extra = json::parse(prev.manifest_extra_json, nullptr, /*allow_exceptions=*/false);
  std::vector<float> out = {0.0f, 0.0f};
  if (extra.is_discarded() || !extra.contains("training")) return out;
  const json& t = extra["training"];
  if (!t.contains("kendall_log_var") || !t["kendall_log_var"].is_array() || t["kendall_log_var"].size() != 2) return out;
  for (int i = 0; i < 2; ++i)
    if (t["kendall_log_var"][i].is_number())
      out[i] = static_cast<float>(std::clamp(t["kendall_log_var"][i].get<double>(), kMinLogVar, kMaxLogVar));
  return out;
}

void SetUpFeatures(Run& r) {
  const FeatureMatrix& f = r.data.features;
  r.I = f.dim;
  if (r.I == 0) return;
  int64_t count = 0;
  std::vector<double> mean(r.I, 0.0), sq(r.I, 0.0);
  for (int32_t p = 0; p < r.P; ++p) {
    if (!f.present[p]) continue;
    ++count;
    for (int j = 0; j < r.I; ++j) mean[j] += f.row(p)[j];
  }
  if (count == 0) {
    r.I = 0;  // a feature dimension but no product with features: plain skip-gram
    return;
  }
  for (int j = 0; j < r.I; ++j) mean[j] /= static_cast<double>(count);
  for (int32_t p = 0; p < r.P; ++p) {
    if (!f.present[p]) continue;
    for (int j = 0; j < r.I; ++j) sq[j] += (f.row(p)[j] - mean[j]) * (f.row(p)[j] - mean[j]);
  }
  r.feature_mean.resize(r.I);
  r.feature_scale.resize(r.I);
  std::vector<float> standard(static_cast<size_t>(r.P) * r.I, 0.0f);
  for (int j = 0; j < r.I; ++j) {
    const double sd = std::sqrt(sq[j] / static_cast<double>(count));
    r.feature_mean[j] = static_cast<float>(mean[j]);
    r.feature_scale[j] = sd > 1e-6 ? static_cast<float>(1.0 / sd) : 1.0f;
  }
  for (int32_t p = 0; p < r.P; ++p) {
    if (!f.present[p]) continue;
    for (int j = 0; j < r.I; ++j)
      standard[static_cast<size_t>(p) * r.I + j] = (f.row(p)[j] - r.feature_mean[j]) * r.feature_scale[j];
  }
  r.features = torch::from_blob(standard.data(), {r.P, r.I}, torch::kFloat32).clone().to(r.device);
}

std::unique_ptr<torch::optim::Optimizer> MakeOptimizer(const TrainOptions& o, std::vector<torch::Tensor> params) {
  if (o.optimizer == "sgd")
    return std::make_unique<torch::optim::SGD>(params, torch::optim::SGDOptions(o.learning_rate));
  return std::make_unique<torch::optim::Adam>(params, torch::optim::AdamOptions(o.learning_rate));
}

// An uninitialised CPU table (rows × dim) in huge-page memory (common/huge_pages.h: the Hogwild
// kernel reads and writes 1 + negatives random rows per pair), in ordinary memory where there
// is none. Filled in place, where a staging vector used to hold a second copy (689 MiB at 1M).
torch::Tensor HugePagesTable(int32_t rows, int dim) {
  HugePagesBuffer buffer = AllocateHugePages(static_cast<size_t>(rows) * dim * sizeof(float));
  if (!buffer) return torch::empty({rows, dim}, torch::kFloat32);
  const HugePagesUnmap unmap = buffer.get_deleter();
  return torch::from_blob(buffer.release(), {rows, dim}, [unmap](void* p) { unmap(p); }, torch::kFloat32);
}

// The embedding table: word2vec's initialisation, then the rows a previous version knows (warm
// start, same dim). Returns the number of stage-1 epochs to run.
int SetUpTable(Run& r) {
  const TrainOptions& o = r.opt;
  torch::Tensor table = r.device.is_cpu() ? HugePagesTable(r.U + r.P, r.D) : torch::empty({r.U + r.P, r.D}, torch::kFloat32);
  float* init = table.data_ptr<float>();
  InitialiseTable(init, r.U + r.P, r.D, o.seed);
  int epochs = o.epochs;
  if (r.previous && r.previous->dim == r.D) {
    r.warm_rows = WarmStartRows(*r.previous, r.data.user_ids, true, 0, r.D, init) +
                  WarmStartRows(*r.previous, r.data.product_ids, false, r.U, r.D, init);
    r.warm_started = r.warm_rows > 0;
    if (r.warm_started) epochs = std::max(1, static_cast<int>(std::ceil(o.epochs * o.warm_start_epoch_fraction)));
  } else if (r.previous) {
    Log(LogLevel::kWarn, "train.warm_start_skipped", {{"reason", "dimension changed"}});
  }
  if (r.device.is_cpu()) {  // how much the kernel backed with huge pages, once the rows are touched
    Log(LogLevel::kInfo, "train.table", {{"mib", static_cast<double>(table.nbytes()) / (1 << 20)},
                                         {"huge_pages_mib", static_cast<double>(HugePagesBacking(init)) / (1 << 20)}});
  }
  r.table = r.device.is_cpu() ? table : table.to(r.device);
  return epochs;
}

// The decoder M⁻¹ and the Kendall log-variances, when there are warm products with features
// and the decoder is on; from the previous version's when warm-starting.
void SetUpDecoder(Run& r) {
  const TrainOptions& o = r.opt;
  r.weighted.assign(static_cast<size_t>(r.U + r.P), 0);
  for (int32_t p = 0; p < r.P; ++p)
    r.weighted[r.U + p] = r.I > 0 && r.data.features.present[p] && r.graph.degree(r.U + p) > 0;
  r.decoder_on = o.use_decoder && r.I > 0 && std::find(r.weighted.begin(), r.weighted.end(), 1) != r.weighted.end();
  if (r.I > 0) r.widths = o.decoder_widths.empty() ? DefaultDecoderWidths(r.I, r.D) : o.decoder_widths;
  if (!r.decoder_on) return;
  std::vector<int> dec = {r.D};
  dec.insert(dec.end(), r.widths.begin(), r.widths.end());
  dec.push_back(r.I);
  r.decoder = MakeMlp(dec, o.dropout);
  if (r.warm_started && !r.previous->decoder.empty()) ImportMlp(r.previous->decoder, r.decoder);
  r.decoder->to(r.device);
  const std::vector<float> log_var = r.warm_started ? PreviousLogVar(*r.previous) : std::vector<float>{0.0f, 0.0f};
  r.log_var = torch::tensor(log_var, torch::kFloat32).to(r.device).requires_grad_(true);
  std::vector<torch::Tensor> params = r.decoder->parameters();
  params.push_back(r.log_var);
  r.decoder_opt = MakeOptimizer(o, params);
}

// ---- stage 1 --------------------------------------------------------------------------------

struct SegmentResult {
  SgnsStats stats;
  int64_t tokens = 0;                 // walk nodes trained as centres
  std::vector<int32_t> decoder_rows;  // product node ids sampled for a decoder step
};

// Hogwild: every worker generates its walks and trains them on the table's memory directly.
SegmentResult HogwildSegment(Run& r, WorkerPool& pool, const WalkCorpus& corpus, const NegativeSampler& sampler,
                             int64_t begin, int64_t end, int epoch, float lr, const SgnsSettings& s) {
  struct alignas(64) PerWorker {  // own cache lines: the counters are bumped per centre
    SgnsStats stats;
    int64_t tokens = 0;
    std::vector<int32_t> walk, centres, sampled;
    std::vector<float> scratch;
  };
  std::vector<PerWorker> work(pool.size());
  float* table = r.table.data_ptr<float>();
  const double q = r.opt.decoder_sample_rate;
  pool.Run(end - begin, 8, [&](int w, int64_t k) {
    PerWorker& pw = work[w];
    if (pw.walk.empty()) {
      pw.walk.resize(corpus.walk_length());
      pw.scratch.resize(r.D);
    }
    const int64_t i = begin + k;
    const int32_t len = corpus.Walk(i, pw.walk.data());
    pw.tokens += len;
    Rng rng(MixSeed(r.opt.seed, 0x73676e73ull + static_cast<uint64_t>(epoch), static_cast<uint64_t>(i)));
    pw.centres.clear();
    SgnsTrainWalk(table, r.D, r.graph, pw.walk.data(), len, s, sampler, lr, &rng, pw.scratch.data(), &pw.stats,
                  r.decoder_on ? &pw.centres : nullptr);
    for (int32_t c : pw.centres)
      if (r.weighted[c] && rng.Uniform() < q) pw.sampled.push_back(c);
  });
  SegmentResult out;
  for (PerWorker& pw : work) {
    out.stats.Add(pw.stats);
    out.tokens += pw.tokens;
    out.decoder_rows.insert(out.decoder_rows.end(), pw.sampled.begin(), pw.sampled.end());
  }
  return out;
}

// Batched LibTorch: workers turn walks into homogeneous pair lists (user centres, product
// centres) with negatives; the device trains them in batches of ~batch_size centres.
SegmentResult TorchSegment(Run& r, WorkerPool& pool, const WalkCorpus& corpus, const NegativeSampler& sampler,
                           int64_t begin, int64_t end, int epoch, float lr, const SgnsSettings& s) {
  const int K = std::max(1, s.negatives);
  struct Pairs {
    std::vector<int64_t> centre, context, negs;
    std::vector<float> mask, weight;
  };
  struct PerWorker {
    Pairs by_type[2];
    std::vector<int32_t> walk, sampled;
    SgnsStats stats;
    int64_t tokens = 0;
  };
  std::vector<PerWorker> work(pool.size());
  const double q = r.opt.decoder_sample_rate;
  const float w1 = s.product_weight;
  pool.Run(end - begin, 8, [&](int w, int64_t k) {
    PerWorker& pw = work[w];
    if (pw.walk.empty()) pw.walk.resize(corpus.walk_length());
    const int64_t i = begin + k;
    const int32_t len = corpus.Walk(i, pw.walk.data());
    pw.tokens += len;
    Rng rng(MixSeed(r.opt.seed, 0x73676e73ull + static_cast<uint64_t>(epoch), static_cast<uint64_t>(i)));
    for (int32_t a = 0; a < len; ++a) {
      const int32_t c = pw.walk[a];
      const int type = r.graph.is_user(c) ? 0 : 1;
      if (type == 1 && r.decoder_on && r.weighted[c] && rng.Uniform() < q) pw.sampled.push_back(c);
      const int side = s.shrink_window ? 1 + static_cast<int>(rng.Below(static_cast<uint32_t>(s.window_side)))
                                       : s.window_side;
      Pairs& p = pw.by_type[type];
      for (int32_t b = std::max(0, a - side); b <= std::min(len - 1, a + side); ++b) {
        const int32_t v = pw.walk[b];
        if (v == c) continue;
        if (s.cross_type_only && r.graph.is_user(v) == (type == 0)) continue;
        p.centre.push_back(c);
        p.context.push_back(v);
        p.weight.push_back(type == 1 && r.weighted[c] ? w1 : 1.0f);
        for (int n = 0; n < K; ++n) {
          const int32_t x = s.negatives > 0 ? sampler.Sample(r.graph.is_user(v), &rng) : c;
          p.negs.push_back(x);
          p.mask.push_back(s.negatives > 0 && x != c && x != v ? 1.0f : 0.0f);
        }
        ++pw.stats.pairs[type];
      }
    }
  });
  SegmentResult out;
  torch::NoGradGuard no_grad;
  const auto i64 = torch::TensorOptions().dtype(torch::kInt64);
  const auto f32 = torch::TensorOptions().dtype(torch::kFloat32);
  const int64_t pairs_per_batch = static_cast<int64_t>(r.opt.batch_size) * 2 * s.window_side;
  for (PerWorker& pw : work) {
    for (int type = 0; type < 2; ++type) {
      Pairs& p = pw.by_type[type];
      const int64_t n = static_cast<int64_t>(p.centre.size());
      torch::Tensor loss = torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat64).device(r.device));
      for (int64_t b0 = 0; b0 < n; b0 += pairs_per_batch) {
        const int64_t m = std::min(pairs_per_batch, n - b0);
        auto dev = [&](auto* data, std::vector<int64_t> shape, const torch::TensorOptions& o) {
          return torch::from_blob(data, shape, o).to(r.device);
        };
        torch::Tensor centre = dev(p.centre.data() + b0, {m}, i64);
        torch::Tensor context = dev(p.context.data() + b0, {m}, i64);
        torch::Tensor negs = dev(p.negs.data() + b0 * K, {m, K}, i64);
        torch::Tensor mask = dev(p.mask.data() + b0 * K, {m, K}, f32);
        torch::Tensor weight = dev(p.weight.data() + b0, {m}, f32);
        // Summed on the device: one host synchronisation per segment, not per batch.
        loss += internal::SgnsBatchStep(r.table, centre, context, negs, mask, weight, lr, kMaxRowContributions)
                    .to(torch::kFloat64);
      }
      pw.stats.loss[type] += loss.item<double>();
    }
    out.stats.Add(pw.stats);
    out.tokens += pw.tokens;
    out.decoder_rows.insert(out.decoder_rows.end(), pw.sampled.begin(), pw.sampled.end());
  }
  return out;
}

// One Adam step of the decoder and the Kendall weights on the sampled product centres, and the
// matching SGD step of their embeddings. mean_pair_loss is L1 of the segment (skip-gram).
double DecoderStep(Run& r, std::vector<int32_t>& rows, double mean_pair_loss, float lr) {
  const double q = r.opt.decoder_sample_rate;
  torch::Tensor s = r.log_var;
  double recon_sum = 0;
  int64_t recon_rows = 0;
  r.decoder->train();
  const int64_t n = static_cast<int64_t>(rows.size());
  const int64_t batch = std::max<int64_t>(1, r.opt.batch_size);
  for (int64_t b0 = 0; b0 < std::max<int64_t>(n, 1); b0 += batch) {
    const int64_t m = std::min(batch, n - b0);
    // Kendall term of L1 (the segment's skip-gram loss), in the first batch only.
    torch::Tensor loss = b0 == 0 ? 0.5 * torch::exp(-s[0]) * mean_pair_loss + 0.5 * s[0]
                                 : torch::zeros({}, s.options());
    torch::Tensor node_idx, x;
    if (m > 0) {
      std::vector<int64_t> nodes(rows.begin() + b0, rows.begin() + b0 + m), prods(static_cast<size_t>(m));
      for (int64_t k = 0; k < m; ++k) prods[k] = nodes[k] - r.U;
      node_idx = torch::tensor(nodes, torch::kInt64).to(r.device);
      torch::Tensor prod_idx = torch::tensor(prods, torch::kInt64).to(r.device);
      x = r.table.index_select(0, node_idx).detach().requires_grad_(true);
      torch::Tensor pred;
      {
        CudaAutocast autocast(r.device.is_cuda() && r.opt.mixed_precision);
        pred = r.decoder->forward(x);
      }
      torch::Tensor per_row = (pred.to(torch::kFloat32) - r.features.index_select(0, prod_idx)).pow(2).mean(1);
      torch::Tensor l2 = per_row.mean();
      loss = loss + 0.5 * torch::exp(-s[1]) * l2 + 0.5 * s[1];
      recon_sum += l2.item<double>() * static_cast<double>(m);
      recon_rows += m;
    }
    r.decoder_opt->zero_grad();
    loss.backward();
    r.decoder_opt->step();
    torch::NoGradGuard no_grad;
    r.log_var.clamp_(kMinLogVar, kMaxLogVar);
    if (m > 0) {
      // x.grad = w2/m · ∂r_i/∂x_i; the per-occurrence step is lr · w2 · ∂r_i, and 1/q makes the
      // sampled occurrences stand for all of them (unbiased).
      r.table.index_add_(0, node_idx, x.grad(), -lr * static_cast<double>(m) / q);
    }
    if (m <= 0) break;
  }
  return recon_rows ? recon_sum / static_cast<double>(recon_rows) : 0.0;
}

Status Stage1(Run& r, int epochs) {
  const TrainOptions& o = r.opt;
  WorkerPool pool(r.threads);
  const NegativeSampler sampler(r.graph, o.negative_power, o.typed_negatives);
  SgnsSettings s;
  s.window_side = (o.window - 1) / 2;
  s.shrink_window = o.shrink_window;
  s.cross_type_only = o.contexts == "cross";
  s.negatives = o.negatives;
  s.weighted = r.weighted.data();
  const bool use_torch = o.kernel == "torch" || (o.kernel == "auto" && r.device.is_cuda());
  if (!use_torch && r.device.is_cuda()) return Status::InvalidArgument("train: kernel hogwild runs on the CPU only");
  // On the CPU, LibTorch runs single-threaded in stage 1: its OpenMP workers spin after every op
  // and took ~30% of the cores from the walk workers (measured with perf on 2 cores), while the
  // decoder steps between segments are small.
  struct RestoreThreads {
    int n;
    ~RestoreThreads() { torch::set_num_threads(n); }
  } restore{r.threads};
  if (!r.device.is_cuda()) torch::set_num_threads(1);

  // A large shop's corpus is capped (train.max_walk_tokens): stage 1's time stays in budget.
  const int64_t max_walks = o.max_walk_tokens > 0 ? std::max<int64_t>(1, o.max_walk_tokens / o.walk_length) : 0;
  const WalkCorpus first(r.graph, o.walks_per_node, o.walk_length, o.seed, 0, max_walks, r.walk_starts());
  const int64_t walks_per_epoch = first.size();
  // A capped corpus visits each node a share of the times: steps that much larger move the vectors
  // about as far. On TikTok at 8% of the corpus, 10x the step kept Recall@20 (0.1739 against
  // 0.1731 uncapped; 0.1160 without it); up to 10x, the factor measured (docs/BENCHMARKS.md "Scale").
  const double budget_scale =
      std::min(kMaxBudgetStepScale, static_cast<double>(first.uncapped_size()) / std::max<int64_t>(1, walks_per_epoch));
  r.step_scale = budget_scale;
  const int64_t total_walks = walks_per_epoch * epochs;
  // ~200 segments per epoch: the decoder steps between them and the learning rate decays per segment.
  const int64_t segment = std::clamp<int64_t>(walks_per_epoch / 200, 16LL * pool.size(), 8192);
  // A warm start continues training rather than starting over: its learning rate follows the
  // last `epochs` of a full run's linear decay (from lr · epochs/options.epochs down to ~0), so
  // the first steps do not undo what the previous version learned.
  const double lr0 = o.embedding_learning_rate * budget_scale *
                     (r.warm_started ? std::min(1.0, static_cast<double>(epochs) / std::max(1, o.epochs)) : 1.0);
  int64_t walks_done = 0;
  const Clock::time_point t0 = Clock::now();
  for (int epoch = 0; epoch < epochs; ++epoch) {
    const WalkCorpus corpus(r.graph, o.walks_per_node, o.walk_length, o.seed, epoch, max_walks, r.walk_starts());
    SgnsStats epoch_stats;
    double recon_sum = 0;
    int64_t recon_segments = 0;
    SgnsStats report_stats;
    for (int64_t b = 0; b < corpus.size(); b += segment) {
      const int64_t e = std::min(corpus.size(), b + segment);
      const float lr = static_cast<float>(lr0 * std::max(1e-4, 1.0 - static_cast<double>(walks_done) / total_walks));
      s.product_weight = r.decoder_on ? static_cast<float>(r.w(0)) : 1.0f;
      SegmentResult seg = use_torch ? TorchSegment(r, pool, corpus, sampler, b, e, epoch, lr, s)
                                    : HogwildSegment(r, pool, corpus, sampler, b, e, epoch, lr, s);
      walks_done += e - b;
      r.tokens_total += seg.tokens;
      epoch_stats.Add(seg.stats);
      report_stats.Add(seg.stats);
      double recon = 0;
      if (r.decoder_on) {
        const double l1 = seg.stats.pairs[1] ? seg.stats.loss[1] / seg.stats.pairs[1] : 0.0;
        const Clock::time_point d0 = Clock::now();
        recon = DecoderStep(r, seg.decoder_rows, l1, lr);
        r.decoder_seconds += SecondsSince(d0);
        recon_sum += recon;
        ++recon_segments;
      }
      const bool last = e == corpus.size();
      if (last || r.Due()) {
        TrainProgress pr;
        pr.stage = "stage1";
        pr.epoch = epoch + 1;
        pr.epochs = epochs;
        pr.step = walks_done;
        pr.steps = total_walks;
        const int64_t rp = report_stats.pairs[0] + report_stats.pairs[1];
        pr.loss_skipgram = rp ? (report_stats.loss[0] + report_stats.loss[1]) / rp : 0;
        pr.loss_reconstruction = recon;
        if (r.decoder_on) {
          pr.w1 = r.w(0);
          pr.w2 = r.w(1);
        }
        pr.pairs_per_second = (r.pairs_total + epoch_stats.pairs[0] + epoch_stats.pairs[1]) / std::max(1e-9, SecondsSince(t0));
        if (!r.Emit(pr, static_cast<double>(walks_done) / total_walks, 0)) return Cancelled();
        report_stats = SgnsStats();
      }
    }
    const int64_t pairs = epoch_stats.pairs[0] + epoch_stats.pairs[1];
    r.pairs_total += pairs;
    const double sg = pairs ? (epoch_stats.loss[0] + epoch_stats.loss[1]) / pairs : 0;
    json e = {{"epoch", epoch + 1}, {"skipgram", sg}, {"pairs", pairs}};
    if (r.decoder_on) {
      e["reconstruction"] = recon_segments ? recon_sum / recon_segments : 0.0;
      e["w1"] = r.w(0);
      e["w2"] = r.w(1);
    }
    r.losses["stage1"].push_back(e);
    Log(LogLevel::kInfo, "train.epoch",
        {{"epoch", epoch + 1}, {"skipgram_loss", sg}, {"pairs", pairs}, {"seconds", SecondsSince(t0)}});
  }
  r.stage1_seconds = SecondsSince(t0);
  r.pairs_per_second = r.pairs_total / std::max(1e-9, r.stage1_seconds);
  r.epochs_run = epochs;
  return Status::Ok();
}

// ---- stage 2 --------------------------------------------------------------------------------

// Stage 2's ranking term. The reconstruction and anchor terms place M(f) near X_p on average,
// but a cold product is only useful if, among other products, its buyers rank it high: the
// encoder alone ranked cold candidates below the image features' own cosine (WBOI) on TikTok
// (docs/EVALUATION.md "Cold start"). So each warm product p of a batch is paired with one of its
// buyers u (frozen X_u), and M(f_p) must win u's softmax over the batch's other products.
class BuyerRanking {
 public:
  // Cosine logits need a temperature to be sharp enough to rank. On TikTok validation (weight 0.3,
  // no profile term, one seed each) cold-among-cold AUC was 0.595 / 0.581 / 0.584 at 0.05 / 0.1 /
  // 0.2: within run-to-run noise; 0.1 is the usual two-tower value.
  static constexpr double kTemperature = 0.1;

  BuyerRanking(const Run& r, const std::vector<int64_t>& warm) : r_(r), warm_(warm) {
    users_ = torch::nn::functional::normalize(r.table.slice(0, 0, r.U).detach(),
                                               torch::nn::functional::NormalizeFuncOptions().dim(1));
  }

  // z: the batch's encodings (B × D, rows in `positions` order); positions: indices into `warm`.
  torch::Tensor InBatchRankLoss(const torch::Tensor& z, const torch::Tensor& positions, Rng* rng) const {
    const int64_t b = positions.size(0);
    const int64_t* pos = positions.data_ptr<int64_t>();
    std::vector<int64_t> buyer(b);
    for (int64_t i = 0; i < b; ++i) {
      const int32_t node = r_.graph.product_node(static_cast<int32_t>(warm_[pos[i]]));
      const int64_t begin = r_.graph.offsets[node];
      buyer[i] = r_.graph.neighbors[begin + rng->Below(static_cast<uint32_t>(r_.graph.degree(node)))];
    }
    const torch::Tensor u = users_.index_select(0, torch::tensor(buyer, torch::kInt64).to(z.device()));
    const torch::Tensor zn = torch::nn::functional::normalize(z, torch::nn::functional::NormalizeFuncOptions().dim(1));
    const torch::Tensor logits = u.matmul(zn.t()) / kTemperature;  // row i: buyer of product i vs the batch
    return torch::nn::functional::cross_entropy(logits, torch::arange(b, torch::TensorOptions().dtype(torch::kInt64).device(z.device())));
  }

 private:
  const Run& r_;
  const std::vector<int64_t>& warm_;
  torch::Tensor users_;  // U × D, unit rows
};

// Trains `encoder` through the frozen decoder on the warm products with features.
Status TrainEncoder(Run& r, torch::nn::Sequential& encoder, const std::vector<int64_t>& warm, int encoder_epochs) {
  const TrainOptions& o = r.opt;
  const Clock::time_point t0 = Clock::now();
  // The decoder is frozen: no gradients, evaluation mode (no dropout).
  if (r.decoder_on) {
    for (torch::Tensor& p : r.decoder->parameters()) p.set_requires_grad(false);
    r.decoder->eval();
  }
  auto opt = MakeOptimizer(o, encoder->parameters());

  const torch::Tensor warm_idx = torch::tensor(warm, torch::kInt64).to(r.device);
  const torch::Tensor f_warm = r.features.index_select(0, warm_idx);
  const torch::Tensor x_warm = r.table.index_select(0, warm_idx + r.U).detach();
  const BuyerRanking buyers(r, warm);
  const int64_t n = static_cast<int64_t>(warm.size());
  const int64_t batch = std::max<int64_t>(1, std::min<int64_t>(o.batch_size, n));
  const int64_t batches_per_epoch = (n + batch - 1) / batch;
  const int64_t steps = batches_per_epoch * encoder_epochs;
  int64_t step = 0;
  for (int epoch = 0; epoch < encoder_epochs && n > 0; ++epoch) {
    encoder->train();
    const torch::Tensor perm_cpu = torch::randperm(n, torch::TensorOptions().dtype(torch::kInt64));
    const torch::Tensor perm = perm_cpu.to(r.device);
    Rng rng(MixSeed(o.seed, 0x5e7c2, epoch));
    double rec_sum = 0, anchor_sum = 0, rank_sum = 0;
    for (int64_t b0 = 0; b0 < n; b0 += batch) {
      const int64_t b1 = std::min(n, b0 + batch);
      const torch::Tensor idx = perm.slice(0, b0, b1);
      const torch::Tensor f = f_warm.index_select(0, idx);
      const torch::Tensor noisy = o.encoder_noise_std > 0 ? f + o.encoder_noise_std * torch::randn_like(f) : f;
      torch::Tensor z, rec;
      {
        CudaAutocast autocast(r.device.is_cuda() && o.mixed_precision);
        z = encoder->forward(noisy);
        if (r.decoder_on) rec = r.decoder->forward(z);
      }
      z = z.to(torch::kFloat32);
      torch::Tensor rec_loss = r.decoder_on ? (rec.to(torch::kFloat32) - f).pow(2).mean() : torch::zeros({}, f.options());
      torch::Tensor anchor = (z - x_warm.index_select(0, idx)).pow(2).mean();
      torch::Tensor loss = o.encoder_anchor_weight > 0 ? rec_loss + o.encoder_anchor_weight * anchor : rec_loss;
      torch::Tensor rank;
      if (o.encoder_rank_weight > 0 && b1 - b0 > 1) {
        rank = buyers.InBatchRankLoss(z, perm_cpu.slice(0, b0, b1), &rng);
        loss = loss + o.encoder_rank_weight * rank;
        rank_sum += rank.item<double>();
      }
      opt->zero_grad();
      loss.backward();
      opt->step();
      rec_sum += rec_loss.item<double>();
      anchor_sum += anchor.item<double>();
      ++step;
      TrainProgress pr;
      pr.stage = "stage2";
      pr.epoch = epoch + 1;
      pr.epochs = encoder_epochs;
      pr.step = step;
      pr.steps = steps;
      pr.loss_encoder = loss.item<double>();
      const bool epoch_end = b0 + batch >= n;
      if ((epoch_end || r.Due()) && !r.Emit(pr, 0, SecondsSince(t0) / step * (steps - step))) return Cancelled();
    }
    if (epoch + 1 == encoder_epochs || epoch % 10 == 0)
      r.losses["stage2"].push_back({{"epoch", epoch + 1},
                                    {"reconstruction", rec_sum / batches_per_epoch},
                                    {"anchor", anchor_sum / batches_per_epoch},
                                    {"rank", rank_sum / batches_per_epoch}});
  }
  return Status::Ok();
}

// Trains the encoder (or keeps the previous one, TrainScope::keep_encoder); returns it and embeds
// cold products with features into the table.
Result<torch::nn::Sequential> Stage2(Run& r) {
  const TrainOptions& o = r.opt;
  const Clock::time_point t0 = Clock::now();
  std::vector<int64_t> warm, cold;
  for (int32_t p = 0; p < r.P; ++p) {
    if (!r.data.features.present[p]) continue;
    (r.graph.degree(r.U + p) > 0 ? warm : cold).push_back(p);
  }
  std::vector<int> enc_widths = {r.I};
  for (auto it = r.widths.rbegin(); it != r.widths.rend(); ++it) enc_widths.push_back(*it);
  enc_widths.push_back(r.D);
  torch::nn::Sequential encoder = MakeMlp(enc_widths, o.dropout);
  // A large shop's stage 2 is capped (train.encoder_max_examples): fewer passes over more products.
  int encoder_epochs = o.encoder_epochs;
  if (o.encoder_max_examples > 0 && !warm.empty())
    encoder_epochs = static_cast<int>(std::clamp<int64_t>(o.encoder_max_examples / static_cast<int64_t>(warm.size()), 1,
                                                          encoder_epochs));
  // A warm start also starts from the previous encoder (same widths) and runs its share of those
  // epochs: taken of the capped count, or a capped shop's warm start would run a whole stage 2.
  if (r.warm_started && r.previous && !r.previous->encoder.empty() && ImportMlp(r.previous->encoder, encoder)) {
    encoder_epochs = std::max(1, static_cast<int>(std::ceil(encoder_epochs * o.warm_start_epoch_fraction)));
    r.encoder_warm_started = true;
    if (r.scope.keep_encoder) encoder_epochs = 0;
  }
  r.encoder_epochs_run = encoder_epochs;
  encoder->to(r.device);
  if (encoder_epochs > 0) VASGD_RETURN_IF_ERROR(TrainEncoder(r, encoder, warm, encoder_epochs));
  // Cold products with features get M(f).
  encoder->eval();
  if (!cold.empty()) {
    torch::NoGradGuard no_grad;
    const torch::Tensor cold_idx = torch::tensor(cold, torch::kInt64).to(r.device);
    const torch::Tensor z = encoder->forward(r.features.index_select(0, cold_idx)).to(torch::kFloat32);
    r.table.index_copy_(0, cold_idx + r.U, z);
    r.cold_embedded = static_cast<int32_t>(cold.size());
  }
  r.stage2_seconds = SecondsSince(t0);
  return encoder;
}

// ---- output ---------------------------------------------------------------------------------

json ConfigJson(const TrainOptions& o) {
  return {{"dim", o.dim}, {"walks_per_node", o.walks_per_node}, {"walk_length", o.walk_length},
          {"window", o.window}, {"negatives", o.negatives}, {"negative_power", o.negative_power},
          {"typed_negatives", o.typed_negatives}, {"shrink_window", o.shrink_window}, {"contexts", o.contexts}, {"epochs", o.epochs},
          {"learning_rate", o.learning_rate}, {"embedding_learning_rate", o.embedding_learning_rate},
          {"optimizer", o.optimizer}, {"batch_size", o.batch_size}, {"decoder_widths", o.decoder_widths},
          {"dropout", o.dropout}, {"use_decoder", o.use_decoder}, {"decoder_sample_rate", o.decoder_sample_rate},
          {"encoder_epochs", o.encoder_epochs}, {"encoder_noise_std", o.encoder_noise_std},
          {"encoder_anchor_weight", o.encoder_anchor_weight},
          {"encoder_rank_weight", o.encoder_rank_weight}, {"cold_profile_weight", o.cold_profile_weight}, {"score", o.score}, {"device", o.device},
          {"kernel", o.kernel}, {"mixed_precision", o.mixed_precision}, {"threads", o.threads},
          {"max_walk_tokens", o.max_walk_tokens}, {"encoder_max_examples", o.encoder_max_examples},
          {"seed", o.seed}, {"warm_start", o.warm_start},
          {"warm_start_epoch_fraction", o.warm_start_epoch_fraction}};
}

ModelVersion Export(Run& r, const torch::nn::Sequential& encoder) {
  ModelVersion m;
  m.version = UtcNow("%Y%m%dT%H%M%SZ");
  m.trained_at = UtcNow("%Y-%m-%dT%H:%M:%SZ");
  m.score = r.opt.score == "auto" ? kAutoScore : r.opt.score;
  m.cold_profile_weight = encoder ? static_cast<float>(r.opt.cold_profile_weight) : 0.f;
  m.dim = r.D;
  m.user_ids = r.data.user_ids;
  m.product_ids = r.data.product_ids;
  torch::Tensor t = r.table.to(torch::kCPU).contiguous();
  const float* x = t.data_ptr<float>();
  m.user_vectors.assign(x, x + static_cast<size_t>(r.U) * r.D);
  m.product_vectors.assign(x + static_cast<size_t>(r.U) * r.D, x + static_cast<size_t>(r.U + r.P) * r.D);
  m.product_kind.assign(r.P, static_cast<uint8_t>(ProductKind::kNone));
  m.popularity.assign(r.P, 0.0f);
  const InteractionGraph& g = r.data.graph;
  for (int64_t e = 0; e < g.num_edges(); ++e) m.popularity[g.product_index[e]] += g.weight[e];
  int32_t warm = 0, none = 0;
  for (int32_t p = 0; p < r.P; ++p) {
    if (r.graph.degree(r.U + p) > 0) {
      m.product_kind[p] = static_cast<uint8_t>(ProductKind::kWarm);
      ++warm;
    } else if (encoder && r.data.features.present[p]) {
      m.product_kind[p] = static_cast<uint8_t>(ProductKind::kCold);
    } else {
      std::fill(m.product_vectors.begin() + static_cast<size_t>(p) * r.D,
                m.product_vectors.begin() + static_cast<size_t>(p + 1) * r.D, 0.0f);
      ++none;
    }
  }
  if (encoder) m.encoder = ExportMlp(encoder, r.feature_mean, r.feature_scale);
  if (r.decoder_on) m.decoder = ExportMlp(r.decoder, {}, {});
  int64_t with_features = 0;
  for (uint8_t p : r.data.features.present) with_features += p;
  json extra = {
      {"config", ConfigJson(r.opt)},
      {"data", {{"users", r.U}, {"products", r.P}, {"warm_products", warm}, {"cold_embedded", r.cold_embedded},
                {"products_without_embedding", none}, {"edges", g.num_edges()}, {"feature_dim", r.data.features.dim},
                {"products_with_features", with_features}}},
      {"losses", r.losses},
      {"training", {{"device", r.device.is_cuda() ? "cuda" : "cpu"}, {"threads", r.threads},
                    {"kernel", r.opt.kernel}, {"epochs_run", r.epochs_run},
                    {"encoder_epochs_run", r.encoder_epochs_run}, {"step_scale", r.step_scale},
                    {"warm_started", r.warm_started},
                    {"encoder_warm_started", r.encoder_warm_started},
                    {"warm_start_rows", r.warm_rows}, {"stage1_seconds", r.stage1_seconds},
                    {"stage2_seconds", r.stage2_seconds}, {"decoder_seconds", r.decoder_seconds}, {"pairs", r.pairs_total},
                    {"pairs_per_second", r.pairs_per_second}, {"tokens", r.tokens_total},
                    {"tokens_per_second", r.tokens_total / std::max(1e-9, r.stage1_seconds)},
                    {"seconds_per_epoch", r.stage1_seconds / std::max(1, r.epochs_run)}, {"seconds", SecondsSince(r.start)},
                    {"decoder_widths", r.widths}}},
  };
  if (r.decoder_on) {
    extra["training"]["final_weights"] = {{"w1", r.w(0)}, {"w2", r.w(1)}};
    extra["training"]["kendall_log_var"] = {r.log_var[0].item<double>(), r.log_var[1].item<double>()};
  }
  m.manifest_extra_json = extra.dump();
  return m;
}

}  // namespace

bool CorpusIsCapped(const InteractionGraph& graph, const TrainOptions& options) {
  if (options.max_walk_tokens <= 0) return false;
  std::vector<uint8_t> bought(graph.num_products, 0);
  int64_t nodes = 0;
  for (int32_t u = 0; u < graph.num_users; ++u) nodes += graph.user_offsets[u + 1] > graph.user_offsets[u];
  for (int64_t e = 0; e < graph.num_edges(); ++e) bought[graph.product_index[e]] = 1;
  for (uint8_t b : bought) nodes += b;
  return nodes * options.walks_per_node > std::max<int64_t>(1, options.max_walk_tokens / options.walk_length);  // as Stage1
}

std::vector<int> DefaultDecoderWidths(int feature_dim, int dim) {
  const int paper[] = {256, 512, 1024, 2048};
  const int floor = std::min(dim, feature_dim);
  std::vector<int> widths;
  for (int w : paper) {
    const int scaled = std::max(floor, static_cast<int>(std::lround(w * (feature_dim / 4096.0))));
    if (widths.empty() || widths.back() != scaled) widths.push_back(scaled);
  }
  return widths;
}

Result<std::string> ResolveDevice(const std::string& device) {
  if (device == "cpu") return std::string("cpu");
  if (device == "cuda" || device == "auto") {
    if (torch::cuda::is_available()) return std::string("cuda");
    if (device == "cuda") return Status::Unavailable("train: device cuda requested but LibTorch sees no CUDA GPU");
    return std::string("cpu");
  }
  return Status::InvalidArgument("train: device must be auto, cpu or cuda, not '" + device + "'");
}

Result<ModelVersion> Train(const TrainingData& data, const TrainOptions& options, const ModelVersion* previous,
                           const ProgressCallback& progress, const TrainScope& scope) {
  VASGD_RETURN_IF_ERROR(Validate(data, options));
  Result<std::string> dev = ResolveDevice(options.device);
  if (!dev.ok()) return dev.status();
  try {
    Run r(data, options, progress, scope, torch::Device(dev.value() == "cuda" ? torch::kCUDA : torch::kCPU));
    r.previous = previous && options.warm_start ? previous : nullptr;
    r.threads = options.threads > 0 ? options.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    torch::set_num_threads(r.threads);
    torch::manual_seed(options.seed);  // decoder/encoder initialisation, dropout, stage-2 noise
    r.U = data.graph.num_users;
    r.P = data.graph.num_products;
    r.D = options.dim;
    r.graph = WalkGraph::FromInteractions(data.graph);
    SetUpFeatures(r);

    const int epochs = SetUpTable(r);
    SetUpDecoder(r);
    Log(LogLevel::kInfo, "train.start",
        {{"device", dev.value()}, {"threads", r.threads}, {"users", static_cast<int64_t>(r.U)},
         {"products", static_cast<int64_t>(r.P)}, {"edges", data.graph.num_edges()}, {"feature_dim", r.I},
         {"decoder", r.decoder_on}, {"epochs", epochs}, {"warm_start_rows", r.warm_rows}});

    VASGD_RETURN_IF_ERROR(Stage1(r, epochs));
    if (!torch::isfinite(r.table).all().item<bool>())
      return Status::Internal("train: stage 1 diverged (non-finite embeddings); lower train.embedding_learning_rate");
    // Stage 2 needs warm products with features, and a decoder or the anchor term to learn from.
    const bool any_warm_with_features =
        std::find(r.weighted.begin(), r.weighted.end(), 1) != r.weighted.end();
    torch::nn::Sequential encoder{nullptr};
    if (any_warm_with_features && (r.decoder_on || options.encoder_anchor_weight > 0)) {
      Result<torch::nn::Sequential> enc = Stage2(r);
      if (!enc.ok()) return enc.status();
      encoder = enc.value();
    }
    if (!torch::isfinite(r.table).all().item<bool>())
      return Status::Internal("train: stage 2 produced non-finite cold-product embeddings");
    ModelVersion m = Export(r, encoder);
    TrainProgress done;
    done.stage = "done";
    if (!r.Emit(done, 0, 0)) return Cancelled();
    Log(LogLevel::kInfo, "train.done",
        {{"seconds", SecondsSince(r.start)}, {"pairs_per_second", r.pairs_per_second}, {"cold_embedded", r.cold_embedded}});
    return m;
  } catch (const c10::Error& e) {
    return Status::Internal(std::string("train: LibTorch error: ") + e.what_without_backtrace());
  } catch (const std::exception& e) {
    return Status::Internal(std::string("train: ") + e.what());
  }
}

}  // namespace vasgd
