#include "rank/hybrid_ranker.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

namespace vasgd {
namespace {

struct Scored {
  float score;
  int32_t label;
  float vasg;  // its V, for the reason
};

// Best first: higher score, then lower label (as the index ranks ties).
bool Better(const Scored& a, const Scored& b) { return a.score > b.score || (a.score == b.score && a.label < b.label); }

struct Scratch {
  float means[4];  // each weighted term's mean over the scored products (for the reasons)
  std::vector<float> v, scores;
  std::vector<int32_t> candidates, kept;
  std::vector<float> kept_v, zero;
  std::vector<Scored> ranked;
  std::vector<float> best;  // KthBest's heap over ranked[0, in_best)
  std::vector<float> added_v;                  // V of the products indexed since the nearest were found
  int64_t added_from = 0;                       // added_v[i] is label added_from + i's
  std::vector<std::pair<float, int32_t>> by_v;  // some of them, by V
  std::vector<std::string> ids;                 // the page's product ids
  std::vector<std::pair<float, int32_t>> reach; // the lists' reach by what it scores without V (BestNext orders it)
  std::vector<uint32_t> seen;                   // seen[label] == epoch: already a candidate of this query
  uint32_t epoch = 0;
  std::vector<int32_t> taken;                   // one batch of the prior's order
  size_t in_best = 0;
};

Scratch& ThreadScratch() {
  thread_local Scratch s;
  return s;
}

// Starts a query's record of its candidates (FirstTime), for `labels` labels.
void NewCandidates(int64_t labels, Scratch& s) {
  if (++s.epoch == 0) {  // wrapped: forget every earlier query
    std::fill(s.seen.begin(), s.seen.end(), 0u);
    s.epoch = 1;
  }
  if (static_cast<int64_t>(s.seen.size()) < labels) s.seen.resize(static_cast<size_t>(labels), 0u);
}

// True the first time this query meets `label`, which is then one of its candidates. A mark per
// label, not a sorted list searched: the candidates' sources overlap, and each walk skips what the
// others brought.
bool FirstTime(int32_t label, Scratch& s) {
  if (label < 0) return false;
  if (static_cast<size_t>(label) >= s.seen.size()) s.seen.resize(static_cast<size_t>(label) + 1024, 0u);
  if (s.seen[label] == s.epoch) return false;
  s.seen[label] = s.epoch;
  return true;
}

// A user without a vector has V = 0 for every product, but the index still decides eligibility:
// the cosine is taken with an axis vector (`query` when there is one), then ZeroFinite keeps only
// which products are eligible (finite) and sets their V to 0.
const float* QueryOrAxis(const ProductIndex& index, const float* query, Scratch& s) {
  if (query != nullptr) return query;
  s.zero.assign(index.dim(), 0.f);
  s.zero[0] = 1.f;
  return s.zero.data();
}

void ZeroFinite(float* v, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    if (std::isfinite(v[i])) v[i] = 0.f;
}

// Every eligible product by the formula; fills s.ranked (unsorted).
void ScoreExhaustively(const ProductIndex& index, const HybridScorer& scorer, const SearchFilter& filter,
                       const float* query, Scratch& s, HybridStats* stats) {
  const int64_t capacity = index.num_products();
  s.v.resize(capacity);
  s.scores.resize(capacity);
  const int64_t n = index.CosineRange(QueryOrAxis(index, query, s), filter, 0, capacity, s.v.data());
  if (query == nullptr) ZeroFinite(s.v.data(), n);
  scorer.ScoreAll(s.v.data(), n, s.scores.data(), s.means);
  s.ranked.clear();
  for (int64_t p = 0; p < n; ++p)
    if (std::isfinite(s.v[p])) s.ranked.push_back({s.scores[p], static_cast<int32_t>(p), s.v[p]});
  stats->exhaustive = true;
  stats->scored = n;
}

// Scores s.candidates[from, end): ineligible ones (no finite V) are dropped, the rest appended to
// s.ranked; each weighted term's sum over them is added to `sums` (for the means).
void ScoreBatch(const ProductIndex& index, const HybridScorer& scorer, const SearchFilter& filter, const float* query,
                size_t from, Scratch& s, double sums[4]) {
  const int64_t n = static_cast<int64_t>(s.candidates.size() - from);
  const int32_t* labels = s.candidates.data() + from;
  s.v.resize(n);
  index.CosineOf(QueryOrAxis(index, query, s), filter, labels, n, s.v.data());
  if (query == nullptr) ZeroFinite(s.v.data(), n);
  s.kept.clear();
  s.kept_v.clear();
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(s.v[i])) continue;
    s.kept.push_back(labels[i]);
    s.kept_v.push_back(s.v[i]);
  }
  const int64_t kept = static_cast<int64_t>(s.kept.size());
  s.scores.resize(kept);
  float means[4];
  scorer.ScoreSome(s.kept.data(), s.kept_v.data(), kept, s.scores.data(), means);
  for (int t = 0; t < 4; ++t) sums[t] += static_cast<double>(means[t]) * static_cast<double>(kept);
  for (int64_t i = 0; i < kept; ++i) s.ranked.push_back({s.scores[i], s.kept[i], s.kept_v[i]});
}

