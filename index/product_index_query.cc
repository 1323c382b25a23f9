// ProductIndex queries: filtered graph search with widening, exact search, popularity, fold-in.
#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>
#include <shared_mutex>

#include "index/distance.h"
#include "index/hnsw_graph.h"
#include "index/product_index.h"

namespace vasgd {
namespace {

constexpr uint8_t kHasVector = 1;
constexpr uint8_t kAvailable = 2;

// Graph rounds before exact search takes over; each round asks for 4× more neighbours.
constexpr int kMaxGraphRounds = 3;
constexpr int64_t kWidenFactor = 4;
// The cost of a graph search of beam width w, in units of one row of an exact scan, is about
// w × kGraphCostPerBeam: measured with bench/index_bench (D=100, M=16): ef 128 took 113 µs,
// an exact scan of 20,000 rows 352 µs, i.e. 0.88 µs per beam slot against 0.018 µs per row.
// When the products a query may return are fewer than that, scanning them is as fast, and exact.
constexpr double kGraphCostPerBeam = 48;
// Rows scored per block of exact search: small enough that the scores stay in L1.
constexpr int64_t kExactBlock = 256;

struct Candidate {
  float score;
  int32_t label;
};

// Best first: higher score, then lower label, so ties rank the same on every path.
bool Better(const Candidate& a, const Candidate& b) {
  return a.score > b.score || (a.score == b.score && a.label < b.label);
}

// The `need` best candidates offered, kept as a heap with the worst on top.
class TopN {
 public:
  TopN(int64_t need, std::vector<Candidate>* storage) : need_(need), heap_(*storage) { heap_.clear(); }
  // Whether a candidate with this score and label would enter (before checking eligibility).
  bool WouldEnter(float score, int32_t label) const {
    return static_cast<int64_t>(heap_.size()) < need_ || Better({score, label}, heap_.front());
  }
  void Push(float score, int32_t label) {
    if (static_cast<int64_t>(heap_.size()) == need_) {
      std::pop_heap(heap_.begin(), heap_.end(), Better);
      heap_.pop_back();
    }
    heap_.push_back({score, label});
    std::push_heap(heap_.begin(), heap_.end(), Better);
  }
  // Best first; empties the heap.
  void SortInto(std::vector<Candidate>* out) {
    std::sort_heap(heap_.begin(), heap_.end(), Better);
    out->assign(heap_.begin(), heap_.end());
    heap_.clear();
  }

