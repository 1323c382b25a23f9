// The product index: nearest products to a query vector under the model's score, with filters,
// pagination and live updates between retrainings. Built from a model version's product
// embeddings (model/model_version.h); hnswlib graphs for large catalogues, exact search for small
// ones and as the fallback that keeps every answer complete.
//
// Scores. Product -> product similarity is always cosine. User -> product ranking uses the model
// version's `score`: "cosine" or "dot". One HNSW graph over L2-normalised vectors (inner-product
// space, i.e. cosine) serves similar items and cosine users. A "dot" model gets a second graph
// over the raw vectors (hnswlib's inner-product space, maximum inner product search): a cosine
// graph cannot rank by dot (a long vector must beat a closer short one) and a dot graph cannot
// answer cosine similarity, and no transform of one set of vectors serves both exactly. The
// second graph doubles build time and memory only for "dot" models, which the evaluation picks
// only when it ranks better.
//
// Filters never shorten an answer: a search returns min(k, eligible products beyond `offset`)
// results. Eligible = has a vector, available, not in the filter's excluded set, in the filter's
// category. hnswlib 0.6.2 cannot filter inside the graph walk (unavailable products are marked
// deleted there, which it does skip); the other filters over-fetch from the graph (the excluded
// count, plus ef_search, divided by the category's share of the catalogue), widen the fetch 4×
// when too few survive, and fall back to exact search over the eligible products. A query whose
// candidates (the available catalogue, or the category's members) number fewer than exact_below,
// or fewer than what the graph search would cost, is answered exactly from the start.
//
// Thread-safety: every const method may run from any number of threads at once. The live-update
// methods (AddProduct, SetAvailable, SetCategories) run one at a time, and no query ever waits
// while an insertion is computed: AddProduct finds the new product's place in the graphs (about
// a millisecond on 100,000 products) beside running queries, then publishes it under an
// exclusive lock held for microseconds (HnswGraph::PrepareAdd/PublishAdd). Per-product arrays
// that must grow are copied outside that lock and swapped in under it. An update is visible
// to every query that starts after it returns. Labels (dense ids) are never reused or
// renumbered while the index lives. Swapping whole indexes after a retraining is the owner's
// job (e.g. a std::shared_ptr swap).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/options.h"
#include "common/status.h"
#include "index/writer_first_lock.h"

namespace vasgd {

struct ModelVersion;
class HnswGraph;

enum class Metric { kCosine, kDot };

// "cosine" or "dot" (a manifest's score); InvalidArgument otherwise.
Result<Metric> ParseMetric(const std::string& score);
const char* MetricName(Metric metric);

struct ScoredProduct {
  int32_t label = -1;  // dense id inside this index
  std::string id;      // the shop's product id
  float score = 0;     // cosine or inner product (search), summed purchase weight (popular)
};

// What a search may not return. Build it with ProductIndex::MakeFilter.
struct SearchFilter {
  static constexpr int32_t kAnyCategory = -1;
  static constexpr int32_t kNoSuchCategory = -2;  // a category no product has: nothing matches
  std::vector<int32_t> excluded;                   // sorted, unique labels
  int32_t category = kAnyCategory;
};

// Additive terms on some products' scores, e.g. the visual-profile term that reorders cold
// products for a user (model/visual_profile.h). labels: sorted, unique; terms[i] is labels[i]'s.
struct ScoreTerms {
  std::vector<int32_t> labels;
  std::vector<float> terms;
};

// What a search fills in, beyond what it may return.
struct SearchOptions {
  bool with_ids = true;  // false: ScoredProduct::id stays empty (callers that need labels alone)
};

// How a search found its answer (for metrics and benchmarks).
struct SearchStats {
  bool exact = false;          // answered (in the end) by exact search
  int graph_rounds = 0;        // HNSW searches made (0 = exact only)
  int64_t graph_fetched = 0;   // neighbours asked of the graph in the last round
};

class ProductIndex {
 public:
  // Builds the index over `model`'s product embeddings: every product whose kind is warm or cold
  // gets a vector (kNone products are known by id, without one). InvalidArgument for a malformed
  // model (shapes, unknown score, non-finite vectors, duplicate ids).
  // The graph is built by one thread, so the same model always gives the same graph.
  // hnswlib 0.6.2's concurrent insertion is not used: ThreadSanitizer shows it racing on the
  // level generator and a lock-order cycle (an inserting thread holds its new element's lock
  // while locking neighbours, which may be another thread's new element) that can deadlock.
  // `threads` is accepted for source compatibility and ignored.
  static Result<std::unique_ptr<ProductIndex>> Build(const ModelVersion& model,
                                                     const IndexOptions& options, int threads = 1);