// The `need`-th best score in s.ranked (-infinity while there are fewer), kept in s.best (a
// min-heap of the best `need` scores) as batches are added: s.ranked[s.in_best, end) are new.
float KthBest(Scratch& s, int64_t need) {
  for (; s.in_best < s.ranked.size(); ++s.in_best) {
    const float score = s.ranked[s.in_best].score;
    if (static_cast<int64_t>(s.best.size()) < need) {
      s.best.push_back(score);
      std::push_heap(s.best.begin(), s.best.end(), std::greater<float>());
    } else if (score > s.best.front()) {
      std::pop_heap(s.best.begin(), s.best.end(), std::greater<float>());
      s.best.back() = score;
      std::push_heap(s.best.begin(), s.best.end(), std::greater<float>());
    }
  }
  return static_cast<int64_t>(s.best.size()) < need ? -std::numeric_limits<float>::infinity() : s.best.front();
}

// The user's nearest found at load (rank/user_candidates.h), appended to s.candidates, and V of
// the products indexed since in s.added_v. Those whose V reaches the nearest's floor (they would
// be among V's `want` best overall) join them, best first, at most `want`; the rest are left to
// WalkIndexedSince (marked -infinity when taken). *v_floor: the nearest's floor, which bounds V of
// every model product they do not name. False (nothing appended) when they cannot stand in for
// the graph walk.
bool TakeNearestFound(const ProductIndex& index, const HybridRequest& r, const SearchFilter& filter, int want,
                      Scratch& s, float* v_floor) {
  if (!r.nearest || r.nearest->per_user() != want || filter.category != SearchFilter::kAnyCategory) return false;
  const int64_t from = r.nearest->indexed_before(), to = index.num_products();
  if (to - from > UserCandidates::kScanLimit) return false;
  int found = 0;
  const int32_t* nearest = r.nearest->Of(r.user_row, &found, v_floor);
  if (nearest == nullptr) return false;
  s.candidates.insert(s.candidates.end(), nearest, nearest + found);
  if (to <= from) return true;
  s.added_from = from;
  s.added_v.resize(static_cast<size_t>(to - from));
  s.added_v.resize(static_cast<size_t>(index.CosineRange(r.user_vector, filter, from, to - from, s.added_v.data())));
  s.by_v.clear();
  for (size_t i = 0; i < s.added_v.size(); ++i)
    if (s.added_v[i] >= *v_floor) s.by_v.push_back({s.added_v[i], static_cast<int32_t>(from + i)});
  const size_t take = std::min<size_t>(want, s.by_v.size());
  std::nth_element(s.by_v.begin(), s.by_v.begin() + take, s.by_v.end(), std::greater<>());
  for (size_t i = 0; i < take; ++i) {
    s.candidates.push_back(s.by_v[i].second);
    s.added_v[s.by_v[i].second - from] = -std::numeric_limits<float>::infinity();
  }
  return true;
}