 private:
  int64_t need_;
  std::vector<Candidate>& heap_;
};

// Per-thread scratch so a query allocates nothing once its thread is warm.
struct Scratch {
  std::vector<float> query;
  std::vector<float> scores;
  std::vector<Candidate> heap;
  std::vector<Candidate> ranked;
  std::vector<std::pair<float, int32_t>> neighbours;
  std::vector<const float*> rows;  // rows scored by DotScattered
  std::vector<float> dots;
};

Scratch& ThreadScratch() {
  thread_local Scratch scratch;
  return scratch;
}

// out[i] = Dot(query, rows[i], dim) for i < n, bitwise, for rows scattered over a large array
// (candidates of one query): each row is a cache miss, so the rows of the next chunk are asked
// for while the current chunk is scored, instead of each miss waited out in turn.
void DotScattered(const float* query, const float* const* rows, int64_t n, int32_t dim, float* out) {
  constexpr int64_t kChunk = 16;
  const size_t bytes = static_cast<size_t>(dim) * sizeof(float);
  auto prefetch = [&](int64_t from, int64_t to) {
    for (int64_t i = from; i < std::min(n, to); ++i) Prefetch(rows[i], bytes);
  };
  prefetch(0, kChunk);
  for (int64_t start = 0; start < n; start += kChunk) {
    prefetch(start + kChunk, start + 2 * kChunk);
    DotGather(query, rows + start, std::min(kChunk, n - start), dim, out + start);
  }
}

bool AllFinite(const float* v, int32_t n) {
  for (int32_t i = 0; i < n; ++i) {
    if (!std::isfinite(v[i])) return false;
  }
  return true;
}

}  // namespace

bool ProductIndex::HasCategoryLocked(int32_t label, int32_t category) const {
  const std::vector<int32_t>& cats = categories_of_[label];
  return std::binary_search(cats.begin(), cats.end(), category);
}

bool ProductIndex::EligibleLocked(int32_t label, const SearchFilter& filter) const {
  if ((flags_[label] & (kHasVector | kAvailable)) != (kHasVector | kAvailable)) return false;
  if (filter.category != SearchFilter::kAnyCategory && !HasCategoryLocked(label, filter.category)) return false;
  return !std::binary_search(filter.excluded.begin(), filter.excluded.end(), label);
}

const float* ProductIndex::RowsFor(Metric metric) const {
  return metric == Metric::kDot ? raw_.data() : unit_.data();
}

Result<std::vector<ScoredProduct>> ProductIndex::Search(const float* query, Metric metric,
                                                        const SearchFilter& filter, int k, int offset,
                                                        SearchStats* stats, const ScoreTerms* terms,
                                                        const SearchOptions* options) const {
  std::shared_lock<WriterFirstLock> lock(mu_);
  return SearchLocked(query, metric, filter, k, offset, stats, terms, options ? *options : SearchOptions());
}

Result<std::vector<ScoredProduct>> ProductIndex::SearchLocked(const float* query, Metric metric,
                                                              const SearchFilter& filter, int k, int offset,
                                                              SearchStats* stats, const ScoreTerms* terms,
                                                              const SearchOptions& options) const {
  if (k < 1) return Status::InvalidArgument("k must be at least 1");
  if (offset < 0) return Status::InvalidArgument("offset must not be negative");
  if (!AllFinite(query, dim_)) return Status::InvalidArgument("query vector is not finite");
  if (metric == Metric::kDot && user_metric_ != Metric::kDot) {
    // A cosine model keeps no raw rows: dot products with unit vectors would be cosines.
    return Status::InvalidArgument("this index ranks by cosine; dot search needs a dot model");
  }
  SearchStats local;
  SearchStats& st = stats ? *stats : local;
  st = SearchStats();

  Scratch& scratch = ThreadScratch();
  scratch.ranked.clear();
  const int64_t need = static_cast<int64_t>(offset) + k;
  if (filter.category == SearchFilter::kNoSuchCategory) return std::vector<ScoredProduct>();

  scratch.query.assign(query, query + dim_);
  if (metric == Metric::kCosine) NormalizeInPlace(scratch.query.data(), dim_);

  // Products with a term are ranked apart (MergeTermsLocked): the graph search skips them without
  // fetching more for them (they are rarely all near the query; if they are, it widens).
  const bool with_terms = terms != nullptr && !terms->labels.empty();
  SearchFilter without_termed;
  if (with_terms) {
    without_termed = filter;
    without_termed.excluded.insert(without_termed.excluded.end(), terms->labels.begin(), terms->labels.end());
    std::inplace_merge(without_termed.excluded.begin(), without_termed.excluded.begin() + filter.excluded.size(),
                       without_termed.excluded.end());
    without_termed.excluded.erase(std::unique(without_termed.excluded.begin(), without_termed.excluded.end()),
                                  without_termed.excluded.end());
  }
  const SearchFilter& search_filter = with_terms ? without_termed : filter;

  const HnswGraph* graph = metric == Metric::kCosine ? cosine_graph_.get() : dot_graph_.get();
  // The products the query may return at most: the catalogue, or the category's members.
  const int64_t candidates = filter.category >= 0
                                 ? static_cast<int64_t>(category_members_[filter.category].size())
                                 : num_live_;
  const bool use_graph = graph != nullptr && candidates >= options_.exact_below;
  std::vector<ScoredProduct> found;
  if (!use_graph ||
      !GraphSearchLocked(*graph, scratch.query.data(), metric, search_filter, need, candidates,
                         static_cast<int64_t>(filter.excluded.size()), &st, &found)) {
    st.exact = true;
    ExactSearchLocked(scratch.query.data(), metric, search_filter, need, &found);
  }
  if (with_terms) MergeTermsLocked(scratch.query.data(), metric, filter, *terms, need, &found);
  return PageLocked(std::move(found), k, offset, options.with_ids);
}

void ProductIndex::MergeTermsLocked(const float* query, Metric metric, const SearchFilter& filter,
                                    const ScoreTerms& terms, int64_t need, std::vector<ScoredProduct>* ranked) const {
  const float* rows = RowsFor(metric);
  const int64_t known = static_cast<int64_t>(flags_.size());
  // Most termed products rank below the page already found: only those that beat its last one
  // are added (and sorted), so a thousand cold products cost a thousand dot products, no more.
  const bool full = static_cast<int64_t>(ranked->size()) >= need;
  const Candidate last = full ? Candidate{ranked->back().score, ranked->back().label} : Candidate{};
  for (size_t i = 0; i < terms.labels.size() && i < terms.terms.size(); ++i) {
    const int32_t label = terms.labels[i];
    if (label < 0 || label >= known || !EligibleLocked(label, filter)) continue;
    const float score = Dot(query, rows + static_cast<int64_t>(label) * dim_, dim_) + terms.terms[i];
    if (!full || Better({score, label}, last)) ranked->push_back({label, std::string(), score});
  }
  std::sort(ranked->begin(), ranked->end(), [](const ScoredProduct& a, const ScoredProduct& b) {
    return Better({a.score, a.label}, {b.score, b.label});
  });
  if (static_cast<int64_t>(ranked->size()) > need) ranked->resize(need);
}

// Over-fetches from the graph so that `need` eligible products survive the filter, widening up
// to kMaxGraphRounds times. False (and `ranked` unspecified) when exact search should answer:
// the beam grew to where scanning the `candidates` costs no more, or the graph ran out of
// neighbours.
bool ProductIndex::GraphSearchLocked(const HnswGraph& graph, const float* query, Metric metric,
                                     const SearchFilter& filter, int64_t need, int64_t candidates,
                                     int64_t near_excluded, SearchStats* stats,
                                     std::vector<ScoredProduct>* ranked) const {
  // Excluded products may all sit among the nearest; a category keeps only its share of them.
  // Filtered searches add ef_search to the fetch: the tail of a beam is its least accurate part,
  // and after filtering the answer comes from that tail.
  const bool filtered = !filter.excluded.empty() || filter.category >= 0;
  double fetch = static_cast<double>(need + near_excluded + (filtered ? options_.ef_search : 0));
  if (filter.category >= 0) {
    double share = static_cast<double>(category_members_[filter.category].size()) /
                   static_cast<double>(std::max<int64_t>(1, num_with_vector_));
    fetch = fetch / std::max(share, 1e-9);
  }
  Scratch& scratch = ThreadScratch();
  const float* rows = RowsFor(metric);
  for (int round = 0; round < kMaxGraphRounds; ++round) {
    const int64_t asked = static_cast<int64_t>(std::ceil(fetch));
    const int64_t beam = std::max<int64_t>(asked, options_.ef_search);
    if (static_cast<double>(beam) * kGraphCostPerBeam > static_cast<double>(candidates)) return false;
    graph.Search(query, asked, options_.ef_search, &scratch.neighbours);
    stats->graph_rounds = round + 1;
    stats->graph_fetched = asked;
    std::vector<Candidate>& kept = scratch.ranked;
    kept.clear();
    scratch.rows.clear();
    for (const auto& [distance, label] : scratch.neighbours) {
      if (!EligibleLocked(label, filter)) continue;
      kept.push_back({0.f, label});
      scratch.rows.push_back(rows + static_cast<int64_t>(label) * dim_);
    }
    // Rescored with the exact kernel so both paths give a product the same score.
    scratch.dots.resize(kept.size());
    DotScattered(query, scratch.rows.data(), static_cast<int64_t>(kept.size()), dim_, scratch.dots.data());
    for (size_t i = 0; i < kept.size(); ++i) kept[i].score = scratch.dots[i];
    if (static_cast<int64_t>(kept.size()) >= need) {
      std::sort(kept.begin(), kept.end(), Better);
      kept.resize(need);
      ranked->clear();
      for (const Candidate& c : kept) ranked->push_back({c.label, std::string(), c.score});
      return true;
    }
    if (static_cast<int64_t>(scratch.neighbours.size()) < asked) return false;  // graph exhausted
    fetch *= kWidenFactor;
  }
  return false;
}

void ProductIndex::ExactSearchLocked(const float* query, Metric metric, const SearchFilter& filter,
                                     int64_t need, std::vector<ScoredProduct>* ranked) const {
  Scratch& scratch = ThreadScratch();
  const float* rows = RowsFor(metric);
  TopN top(need, &scratch.heap);
  if (filter.category >= 0) {
    for (int32_t label : category_members_[filter.category]) {
      if (!EligibleLocked(label, filter)) continue;
      float s = Dot(query, rows + static_cast<int64_t>(label) * dim_, dim_);
      if (top.WouldEnter(s, label)) top.Push(s, label);
    }
  } else {
    const int64_t n = static_cast<int64_t>(flags_.size());
    scratch.scores.resize(kExactBlock);
    for (int64_t start = 0; start < n; start += kExactBlock) {
      const int64_t len = std::min(kExactBlock, n - start);
      DotRows(query, rows + start * dim_, len, dim_, scratch.scores.data());
      for (int64_t i = 0; i < len; ++i) {
        const int32_t label = static_cast<int32_t>(start + i);
        const float s = scratch.scores[i];
        // Eligibility is checked only for products that would make the cut.
        if (top.WouldEnter(s, label) && EligibleLocked(label, filter)) top.Push(s, label);
      }
    }
  }
  std::vector<Candidate>& sorted = scratch.ranked;
  top.SortInto(&sorted);
  ranked->clear();
  for (const Candidate& c : sorted) ranked->push_back({c.label, std::string(), c.score});
}

std::vector<ScoredProduct> ProductIndex::PageLocked(std::vector<ScoredProduct> ranked, int k, int offset,
                                                    bool with_ids) const {
  std::vector<ScoredProduct> page;
  for (int64_t i = offset; i < static_cast<int64_t>(ranked.size()) && i < static_cast<int64_t>(offset) + k; ++i) {
    ScoredProduct p = ranked[i];
    if (with_ids) p.id = ids_[p.label];
    page.push_back(std::move(p));
  }
  return page;
}

Result<std::vector<ScoredProduct>> ProductIndex::Similar(std::string_view product, const SearchFilter& filter,
                                                         int k, int offset, SearchStats* stats) const {
  std::shared_lock<WriterFirstLock> lock(mu_);
  const int32_t label = FindLocked(product);
  if (label < 0) return Status::NotFound("unknown product '" + std::string(product) + "'");
  if (!(flags_[label] & kHasVector)) {
    return Status::NotFound("product '" + std::string(product) + "' has no embedding yet");
  }
  SearchFilter without_self = filter;
  auto at = std::lower_bound(without_self.excluded.begin(), without_self.excluded.end(), label);
  if (at == without_self.excluded.end() || *at != label) without_self.excluded.insert(at, label);
  // The query row is copied: SearchLocked's scratch buffer must not alias the index's rows.
  std::vector<float> query(unit_.begin() + static_cast<int64_t>(label) * dim_,
                           unit_.begin() + static_cast<int64_t>(label + 1) * dim_);
  return SearchLocked(query.data(), Metric::kCosine, without_self, k, offset, stats);
}

std::vector<ScoredProduct> ProductIndex::Popular(const SearchFilter& filter, int k, int offset) const {
  std::shared_lock<WriterFirstLock> lock(mu_);
  std::vector<ScoredProduct> page;
  if (k < 1 || offset < 0 || filter.category == SearchFilter::kNoSuchCategory) return page;
  int64_t skipped = 0;
  for (int32_t label : by_popularity_) {
    // Popularity needs no vector: only availability, the category and the exclusions count.
    if (!(flags_[label] & kAvailable)) continue;
    if (filter.category != SearchFilter::kAnyCategory && !HasCategoryLocked(label, filter.category)) continue;
    if (std::binary_search(filter.excluded.begin(), filter.excluded.end(), label)) continue;
    if (skipped++ < offset) continue;
    page.push_back({label, ids_[label], popularity_[label]});
    if (static_cast<int>(page.size()) == k) break;
  }
  return page;
}

int ProductIndex::FoldIn(const std::vector<std::string>& purchased, float* out) const {
  std::shared_lock<WriterFirstLock> lock(mu_);
  int used = 0;
  for (const std::string& id : purchased) {
    const int32_t label = FindLocked(id);
    if (label < 0 || !(flags_[label] & kHasVector)) continue;
    const float* row = unit_.data() + static_cast<int64_t>(label) * dim_;
    if (used == 0) std::fill(out, out + dim_, 0.0f);
    for (int32_t i = 0; i < dim_; ++i) out[i] += row[i];
    ++used;
  }
  if (used > 0) {
    const float inv = 1.0f / static_cast<float>(used);
    for (int32_t i = 0; i < dim_; ++i) out[i] *= inv;
  }
  return used;
}

int64_t ProductIndex::CosineRange(const float* query, const SearchFilter& filter, int64_t from, int64_t capacity,
                                  float* out) const {
  std::shared_lock<WriterFirstLock> lock(mu_);
  Scratch& scratch = ThreadScratch();
  scratch.query.assign(query, query + dim_);
  NormalizeInPlace(scratch.query.data(), dim_);
  const int64_t n = std::max<int64_t>(0, std::min<int64_t>(static_cast<int64_t>(flags_.size()) - from, capacity));
  DotRows(scratch.query.data(), unit_.data() + from * dim_, n, dim_, out);
  for (int64_t i = 0; i < n; ++i) {
    if (!EligibleLocked(static_cast<int32_t>(from + i), filter)) out[i] = -std::numeric_limits<float>::infinity();
  }
  return n;
}

void ProductIndex::CosineOf(const float* query, const SearchFilter& filter, const int32_t* labels, int64_t n,
                            float* out) const {
  std::shared_lock<WriterFirstLock> lock(mu_);
  Scratch& scratch = ThreadScratch();
  scratch.query.assign(query, query + dim_);
  NormalizeInPlace(scratch.query.data(), dim_);
  const int64_t known = static_cast<int64_t>(flags_.size());
  scratch.rows.clear();
  for (int64_t i = 0; i < n; ++i) {
    const int32_t label = labels[i];
    const bool eligible = label >= 0 && label < known && EligibleLocked(label, filter);
    out[i] = eligible ? 0.f : -std::numeric_limits<float>::infinity();
    if (eligible) scratch.rows.push_back(unit_.data() + static_cast<int64_t>(label) * dim_);
  }
  scratch.dots.resize(scratch.rows.size());
  DotScattered(scratch.query.data(), scratch.rows.data(), static_cast<int64_t>(scratch.rows.size()), dim_,
               scratch.dots.data());
  for (int64_t i = 0, next = 0; i < n; ++i)  // 0 marks an eligible product until now
    if (out[i] == 0.f) out[i] = scratch.dots[next++];
}

int64_t ProductIndex::TakeEligible(const int32_t* order, int64_t n, const SearchFilter& filter, int64_t want,
                                   std::vector<int32_t>* out) const {
  std::shared_lock<WriterFirstLock> lock(mu_);
  const int64_t known = static_cast<int64_t>(flags_.size());
  int64_t taken = 0, read = 0;
  for (; read < n && taken < want; ++read) {
    const int32_t label = order[read];
    if (label < 0 || label >= known || !EligibleLocked(label, filter)) continue;
    out->push_back(label);
    ++taken;
  }
  return read;
}

int ProductIndex::FoldInLabels(const int32_t* labels, int64_t n, float* out) const {
  std::shared_lock<WriterFirstLock> lock(mu_);
  const int64_t known = static_cast<int64_t>(flags_.size());
  int used = 0;
  for (int64_t i = 0; i < n; ++i) {
    const int32_t label = labels[i];
    if (label < 0 || label >= known || !(flags_[label] & kHasVector)) continue;
    const float* row = unit_.data() + static_cast<int64_t>(label) * dim_;
    if (used == 0) std::fill(out, out + dim_, 0.0f);
    for (int32_t d = 0; d < dim_; ++d) out[d] += row[d];
    ++used;
  }
  if (used > 0) {
    const float inv = 1.0f / static_cast<float>(used);
    for (int32_t d = 0; d < dim_; ++d) out[d] *= inv;
  }
  return used;
}

std::string ProductIndex::IdOf(int32_t label) const {
  std::shared_lock<WriterFirstLock> lock(mu_);
  return label >= 0 && label < static_cast<int32_t>(ids_.size()) ? ids_[label] : std::string();
}

void ProductIndex::IdsOf(const int32_t* labels, int64_t n, std::string* out) const {
  std::shared_lock<WriterFirstLock> lock(mu_);
  const int32_t known = static_cast<int32_t>(ids_.size());
  for (int64_t i = 0; i < n; ++i)  // a page's ids lie anywhere in ids_: ask for all, then copy
    if (labels[i] >= 0 && labels[i] < known) Prefetch(&ids_[labels[i]], sizeof(std::string));
  for (int64_t i = 0; i < n; ++i) out[i] = labels[i] >= 0 && labels[i] < known ? ids_[labels[i]] : std::string();
}

int64_t ProductIndex::num_live() const {
  std::shared_lock<WriterFirstLock> lock(mu_);
  return num_live_;
}

SearchFilter ProductIndex::MakeFilter(const std::vector<std::string>& exclude, std::string_view category) const {
  std::shared_lock<WriterFirstLock> lock(mu_);
  SearchFilter filter;
  filter.excluded.reserve(exclude.size());
  for (const std::string& id : exclude) {
    const int32_t label = FindLocked(id);
    if (label >= 0) filter.excluded.push_back(label);
  }
  std::sort(filter.excluded.begin(), filter.excluded.end());
  filter.excluded.erase(std::unique(filter.excluded.begin(), filter.excluded.end()), filter.excluded.end());
  if (!category.empty()) {
    auto it = category_ids_.find(std::string(category));
    filter.category = it == category_ids_.end() ? SearchFilter::kNoSuchCategory : it->second;
  }
  return filter;
}

int32_t ProductIndex::Find(std::string_view product) const {
  std::shared_lock<WriterFirstLock> lock(mu_);
  return FindLocked(product);
}

bool ProductIndex::UnitVector(std::string_view product, float* out) const {
  std::shared_lock<WriterFirstLock> lock(mu_);
  const int32_t label = FindLocked(product);
  if (label < 0 || !(flags_[label] & kHasVector)) return false;
  std::copy_n(unit_.data() + static_cast<int64_t>(label) * dim_, dim_, out);
  return true;
}

bool ProductIndex::IsAvailable(std::string_view product) const {
  std::shared_lock<WriterFirstLock> lock(mu_);
  const int32_t label = FindLocked(product);
  return label < 0 || (flags_[label] & kAvailable);
}

}  // namespace vasgd