  // Loads the graphs that Save wrote into `dir` and checks that they belong to `model`: the same
  // products with the same vectors, else Corruption (the caller verifies the file checksums
  // first). No graph is rebuilt, so a restart serves at once.
  static Result<std::unique_ptr<ProductIndex>> Load(const std::string& dir, const ModelVersion& model,
                                                    const IndexOptions& options);

  // Writes the graphs into `dir` (files FileNames(user_metric()), each through a temporary file
  // and a rename). Products added live are written too, but Load accepts the files only for the
  // model they were built from, so save right after Build. Availability marks are not saved.
  Status Save(const std::string& dir) const;
  static std::vector<std::string> FileNames(Metric user_metric);

  ~ProductIndex();
  ProductIndex(const ProductIndex&) = delete;
  ProductIndex& operator=(const ProductIndex&) = delete;

  // --- queries (shared lock) ---

  // The products nearest to `query` (dim() floats) under `metric`, best first: ranks
  // [offset, offset + k) of the eligible products. For kCosine the query need not be normalised
  // and scores are cosines; for kDot scores are inner products with the raw vectors, which only
  // a kDot model keeps. InvalidArgument for k < 1, offset < 0, a non-finite query, or kDot on a
  // cosine model. With `terms`, each listed product scores base + term: those products are
  // scored exactly, apart from the graph search over the rest, and the page comes from the merged
  // ranking (labels the index does not know are ignored).
  // `options` (null = the defaults) may leave the ids out.
  Result<std::vector<ScoredProduct>> Search(const float* query, Metric metric, const SearchFilter& filter,
                                            int k, int offset, SearchStats* stats = nullptr,
                                            const ScoreTerms* terms = nullptr,
                                            const SearchOptions* options = nullptr) const;

  // The products most cosine-similar to `product` (never itself). NotFound for an unknown id or a
  // product without a vector yet.
  Result<std::vector<ScoredProduct>> Similar(std::string_view product, const SearchFilter& filter, int k,
                                             int offset, SearchStats* stats = nullptr) const;

  // The most purchased eligible products (summed purchase weight in the model's training data;
  // products added later count 0), ties by label. Needs no vector: the fallback for users with
  // nothing to fold in.
  std::vector<ScoredProduct> Popular(const SearchFilter& filter, int k, int offset) const;

  // Fold-in of a user the model does not know, from the products they bought: the mean of the
  // unit-length vectors of those products (each purchase counts once, whatever its vector's
  // length, so a popular long vector does not drown the rest). Under cosine scoring this is the
  // centroid direction of the user's purchases; under dot scoring its length does not change
  // the ranking. Writes dim() floats and returns the number of purchases used; 0 (and nothing
  // written) when none of them has a vector: then serve Popular.
  int FoldIn(const std::vector<std::string>& purchased, float* out) const;

  // --- building blocks of the hybrid ranking (rank/hybrid_ranker.h) ---

