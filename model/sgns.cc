#include "model/sgns.h"

#include <algorithm>
#include <cmath>
#include <cstring>

// The walk kernel is compiled twice on x86-64: for x86-64-v3 (AVX2, FMA) and for the baseline,
// picked at load time by CPU features (GCC function multiversioning; "arch=haswell" would test
// the CPU model instead), so one binary is fast on modern CPUs and runs everywhere.
#if defined(__x86_64__) && defined(__linux__) && !defined(__SANITIZE_THREAD__)
#define VASGD_MULTIVERSION __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define VASGD_MULTIVERSION
#endif
#define VASGD_INLINE inline __attribute__((always_inline))

namespace vasgd {
namespace {

// σ(x) and softplus(−x) = −log σ(x), tabulated on [−kRange, kRange] with linear interpolation
// (error < 1e-6) and saturated outside, like word2vec's table but accurate enough that the loss
// and gradients match LibTorch's exact ones.
constexpr float kRange = 16.0f;
constexpr int kSteps = 8192;

struct SigmoidTables {
  float sigmoid[kSteps + 2];
  float neg_log_sigmoid[kSteps + 2];
  SigmoidTables() {
    for (int i = 0; i <= kSteps + 1; ++i) {
      const double x = -kRange + 2.0 * kRange * i / kSteps;
      sigmoid[i] = static_cast<float>(1.0 / (1.0 + std::exp(-x)));
      neg_log_sigmoid[i] = static_cast<float>(NegLogSigmoid(x));
    }
  }
};
const SigmoidTables kTables;

VASGD_INLINE float Lookup(const float* table, float x) {
  const float pos = (x + kRange) * (kSteps / (2.0f * kRange));
  const int i = static_cast<int>(pos);
  const float frac = pos - static_cast<float>(i);
  return table[i] + frac * (table[i + 1] - table[i]);
}
// Outside the table, including NaN (a diverging run must not index out of bounds: the NaN
// propagates into the table and the trainer reports the divergence).
VASGD_INLINE float Sigmoid(float x) {
  if (x > -kRange && x < kRange) return Lookup(kTables.sigmoid, x);
  return x >= kRange ? 1.0f : (x <= -kRange ? 0.0f : x);
}
VASGD_INLINE float NegLogSig(float x) {
  if (x > -kRange && x < kRange) return Lookup(kTables.neg_log_sigmoid, x);
  return x >= kRange ? 0.0f : (x <= -kRange ? -x : x);
}

// 8-wide float vectors (GCC/Clang vector extensions: AVX in the haswell clone, SSE pairs otherwise).
typedef float V8 __attribute__((vector_size(32)));

VASGD_INLINE V8 Load(const float* p) {
  V8 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
VASGD_INLINE void Store(float* p, V8 v) { std::memcpy(p, &v, sizeof v); }

VASGD_INLINE float Dot(const float* a, const float* b, int n) {
  V8 acc0 = {0}, acc1 = {0};
  int i = 0;
  for (; i + 16 <= n; i += 16) {
    acc0 += Load(a + i) * Load(b + i);
    acc1 += Load(a + i + 8) * Load(b + i + 8);
  }
  for (; i + 8 <= n; i += 8) acc0 += Load(a + i) * Load(b + i);
  acc0 += acc1;
  float s = 0;
  for (int k = 0; k < 8; ++k) s += acc0[k];
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

VASGD_INLINE void Prefetch(const float* row, int dim) {
  for (int i = 0; i < dim; i += 16) __builtin_prefetch(row + i, 1, 3);
}

// y += alpha * x
VASGD_INLINE void Axpy(float alpha, const float* x, float* y, int n) {
  int i = 0;
  const V8 a = {alpha, alpha, alpha, alpha, alpha, alpha, alpha, alpha};
  for (; i + 8 <= n; i += 8) Store(y + i, Load(y + i) + a * Load(x + i));
  for (; i < n; ++i) y[i] += alpha * x[i];
}

// One positive pair and its negatives. kApply: word2vec's SGD step (targets move at once, the
// centre after all targets, by the accumulated `centre_grad`). Otherwise: gradients are added
// to `grad` and the table is left alone. Returns the unweighted loss.
template <bool kApply>
VASGD_INLINE float PairStep(float* table, const float* read_table, int dim, int32_t c, int32_t v,
                            const int32_t* negs, int num_negs, float step, float* centre_grad,
                            float* grad) {
  const float* xc = read_table + static_cast<int64_t>(c) * dim;
  std::fill(centre_grad, centre_grad + dim, 0.0f);
  float loss = 0;
  for (int k = -1; k < num_negs; ++k) {
    const int32_t t = k < 0 ? v : negs[k];
    const float label = k < 0 ? 1.0f : 0.0f;
    const float* xt = read_table + static_cast<int64_t>(t) * dim;
    const float f = Dot(xc, xt, dim);
    loss += k < 0 ? NegLogSig(f) : NegLogSig(-f);
    // d loss / d f = σ(f) − label; a descent step moves by g = step·(label − σ(f)).
    const float g = step * (label - Sigmoid(f));
    Axpy(g, xt, centre_grad, dim);
    if (kApply) {
      Axpy(g, xc, table + static_cast<int64_t>(t) * dim, dim);
    } else {
      Axpy(-g, xc, grad + static_cast<int64_t>(t) * dim, dim);
    }
  }
  if (kApply) {
    Axpy(1.0f, centre_grad, table + static_cast<int64_t>(c) * dim, dim);
  } else {
    Axpy(-1.0f, centre_grad, grad + static_cast<int64_t>(c) * dim, dim);
  }
  return loss;
}

// The Hogwild update of one pair: its races on the shared rows are the algorithm
// (scripts/sanitizer-suppressions/tsan.supp says why). A TSan build compiles this one function
// uninstrumented instead of suppressing its reports at run time: every suppressed report searched
// the list of racy addresses seen so far, and a training child of the TikTok end-to-end test
// spent 97 % of its time in that search (__tsan::FindRacyAddress), ever slower as the list grew.
// Everything around it (the walk loop, the sampler, PairStep<false>) stays checked.
#if defined(__SANITIZE_THREAD__)
__attribute__((noinline, no_sanitize("thread")))
#else
VASGD_INLINE
#endif
float HogwildPairStep(float* table, int dim, int32_t c, int32_t v, const int32_t* negs, int num_negs, float step,
                      float* scratch) {
  return PairStep<true>(table, table, dim, c, v, negs, num_negs, step, scratch, nullptr);
}

}  // namespace

double NegLogSigmoid(double x) { return x >= 0 ? std::log1p(std::exp(-x)) : -x + std::log1p(std::exp(x)); }

NegativeSampler::Alias NegativeSampler::Build(const WalkGraph& graph, int32_t begin, int32_t end, double power) {
  Alias a;
  a.first = begin;
  const int32_t n = end - begin;
  std::vector<double> p(static_cast<size_t>(std::max(0, n)));
  double total = 0;
  for (int32_t i = 0; i < n; ++i) {
    const int64_t deg = graph.degree(begin + i);
    p[i] = deg > 0 ? std::pow(static_cast<double>(deg), power) : 0.0;
    total += p[i];
  }
  if (total <= 0) return a;
  a.size = static_cast<uint32_t>(n);
  a.threshold.assign(n, 0);
  a.alias.assign(n, begin);
  // Vose's construction: scaled probabilities n·p_i; small slots are topped up by large ones.
  std::vector<int32_t> small, large;
  for (int32_t i = 0; i < n; ++i) {
    p[i] = p[i] * n / total;
    (p[i] < 1.0 ? small : large).push_back(i);
  }
  while (!small.empty() && !large.empty()) {
    const int32_t s = small.back(), l = large.back();
    small.pop_back();
    a.threshold[s] = static_cast<uint32_t>(std::min(4294967295.0, p[s] * 4294967296.0));
    a.alias[s] = begin + l;
    p[l] -= 1.0 - p[s];
    if (p[l] < 1.0) {
      large.pop_back();
      small.push_back(l);
    }
  }
  // Leftovers are rounding residue (p ≈ 1): they keep their own slot, except a node of degree 0.
  int32_t any = 0;
  while (graph.degree(begin + any) == 0) ++any;
  for (auto* rest : {&large, &small}) {
    for (int32_t i : *rest) {
      const bool usable = graph.degree(begin + i) > 0;
      a.threshold[i] = usable ? 0xffffffffu : 0u;
      a.alias[i] = begin + (usable ? i : any);
    }
  }
  return a;
}

NegativeSampler::NegativeSampler(const WalkGraph& graph, double power, bool typed) : typed_(typed) {
  if (typed) {
    users_ = Build(graph, 0, graph.num_users, power);
    products_ = Build(graph, graph.num_users, graph.num_nodes(), power);
    // A graph whose one side is empty cannot have edges; keep Sample() total anyway.
    if (users_.size == 0) users_ = products_;
    if (products_.size == 0) products_ = users_;
  }
  all_ = Build(graph, 0, graph.num_nodes(), power);
}

VASGD_MULTIVERSION
void SgnsTrainWalk(float* table, int dim, const WalkGraph& graph, const int32_t* walk, int32_t len,
                   const SgnsSettings& s, const NegativeSampler& sampler, float lr, Rng* rng,
                   float* scratch, SgnsStats* stats, std::vector<int32_t>* product_centres) {
  int32_t negs[64];
  const int num_negs = std::min(s.negatives, 64);
  for (int32_t i = 0; i < len; ++i) {
    const int32_t c = walk[i];
    const int type = graph.is_user(c) ? 0 : 1;
    if (type == 1 && product_centres) product_centres->push_back(c);
    const bool weighted = type == 1 && (s.weighted == nullptr || s.weighted[c]);
    const float step = lr * (weighted ? s.product_weight : 1.0f);
    const int side = s.shrink_window ? 1 + static_cast<int>(rng->Below(static_cast<uint32_t>(s.window_side)))
                                     : s.window_side;
    const int32_t lo = std::max(0, i - side), hi = std::min(len - 1, i + side);
    float loss = 0;
    int64_t pairs = 0;
    for (int32_t j = lo; j <= hi; ++j) {
      const int32_t v = walk[j];
      if (v == c) continue;
      const bool context_is_user = graph.is_user(v);
      if (s.cross_type_only && context_is_user == (type == 0)) continue;
      int n = 0;
      Prefetch(table + static_cast<int64_t>(v) * dim, dim);
      for (int k = 0; k < num_negs; ++k) {
        const int32_t x = sampler.Sample(context_is_user, rng);
        if (x != c && x != v) {
          negs[n++] = x;
          // The rows are random: start all their loads now rather than one after another.
          Prefetch(table + static_cast<int64_t>(x) * dim, dim);
        }
      }
      loss += HogwildPairStep(table, dim, c, v, negs, n, step, scratch);
      ++pairs;
    }
    stats->loss[type] += loss;
    stats->pairs[type] += pairs;
  }
}

double SgnsPairGradient(const float* table, int dim, int32_t centre, int32_t context, const int32_t* negs,
                        int num_negs, float weight, float* grad) {
  std::vector<float> scratch(static_cast<size_t>(dim));
  // step = weight: PairStep then adds exactly weight · dLoss/dX into grad.
  return weight * PairStep<false>(nullptr, table, dim, centre, context, negs, num_negs, weight,
                                  scratch.data(), grad);
}

}  // namespace vasgd