// Candidates (see the header); fills s.ranked (unsorted) and s.means.
//
// The lists' reach and the prior are walked as far as they can matter. A product the graph did
// not bring has a V no higher than the graph's last candidate's and a visual term of at most
// |w_i| + |w_c|. So once a reach product's lists term plus prior plus that bound falls below the
// `need`-th best score found, neither it nor any later one in the reach's order can enter the
// page; likewise for the prior's order, whose products have no list term beyond the largest of
// the reach left unscored (up to the graph's own approximation). Products good on several counts
// but first on none are found that way (tests/rank: RankHybrid.CandidateModeReturnsTheExhaustivePage,
// ...TheReachIsWalkedAsFarAsItCanMatter). Where V is sharply peaked the
// bound is loose (bench/serve_bench's clustered shop: the graph's last candidate has V near 0.8,
// most products near 0), and an unbounded walk scored 26,000-36,000 products per query for the
// last 0.2% of agreement with the exhaustive page; kPriorDepth stops each walk at a few hundred.
constexpr size_t kPriorDepth = 4;  // × `candidates` products scored from each walk, at most

// The lists' reach in s.reach, keyed by what a product can score without its V and visual terms:
// its lists term plus its prior (a product added since the model: popularity 0, fresh 1). A
// user's reach grows with their purchases (about top_k products each); scoring all of it made a
// query's cost grow with the user's history. Only the part a walk takes is put in order, a batch
// at a time (BestNext): most of a long reach is never walked, and sorting it whole was 3.6% of the
// daemon's CPU.
void OrderReach(const HybridTables& tables, const HybridScorer& scorer, Scratch& s) {
  s.reach.clear();
  const int32_t model = static_cast<int32_t>(tables.ByPrior().size());
  const float fresh_added = tables.weights().freshness;
  for (int32_t j : scorer.Reached())
    s.reach.push_back({scorer.ListTerm(j) + (j < model ? tables.PriorScore(j) : fresh_added), j});
}

// Moves the best `count` of s.reach[at, end) to [at, at + count), in no order; returns the best of them.
float BestNext(size_t at, size_t count, Scratch& s) {
  const auto first = s.reach.begin() + static_cast<int64_t>(at), end = s.reach.end();
  if (at + count < s.reach.size()) std::nth_element(first, first + static_cast<int64_t>(count), end, std::greater<>());
  return std::max_element(first, first + static_cast<int64_t>(count))->first;
}

// Appends label_at(i) for i < count to s.candidates, except those already candidates.
template <typename Get>
void AppendUnscored(int64_t count, Get label_at, Scratch& s) {
  for (int64_t i = 0; i < count; ++i) {
    const int32_t label = label_at(i);
    if (FirstTime(label, s)) s.candidates.push_back(label);
  }
}

// Where a walk stands: the candidates it scores, the page's need and the bound on what a product
// not brought by the graph can add beyond its lists term and prior (V and the visual terms).
struct Walk {
  const ProductIndex& index;
  const HybridScorer& scorer;
  const SearchFilter& filter;
  const float* user_vector;
  int want;
  int64_t need;
  size_t max_walked;
  float v_and_visual;
  float visual;  // the visual terms' part of v_and_visual
  double* sums;
};

// Scores the lists' reach after its first `from` products, best first, while it can still reach
// the page (at most w.max_walked more); returns where it stopped.
size_t WalkReach(const Walk& w, size_t from, Scratch& s) {
  size_t at = from;
  while (at < s.reach.size() && at - from < w.max_walked) {
    const size_t count = std::min<size_t>(w.want, s.reach.size() - at);
    const float kth = KthBest(s, w.need);
    if (BestNext(at, count, s) + w.v_and_visual < kth) break;
    const size_t first_new = s.candidates.size();
    for (size_t i = at; i < at + count; ++i)  // those that cannot reach the page are left out
      if (s.reach[i].first + w.v_and_visual >= kth && FirstTime(s.reach[i].second, s))
        s.candidates.push_back(s.reach[i].second);
    at += count;
    ScoreBatch(w.index, w.scorer, w.filter, w.user_vector, first_new, s, w.sums);
  }
  return at;
}