  // out[i] = cos(query, product) for label from + i, for the labels from `from` on (at most
  // `capacity` of them): -infinity where the product is not eligible under `filter` (no vector,
  // unavailable, excluded, other category). Returns how many it wrote (labels added concurrently
  // after the call began are not scored).
  int64_t CosineRange(const float* query, const SearchFilter& filter, int64_t from, int64_t capacity,
                      float* out) const;
  // The same for the listed labels only (unknown labels score -infinity).
  void CosineOf(const float* query, const SearchFilter& filter, const int32_t* labels, int64_t n, float* out) const;
  // Appends to `out` the first `want` labels of `order` (n labels, best first) that are eligible
  // under `filter`, under one lock; returns how many labels of `order` it read (where to go on).
  // The hybrid walks its prior order with it (rank/hybrid_ranker.cc).
  int64_t TakeEligible(const int32_t* order, int64_t n, const SearchFilter& filter, int64_t want,
                       std::vector<int32_t>* out) const;
  // FoldIn over labels: the mean of the unit vectors of those with one; returns how many.
  int FoldInLabels(const int32_t* labels, int64_t n, float* out) const;
  // The product id of a label ("" for an unknown label).
  std::string IdOf(int32_t label) const;
  // out[i] = IdOf(labels[i]) for i < n, under one lock (a page of answers).
  void IdsOf(const int32_t* labels, int64_t n, std::string* out) const;

  // Marks a long run of reads beside the queries (the users' nearest found or extended while a
  // version serves), for as long as it lives: live updates then wait for a moment no reader holds
  // the index before they queue (LockToWrite), so that this reader, preempted inside a read,
  // does not hold every query up behind an update.
  class BackgroundReads {
   public:
    explicit BackgroundReads(const ProductIndex& index) : index_(index) { ++index_.background_readers_; }
    ~BackgroundReads() { --index_.background_readers_; }
    BackgroundReads(const BackgroundReads&) = delete;
    BackgroundReads& operator=(const BackgroundReads&) = delete;

   private:
    const ProductIndex& index_;
  };
  int64_t num_live() const;  // products with a vector and available: what an unfiltered search ranks

  // Excluded labels from product ids (unknown ids are skipped: they cannot be returned anyway)
  // and the category filter ("" = any).
  SearchFilter MakeFilter(const std::vector<std::string>& exclude, std::string_view category) const;

  // Label of a product id, or -1.
  int32_t Find(std::string_view product) const;
  // Copies a product's unit-length vector into `out` (dim() floats); false without a vector.
  bool UnitVector(std::string_view product, float* out) const;
  bool IsAvailable(std::string_view product) const;

  // --- live updates (one at a time; queries wait for none of them, see above) ---

  // Adds a product's vector (an unknown id gets the next label) or replaces it (the same vector
  // again changes nothing). The product is returned by searches from now on unless it is
  // marked unavailable. InvalidArgument for a wrong-sized or non-finite vector or an empty id.
  Status AddProduct(std::string_view product, const std::vector<float>& vector);

  // Hides a product from every answer (false) or shows it again (true), at once. An unknown id
  // is registered without a vector, so the mark holds when its vector comes.
  Status SetAvailable(std::string_view product, bool available);

  // Replaces a product's categories (registering an unknown id, as SetAvailable does).
  Status SetCategories(std::string_view product, const std::vector<std::string>& categories);

  // Tests only: AddProduct calls `hook` after preparing an insertion and before publishing it,
  // holding no lock that queries take.
  void SetPublishHookForTesting(std::function<void()> hook) { publish_hook_ = std::move(hook); }

  // --- sizes ---
  int32_t dim() const { return dim_; }
  Metric user_metric() const { return user_metric_; }
  int64_t exact_below() const { return options_.exact_below; }
  int64_t num_products() const;     // every known id
  int64_t num_with_vector() const;  // products searches can return, available or not
  int64_t num_unavailable() const;  // products marked unavailable (with a vector or not)

 private:

  ProductIndex(int32_t dim, Metric user_metric, const IndexOptions& options);

