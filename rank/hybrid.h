// The hybrid ranking formula, shared by serving (daemon/), the weight choice at every retraining
// (rank/weight_choice.h) and the evaluation (eval/), so all three rank by the same code.
//
// For a user with purchases P (as they stand at query time) and product p:
//   score(u, p) = w_n · N_u(p) + w_e · E_u(p) + w_v · V(u, p) + w_p · pop(p)
//               + w_f · fresh(p) + w_i · I_u(p) + w_c · cold(p) · I_u(p)
//   N_u(p) = Σ_{i ∈ P} walk-family list weight w(i, p) / max_q of that sum   (0 without purchases)
//   E_u(p) = the same over the EASE lists (absent = 0)
//   V(u, p) = cos(x_u, x_p) of the VASG vectors (x_u: the user's row, or the fold-in of P). Cosine,
//             not dot: with cross-type contexts it ranked better on TikTok validation (window 7:
//             Recall@20 0.0888 vs 0.0728), and it keeps V in [-1, 1] beside the other terms.
//   pop(p) = log(1 + purchases of p) / log(1 + purchases of the most bought product)
//   fresh(p) = p's place in arrival order, 0 for the oldest product of the model, 1 for its newest
//            and for every product added since (the store hands dense ids out in arrival order).
//            What a shop sells next leans to newer products: on TikTok (item ids follow time) the
//            validation items' mean id is 4,449 against 2,495 in train, and pop + 0.5·fresh alone
//            reaches Recall@20 0.1245 on the validation pairs where pop alone reaches 0.0626.
//   I_u(p) = cos(profile_u, z_p): z_p = the product's standardised features at unit length,
//            profile_u = the unit-length mean of z over P (0 for products without features)
//   cold(p) = 1 for a product nobody bought in the training snapshot (embedded by the encoder)
// The cold order (on with cold_order): among themselves, cold products are ordered by
//   C(u, p) = V(u, p) + ρ · Q_u(p) + φ · fresh(p)
//   Q_u(p) = cos(query_u, z_p), query_u = unit(unit(Σ_{i ∈ P} pop_i^-a · z_i) + λ · unit(Σ_{j ∈ top m of N_u} N_u(j) · z_j))
// and take the places the score above gives the cold products of a ranking, in that order: what
// decides how many cold products a page shows stays the formula (chosen on Recall@20, which hardly
// sees cold products), what decides which ones is C, with ρ and φ chosen on held-out purchases of
// products cold at the time (rank/cold_order.h). V's weight is 1 in C, not w_v: w_v ranges 1-8
// between TikTok seeds, so a grid of ρ and φ relative to V covers every seed alike. The query weighs rarely bought purchases up (a)
// and widens the user's look by the products the lists bring (λ, m): cold-among-cold AUC on the
// TikTok validation split 0.6979 against 0.6780 for the plain profile (docs/eval/cold_transfer.txt).
// Normalising N and E per user makes one weight fit users with 1 purchase and with 500.
// The weights and the list families are chosen per shop on a holdout at every retraining and
// recorded in the model version's manifest ("hybrid"); serving reads them from there.
#pragma once

#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "model/model_version.h"
#include "model/neighbour_lists.h"

namespace vasgd {

struct HybridWeights {
  float neighbours = 1;   // w_n
  float ease = 0;         // w_e
  float vasg = 0;         // w_v
  float popularity = 0;   // w_p
  float freshness = 0;    // w_f
  float visual = 0;       // w_i
  float cold_visual = 0;  // w_c
  bool cold_order = false;         // re-order cold products among themselves by C (above)
  float cold_order_visual = 0;     // ρ
  float cold_order_freshness = 0;  // φ
  float cold_query_idf = 0.5f;     // a
  float cold_query_lists = 0.5f;   // λ
  int32_t cold_query_top = 50;     // m