// Scores the prior's order (HybridTables::ByPrior), best first, skipping what was scored, while
// it can still reach the page: its products have no lists term beyond `lists_left`.
void WalkPrior(const Walk& w, const HybridTables& tables, float lists_left, Scratch& s) {
  const std::vector<int32_t>& order = tables.ByPrior();
  const float rest = w.v_and_visual + lists_left;
  size_t from_prior = 0;
  for (size_t pos = 0; pos < order.size() && from_prior < w.max_walked;) {
    if (tables.PriorScore(order[pos]) + rest < KthBest(s, w.need)) break;
    from_prior += w.want;
    const size_t first_new = s.candidates.size();
    s.taken.clear();
    pos += static_cast<size_t>(
        w.index.TakeEligible(order.data() + pos, static_cast<int64_t>(order.size() - pos), w.filter, w.want, &s.taken));
    AppendUnscored(static_cast<int64_t>(s.taken.size()), [&](int64_t i) { return s.taken[i]; }, s);
    ScoreBatch(w.index, w.scorer, w.filter, w.user_vector, first_new, s, w.sums);
  }
}

// Scores the products indexed since the nearest were found that TakeNearestFound left in
// s.added_v, as far as they can reach the page: such a product was added since the model (no
// lists term, popularity 0, fresh 1), so its score is at most w_f + w_v·V + the visual terms, and
// its V is known. Best by V first, at most w.max_walked. Before, the `want` best by V joined every
// query whatever their V, and the rest were never scored however fresh.
void WalkIndexedSince(const Walk& w, const HybridTables& tables, Scratch& s) {
  if (s.added_v.empty()) return;
  const HybridWeights& hw = tables.weights();
  const float rest = std::max(0.f, hw.freshness) + w.visual - KthBest(s, w.need);  // + w_v·V reaches the page
  s.by_v.clear();
  for (size_t i = 0; i < s.added_v.size(); ++i) {
    const float v = s.added_v[i];
    if (std::isfinite(v) && rest + (hw.vasg >= 0 ? hw.vasg * v : -hw.vasg) >= 0)
      s.by_v.push_back({v, static_cast<int32_t>(s.added_from + i)});
  }
  if (s.by_v.empty()) return;
  const size_t take = std::min(w.max_walked, s.by_v.size());
  std::nth_element(s.by_v.begin(), s.by_v.begin() + take, s.by_v.end(), std::greater<>());
  const size_t first_new = s.candidates.size();
  AppendUnscored(static_cast<int64_t>(take), [&](int64_t i) { return s.by_v[i].second; }, s);
  ScoreBatch(w.index, w.scorer, w.filter, w.user_vector, first_new, s, w.sums);
}