  static Result<std::unique_ptr<ProductIndex>> FromModel(const ModelVersion& model,
                                                         const IndexOptions& options);
  // *Locked methods: the caller holds mu_ (shared to read, exclusive to write), or write_mu_ to
  // read (only writers change anything, and they hold write_mu_).
  int32_t FindLocked(std::string_view product) const;
  // Needs write_mu_, not mu_: makes room for `more` new labels, see product_index.cc.
  void MakeRoomLocked(int64_t more);
  // Needs write_mu_ and mu_ exclusive, and room made first.
  int32_t RegisterLocked(std::string_view product);
  void SetVectorLocked(int32_t label, const float* vector);
  bool EligibleLocked(int32_t label, const SearchFilter& filter) const;
  bool HasCategoryLocked(int32_t label, int32_t category) const;
  const float* RowsFor(Metric metric) const;
  Result<std::vector<ScoredProduct>> SearchLocked(const float* query, Metric metric,
                                                  const SearchFilter& filter, int k, int offset,
                                                  SearchStats* stats, const ScoreTerms* terms = nullptr,
                                                  const SearchOptions& options = SearchOptions()) const;
  // Adds the eligible products of `terms` (scored exactly, plus their term) to `ranked` (best
  // first) and keeps its `need` best.
  void MergeTermsLocked(const float* query, Metric metric, const SearchFilter& filter, const ScoreTerms& terms,
                        int64_t need, std::vector<ScoredProduct>* ranked) const;
  // `near_excluded`: how many of filter.excluded may sit near the query (the first fetch makes
  // room for them); products excluded only because they are ranked apart (ScoreTerms) are not.
  bool GraphSearchLocked(const HnswGraph& graph, const float* query, Metric metric,
                         const SearchFilter& filter, int64_t need, int64_t candidates, int64_t near_excluded,
                         SearchStats* stats, std::vector<ScoredProduct>* ranked) const;
  void ExactSearchLocked(const float* query, Metric metric, const SearchFilter& filter, int64_t need,
                         std::vector<ScoredProduct>* ranked) const;
  std::vector<ScoredProduct> PageLocked(std::vector<ScoredProduct> ranked, int k, int offset, bool with_ids = true) const;

  const int32_t dim_;
  const Metric user_metric_;
  const IndexOptions options_;

  // mu_ exclusive, to publish an update. While a BackgroundReads is alive, politely
  // (WriterFirstLock::lock_politely) for up to kWriterPatience: a background reader preempted
  // while it holds mu_ would otherwise stall every query behind the waiting update. Not always:
  // with many query threads mu_ is rarely free, and each update would wait out the patience.
  std::unique_lock<WriterFirstLock> LockToWrite();
  static constexpr std::chrono::milliseconds kWriterPatience{20};
  mutable std::atomic<int> background_readers_{0};

  mutable WriterFirstLock mu_;  // queries shared, publishing an update exclusive
  std::mutex write_mu_;          // live updates, one at a time
  std::function<void()> publish_hook_;
  // Per label. ids_ is a deque so the string_views keyed in labels_ stay valid as it grows.
  std::deque<std::string> ids_;
  std::unordered_map<std::string_view, int32_t> labels_;
  std::vector<uint8_t> flags_;         // kHasVector | kAvailable bits
  std::vector<float> unit_;            // label × dim_, unit length (zeros without a vector)
  std::vector<float> raw_;             // label × dim_, as given; only for kDot models
  std::vector<float> popularity_;      // summed purchase weight
  std::vector<int32_t> by_popularity_; // labels, most popular first
  std::vector<std::vector<int32_t>> categories_of_;      // label -> sorted category ids
  std::vector<std::vector<int32_t>> category_members_;   // category id -> sorted labels
  std::unordered_map<std::string, int32_t> category_ids_;
  int64_t num_with_vector_ = 0;
  int64_t num_live_ = 0;         // with a vector and available
  int64_t num_unavailable_ = 0;
  std::unique_ptr<HnswGraph> cosine_graph_;  // over unit_
  std::unique_ptr<HnswGraph> dot_graph_;     // over raw_; only when user_metric_ == kDot
};

}  // namespace vasgd