  std::string ToJson() const;
  // Missing keys keep their defaults; InvalidArgument for a non-object, a non-number or a
  // non-finite weight.
  static Result<HybridWeights> FromJson(const std::string& json);
};

// Why a product is in an answer: the term that contributed most to its score.
enum class Reason : uint8_t { kBoughtWith, kTaste, kPopular, kVisualMatch, kNewVisualMatch, kNewArrival };
const char* ReasonName(Reason reason);

// What scoring needs per product label, beside the VASG vectors: the lists, the popularity prior,
// the unit standardised features and the cold flags. Labels are the model's product rows; the
// serving side appends products that arrive between retrainings (AddProduct), which have no list
// and no purchases. Reads and AddProduct may run concurrently (a shared mutex guards growth).
class HybridTables {
 public:
  // Shares the model's lists and copies its per-product arrays. `model.visual` may be empty.
  // The weights come from the manifest's "hybrid" object (manifest_extra_json); a model without
  // one (written before the hybrid) ranks by V alone: w_v = 1, every other weight 0.
  static Result<std::unique_ptr<HybridTables>> FromModel(std::shared_ptr<const ModelVersion> model);
  // The same with weights given (the weight choice tries many on one model).
  HybridTables(std::shared_ptr<const ModelVersion> model, const HybridWeights& weights);
  void set_weights(const HybridWeights& w);

  const ModelVersion& model() const { return *model_; }
  std::shared_ptr<const ModelVersion> shared_model() const { return model_; }
  const HybridWeights& weights() const { return weights_; }
  float similar_list_weight() const { return similar_list_weight_; }  // rank/similar.h's w_l
  int32_t visual_dim() const { return visual_dim_; }
  int64_t num_labels() const;

  // A product that arrived after training (label >= the model's product count): cold, no
  // purchases, unit standardised features from its raw `features` (visual_dim() floats, or null).
  void AddProduct(int32_t label, const float* features);
  // Unit standardised features of raw `features` (visual_dim() floats) into `out`.
  void StandardizeFeatures(const float* features, float* out) const;

  bool IsCold(int32_t label) const;

  // The model's products by their prior w_p·pop(p) + w_f·fresh(p), highest first (ties: lower
  // label): the part of the formula that is the same for every user, so its best products are
  // candidates for every user (rank/hybrid_ranker.cc). Products added since the model are not in
  // it: they all share pop 0 and fresh 1. Fixed after construction or set_weights.
  const std::vector<int32_t>& ByPrior() const { return by_prior_; }
  // w_p·pop(p) + w_f·fresh(p) of a label of ByPrior() (a model product).
  float PriorScore(int32_t label) const { return prior_score_[label]; }
  // Appends up to `want` cold labels, newest first: the products added since the model, then (with
  // `model_cold`) the model's own cold products.
  void NewestCold(int want, bool model_cold, std::vector<int32_t>* out) const;

 private:
  friend class HybridScorer;
  std::shared_ptr<const ModelVersion> model_;
  HybridWeights weights_;
  float similar_list_weight_ = 0;
  int32_t visual_dim_ = 0;
  mutable std::shared_mutex mu_;       // guards growth of the per-label arrays below
  std::vector<float> prior_;           // pop(p) per label
  std::vector<float> fresh_;           // fresh(p) per label
  std::vector<uint8_t> cold_;          // cold(p) per label
  std::vector<float> visual_;          // label × visual_dim_, unit length (zeros = none)
  std::vector<int32_t> by_prior_;      // the model's labels, ByPrior()
  std::vector<float> prior_score_;     // PriorScore per model label
  std::vector<int32_t> model_cold_;    // the model's cold labels, ascending

  void OrderByPrior();
};

// One user's query, in labels. `purchased` may name labels without lists (ignored by N, E).
struct UserQuery {
  const int32_t* purchased = nullptr;
  int64_t num_purchased = 0;
  const float* vector = nullptr;  // the user's VASG vector (row or fold-in); null = V is 0
};

// Scores products for one user at a time; not thread-safe (one per thread), allocation-free
// once warm. Dense (every label, for the evaluation and small catalogues) or for candidates.
class HybridScorer {
 public:
  explicit HybridScorer(const HybridTables* tables) : tables_(tables) {}
  // Points a long-lived (e.g. thread-local) scorer at other tables, keeping its buffers.
  void Bind(const HybridTables* tables);
  const HybridTables& tables() const { return *tables_; }

  // Accumulates N and E over the user's purchases and builds the visual profile.
  void Prepare(const UserQuery& query);

  // Labels with a non-zero N or E for the prepared user (the lists' reach), in no order.
  const std::vector<int32_t>& Reached() const { return touched_; }
  // A label's weighted lists term for the prepared user: w_n·N + w_e·E (each scaled), as scored.
  float ListTerm(int32_t label) const {
    const HybridWeights& w = tables_->weights();
    return w.neighbours * Neighbour(label) * n_scale_ + w.ease * Ease(label) * e_scale_;
  }