Status ScoreCandidates(const ProductIndex& index, const HybridTables& tables, const HybridScorer& scorer,
                       const SearchFilter& filter, const HybridRequest& r, Scratch& s, HybridStats* stats) {
  const HybridWeights& w = tables.weights();
  const int want = std::max(r.candidates, r.offset + r.k);
  const int64_t need = static_cast<int64_t>(r.offset) + r.k;
  const size_t max_walked = static_cast<size_t>(want) * kPriorDepth;
  stats->walked = false;
  OrderReach(tables, scorer, s);
  const size_t reach_first = std::min<size_t>(s.reach.size(), static_cast<size_t>(want));
  if (reach_first > 0) BestNext(0, reach_first, s);
  s.candidates.clear();
  for (size_t i = 0; i < reach_first; ++i) s.candidates.push_back(s.reach[i].second);
  float v_floor = 0;  // V of the best product the graph did not bring, at most
  s.added_v.clear();
  if (r.user_vector != nullptr && !TakeNearestFound(index, r, filter, want, s, &v_floor)) {
    // The user's purchases are left out of this filter: excluded products make the index widen
    // its beam (an exact top k after filtering), which the hybrid does not need, since V is one
    // term of several; the purchases drop out with every other ineligible candidate when scored.
    thread_local SearchFilter by_category;
    by_category.category = filter.category;
    SearchOptions labels_only;  // the candidates' ids are not needed
    labels_only.with_ids = false;
    Result<std::vector<ScoredProduct>> near =
        index.Search(r.user_vector, Metric::kCosine, by_category, want, 0, nullptr, nullptr, &labels_only);
    if (!near.ok()) return near.status();
    for (const ScoredProduct& p : *near) s.candidates.push_back(p.label);
    v_floor = static_cast<int>(near->size()) == want ? near->back().score : -1.f;
    stats->walked = true;
  }
  const bool prior = w.popularity > 0 || w.freshness > 0;
  if (!prior) {
    // No prior in the formula: popular products still give a user without lists or vector an answer.
    for (const ScoredProduct& p : index.Popular(filter, want, 0)) s.candidates.push_back(p.label);
  }
  if (w.cold_order) {
    // The cold order's own source: the newest cold products, the model's among them.
    tables.NewestCold(want, /*model_cold=*/true, &s.candidates);
  } else if (w.freshness > 0) {
    // Products added since the model: pop 0, fresh 1, newest first.
    tables.NewestCold(want, /*model_cold=*/false, &s.candidates);
  }
  NewCandidates(index.num_products(), s);
  size_t unique = 0;
  for (int32_t label : s.candidates)
    if (FirstTime(label, s)) s.candidates[unique++] = label;
  s.candidates.resize(unique);
  double sums[4] = {0, 0, 0, 0};
  s.ranked.clear();
  s.best.clear();
  s.in_best = 0;
  ScoreBatch(index, scorer, filter, r.user_vector, 0, s, sums);
  // What a product neither source brought can add beyond its lists and prior: V no higher than
  // the graph's last candidate's, and a visual term of at most |w_i| + |w_c|.
  const float visual = scorer.has_profile() ? std::abs(w.visual) + std::abs(w.cold_visual) : 0.f;
  const float v_and_visual = (w.vasg >= 0 ? w.vasg * v_floor : -w.vasg) + visual;
  const Walk walk{index, scorer, filter, r.user_vector, want, need, max_walked, v_and_visual, visual, sums};
  const size_t reach_stop = WalkReach(walk, reach_first, s);
  if (prior) {
    float lists_left = 0;  // the largest lists term of the reach left unscored
    for (size_t i = reach_stop; i < s.reach.size(); ++i) lists_left = std::max(lists_left, scorer.ListTerm(s.reach[i].second));
    WalkPrior(walk, tables, lists_left, s);
  }
  WalkIndexedSince(walk, tables, s);
  const double n = static_cast<double>(std::max<size_t>(1, s.ranked.size()));
  for (int t = 0; t < 4; ++t) s.means[t] = static_cast<float>(sums[t] / n);
  stats->exhaustive = false;
  stats->scored = static_cast<int64_t>(s.ranked.size());
  return Status::Ok();
}

// The cold order (rank/hybrid.h) over everything scored, before the page is cut.
void ReorderCold(HybridScorer* scorer, Scratch& s) {
  if (!scorer->tables().weights().cold_order) return;
  const size_t n = s.ranked.size();
  s.kept.resize(n);
  s.kept_v.resize(n);
  s.scores.resize(n);
  for (size_t i = 0; i < n; ++i) {
    s.kept[i] = s.ranked[i].label;
    s.kept_v[i] = s.ranked[i].vasg;
    s.scores[i] = s.ranked[i].score;
  }
  scorer->ReorderCold(s.kept.data(), s.kept_v.data(), static_cast<int64_t>(n), s.scores.data());
  for (size_t i = 0; i < n; ++i) s.ranked[i].score = s.scores[i];
}

// Moves up to `share` cold products into the last places of the first `need` (see the header).
// Returns how many were promoted; they occupy ranked[need - promoted, need).
int PromoteCold(const HybridTables& tables, std::vector<Scored>* ranked, int64_t need, int share) {
  if (share <= 0 || ranked->empty()) return 0;
  const int64_t head = std::min<int64_t>(need, static_cast<int64_t>(ranked->size()));
  int in_head = 0;
  for (int64_t i = 0; i < head; ++i) in_head += tables.IsCold((*ranked)[i].label) ? 1 : 0;
  std::vector<Scored> promoted;
  for (int64_t i = head; i < static_cast<int64_t>(ranked->size()) && in_head + static_cast<int>(promoted.size()) < share;
       ++i) {
    if (tables.IsCold((*ranked)[i].label)) promoted.push_back((*ranked)[i]);
  }
  if (promoted.empty()) return 0;
  // Drop the lowest non-cold entries of the head to make room, keep the rest in order.
  std::vector<Scored> kept;
  int64_t to_drop = static_cast<int64_t>(promoted.size()) - (need - head);
  for (int64_t i = head - 1; i >= 0; --i) {
    if (to_drop > 0 && !tables.IsCold((*ranked)[i].label)) {
      --to_drop;
      continue;
    }
    kept.push_back((*ranked)[i]);
  }
  std::reverse(kept.begin(), kept.end());
  kept.insert(kept.end(), promoted.begin(), promoted.end());
  *ranked = std::move(kept);
  return static_cast<int>(promoted.size());
}

}  // namespace

Result<std::vector<RankedProduct>> RankHybrid(const ProductIndex& index, const HybridTables& tables,
                                              HybridScorer* scorer, const SearchFilter& filter,
                                              const HybridRequest& r, HybridStats* stats) {
  if (r.k < 1) return Status::InvalidArgument("k must be at least 1");
  if (r.offset < 0) return Status::InvalidArgument("offset must not be negative");
  HybridStats local;
  HybridStats& st = stats ? *stats : local;
  std::vector<RankedProduct> page;
  if (filter.category == SearchFilter::kNoSuchCategory) return page;
  scorer->Prepare({r.purchased, r.num_purchased, r.user_vector});
  Scratch& s = ThreadScratch();
  if (index.num_live() < index.exact_below()) {
    ScoreExhaustively(index, *scorer, filter, r.user_vector, s, &st);
  } else {
    VASGD_RETURN_IF_ERROR(ScoreCandidates(index, tables, *scorer, filter, r, s, &st));
  }
  ReorderCold(scorer, s);
  const int64_t need = static_cast<int64_t>(r.offset) + r.k;
  // The best `need` (plus room for cold promotion) in order.
  const int64_t keep = std::min<int64_t>(static_cast<int64_t>(s.ranked.size()),
                                         r.cold_share > 0 ? static_cast<int64_t>(s.ranked.size()) : need);
  std::partial_sort(s.ranked.begin(), s.ranked.begin() + keep, s.ranked.end(), Better);
  s.ranked.resize(keep);
  const int promoted = PromoteCold(tables, &s.ranked, need, r.cold_share);
  const int64_t end = std::min<int64_t>(need, static_cast<int64_t>(s.ranked.size()));
  s.kept.clear();
  for (int64_t i = r.offset; i < end; ++i) {
    const Scored& x = s.ranked[i];
    RankedProduct p;
    p.label = x.label;
    p.score = x.score;
    const bool was_promoted = i >= end - promoted;
    p.reason = was_promoted ? Reason::kNewVisualMatch : scorer->Explain(x.label, x.vasg, s.means);
    page.push_back(std::move(p));
    s.kept.push_back(x.label);
  }
  s.ids.resize(page.size());
  index.IdsOf(s.kept.data(), static_cast<int64_t>(page.size()), s.ids.data());
  for (size_t i = 0; i < page.size(); ++i) page[i].id = std::move(s.ids[i]);
  return page;
}