  // out[label] = score for every label in [0, n), given `vasg[label]` = V(u, label) already
  // computed by the caller (0 where the product has no vector; -infinity for a product that may
  // not be returned, which then scores -infinity). With `means`, writes the mean of each weighted
  // term (lists, V, popularity, visual) over the finite labels: the baseline Explain compares with.
  void ScoreAll(const float* vasg, int64_t n, float* out, float* means = nullptr) const;
  // The score of one label with its V.
  float Score(int32_t label, float vasg) const;
  // out[i] = Score(labels[i], vasg[i]) for n labels (one lock for all), and with `means` the mean
  // of each weighted term over them, as ScoreAll gives.
  void ScoreSome(const int32_t* labels, const float* vasg, int64_t n, float* out, float* means = nullptr) const;
  // Why a label is in an answer: the weighted term that lifts it most above its mean over the
  // products scored for this user (`means`, 4 floats; null = above 0). Popularity wins only for
  // products whose popularity, not their relation to the user, sets them apart.
  Reason Explain(int32_t label, float vasg, const float* means = nullptr) const;

  // The unweighted terms of one label: what the weight choice blends.
  struct Components {
    float lists = 0, ease = 0, vasg = 0, popularity = 0, freshness = 0, visual = 0;
    float cold_query = 0;  // Q_u of the cold order (0 while it is off)
    bool cold = false;
  };
  Components Unweighted(int32_t label, float vasg) const;

  // The visual profile term I_u of labels [begin, end) into out[0, end - begin) (0 without a
  // profile). A `begin` that is a multiple of 4 gives each label the same float at any split
  // (DotRows groups rows by 4), so a range scan agrees with a whole one.
  void VisualRange(int64_t begin, int64_t end, float* out) const;
  bool has_profile() const { return has_profile_; }

  // C(u, label) of the cold order (the file comment) for the prepared user.
  float ColdOrder(int32_t label, float vasg) const;
  // The cold order over `n` scored entries (entry i: label labels[i], or i when labels is null; V
  // vasg[i]; score scores[i]): the cold entries with a finite score keep the set of scores they
  // hold and take them in C order (ties: lower label first), so the places cold products take in
  // a ranking stay. Does nothing while weights().cold_order is off.
  void ReorderCold(const int32_t* labels, const float* vasg, int64_t n, float* scores);

 private:
  float Neighbour(int32_t label) const { return label < static_cast<int64_t>(n_sum_.size()) ? n_sum_[label] : 0.f; }
  float Ease(int32_t label) const { return label < static_cast<int64_t>(e_sum_.size()) ? e_sum_[label] : 0.f; }
  struct Parts {
    float term[4] = {0, 0, 0, 0};  // lists (N and E), V, priors (popularity, freshness), visual (I and cold I), weighted
    float fresh = 0;               // freshness's part of term[2]
    bool cold = false;
  };
  Parts Terms(int32_t label, float vasg) const;
  float VisualLocked(int32_t label) const;
  // Asks for the feature rows of labels[0, n) ahead of use (each is a cache miss).
  void PrefetchVisualLocked(const int32_t* labels, int64_t n) const;
  static constexpr int64_t kPrefetchAhead = 8;  // ScoreSome asks for the row this many products ahead
  float ColdQueryLocked(int32_t label) const;
  float ColdOrderLocked(int32_t label, float vasg) const;
  bool BuildProfile(const UserQuery& q);    // profile_ (the caller holds tables_->mu_)
  bool BuildColdQuery(const UserQuery& q);  // cold_query_ (the same)

  const HybridTables* tables_;
  std::vector<float> n_sum_, e_sum_;  // per label, zero outside touched_
  std::vector<int32_t> touched_;
  float n_scale_ = 0, e_scale_ = 0;   // 1 / max sum (0 when none)
  std::vector<float> profile_;
  bool has_profile_ = false;
  std::vector<float> cold_query_, list_profile_;
  bool has_cold_query_ = false;
  std::vector<std::pair<float, int32_t>> top_;  // the cold query's list products
  struct ColdEntry {
    float order;
    int32_t label;
    int64_t at;
  };
  std::vector<ColdEntry> cold_entries_;
  std::vector<float> cold_slots_;
  std::vector<int32_t> cold_labels_;
};

}  // namespace vasgd