Result<std::vector<ScoredProduct>> RankSimilar(const ProductIndex& index, const NeighbourLists& lists,
                                               std::string_view product, float list_weight, const SearchFilter& filter,
                                               int k, int offset) {
  const int32_t label = index.Find(product);
  thread_local std::vector<std::pair<int32_t, float>> row;
  NormalisedListRow(lists, label, &row);
  if (list_weight <= 0 || row.empty()) return index.Similar(product, filter, k, offset);
  if (k < 1) return Status::InvalidArgument("k must be at least 1");
  if (offset < 0) return Status::InvalidArgument("offset must not be negative");
  std::vector<float> query(index.dim());
  if (!index.UnitVector(product, query.data())) {
    return Status::NotFound("product '" + std::string(product) + "' has no embedding yet");
  }
  SearchFilter without_self = filter;
  auto at = std::lower_bound(without_self.excluded.begin(), without_self.excluded.end(), label);
  if (at == without_self.excluded.end() || *at != label) without_self.excluded.insert(at, label);
  Scratch& s = ThreadScratch();
  s.ranked.clear();
  if (index.num_live() < index.exact_below()) {
    s.v.resize(index.num_products());
    const int64_t n = index.CosineRange(query.data(), without_self, 0, static_cast<int64_t>(s.v.size()), s.v.data());
    for (const auto& [j, l] : row)
      if (j < n && std::isfinite(s.v[j])) s.v[j] += list_weight * l;
    for (int64_t p = 0; p < n; ++p)
      if (std::isfinite(s.v[p])) s.ranked.push_back({s.v[p], static_cast<int32_t>(p), 0.f});
  } else {
    const int want = std::max(50, offset + k);
    Result<std::vector<ScoredProduct>> near = index.Search(query.data(), Metric::kCosine, without_self, want, 0);
    if (!near.ok()) return near.status();
    s.candidates.clear();
    for (const ScoredProduct& p : *near) s.candidates.push_back(p.label);
    for (const auto& [j, l] : row) s.candidates.push_back(j);
    std::sort(s.candidates.begin(), s.candidates.end());
    s.candidates.erase(std::unique(s.candidates.begin(), s.candidates.end()), s.candidates.end());
    s.v.resize(s.candidates.size());
    index.CosineOf(query.data(), without_self, s.candidates.data(), static_cast<int64_t>(s.candidates.size()), s.v.data());
    std::sort(row.begin(), row.end());  // by product, to look candidates up
    for (size_t i = 0; i < s.candidates.size(); ++i) {
      if (!std::isfinite(s.v[i])) continue;
      auto hit = std::lower_bound(row.begin(), row.end(), std::make_pair(s.candidates[i], -1.0f));
      const float l = hit != row.end() && hit->first == s.candidates[i] ? hit->second : 0.f;
      s.ranked.push_back({s.v[i] + list_weight * l, s.candidates[i], 0.f});
    }
  }
  const int64_t need = static_cast<int64_t>(offset) + k;
  const int64_t keep = std::min<int64_t>(need, static_cast<int64_t>(s.ranked.size()));
  std::partial_sort(s.ranked.begin(), s.ranked.begin() + keep, s.ranked.end(), Better);
  std::vector<ScoredProduct> page;
  s.kept.clear();
  for (int64_t i = offset; i < keep; ++i) {
    page.push_back({s.ranked[i].label, std::string(), s.ranked[i].score});
    s.kept.push_back(s.ranked[i].label);
  }
  s.ids.resize(page.size());
  index.IdsOf(s.kept.data(), static_cast<int64_t>(page.size()), s.ids.data());
  for (size_t i = 0; i < page.size(); ++i) page[i].id = std::move(s.ids[i]);
  return page;
}

}  // namespace vasgd
