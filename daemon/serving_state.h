// What the daemon serves: an immutable bundle {model version, product index, id maps} behind a
// std::shared_ptr that a query copies once (std::atomic_load) and keeps for its whole life, so
// a swap never fails or blocks a query: the old bundle lives until its last query ends.
//
// Between retrainings the served bundle follows the store through the applier's listener: a
// product with features the model has no vector for is embedded by the model's encoder and added
// to the index, availability and categories change at once, and the store-id -> label map grows.
// (Purchases need nothing here: queries read a user's purchases from the store.)
//
// A bundle trained from an older snapshot must not lose what arrived meanwhile. Whoever installs
// a bundle opens a journal session BEFORE the snapshot its model was trained from is taken; the
// listener then records every product change; Install reconciles the new bundle with the store
// (categories, availability, products without a vector) and replays the session's journal under
// the listener's lock, so nothing committed in between is missed, before it swaps.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/metrics.h"
#include "common/options.h"
#include "common/status.h"
#include "index/product_index.h"
#include "model/model_version.h"
#include "rank/hybrid.h"
#include "rank/user_candidates.h"
#include "store/graph_store.h"
#include "stream/event_applier.h"

namespace vasgd {

struct ServingBundle {
  std::string dir;                           // the version's directory
  std::shared_ptr<const ModelVersion> model;
  std::unique_ptr<ProductIndex> index;
  Metric user_metric = Metric::kCosine;      // the manifest's score
  std::unordered_map<std::string_view, int32_t> user_row;     // keys view model->user_ids
  std::unordered_map<std::string_view, int32_t> product_row;  // keys view model->product_ids
  double holdout_auc = -1;                   // from the manifest's validation; < 0 = none

  const std::string& version() const { return model->version; }

  // The user's model row, or -1 for a user the model does not know.
  int32_t UserRow(std::string_view user) const;
  // The product's raw embedding (the model's row, or the live encoder output); false without one.
  bool ProductVector(std::string_view product, std::vector<float>* out) const;
  // Index label of a store dense product id; -1 when the index does not know it.
  int32_t LabelOfStoreProduct(int32_t dense) const;
  // Appends the labels of products[i].id (store dense ids) that the index knows to *labels.
  void AppendLabels(const std::vector<ProductWeight>& products, std::vector<int32_t>* labels) const;

  // Live state, written by ServingState only.
  mutable std::shared_mutex live_mu;
  std::vector<int32_t> label_of_store;                              // store dense id -> label
  std::unordered_map<std::string, std::vector<float>> live_vectors;  // products embedded live
  // The hybrid's per-product tables (rank/hybrid.h); products embedded live are added to them.
  std::unique_ptr<HybridTables> hybrid;
  // Each model user's nearest products by V (rank/user_candidates.h), found at load and again in
  // the background once many products were indexed since; null below index.exact_below products
  // or with hybrid.nearest_at_load off. std::atomic_load/store only.
  std::shared_ptr<const UserCandidates> nearest;
};

class ServingState : public EventListener {
 public:
  // Registers vasgd_index_products, vasgd_live_products_embedded_total and
  // vasgd_model_swaps_total. Pointers are not owned and must outlive this object.
  ServingState(GraphStore* store, const IndexOptions& index_options, const HybridOptions& hybrid_options,
               MetricsRegistry* metrics);
  ~ServingState() override;  // stops an extension of the nearest under way and waits for it

  // Loads and checks the version in `dir`: every file's checksum and the arrays' shapes and
  // finiteness (ReadModelVersion), sanity checks (a user, a product vector, no zero warm rows,
  // a known score), then the saved index (its checksum, and that it holds this model's vectors;
  // a version saved without an index gets one built), then, above index.exact_below products,
  // each user's nearest by V (hybrid.nearest_at_load: on every core before anything is served,
  // else on one thread paced to a quarter of a core). Corruption/InvalidArgument say what failed.
  Result<std::shared_ptr<ServingBundle>> Load(const std::string& dir) const;

  // Journal sessions (see the file comment). Returns the session's token.
  int64_t BeginJournal();
  void EndJournal(int64_t token);

  // Reconciles `bundle` with the store (then extends its nearest over the products that embedded),
  // replays the journal since `token`, makes it the served bundle and ends the session. An error
  // leaves the old bundle served.
  Status Install(const std::shared_ptr<ServingBundle>& bundle, int64_t token);

  // The bundle to answer with; null before the first Install. Lock-free for readers.
  std::shared_ptr<const ServingBundle> Current() const { return std::atomic_load(&current_); }

  // EventListener: applies product changes to the served bundle and journals them.
  void OnEventsApplied(const Event* events, const UpdateOutcome* outcomes, size_t n) override;

  // Events applied (accepted) since this object was made; the retrainer's event trigger.
  int64_t applied_events() const { return applied_.load(std::memory_order_relaxed); }

 private:
  struct JournalEntry {
    int64_t seq;
    int32_t dense;  // store dense product id
    Event event;
  };

  Status Reconcile(ServingBundle* bundle) const;
  // Extends the served bundle's nearest on a thread of its own once UserCandidates::
  // kRefreshAfter products were indexed since they were found: one refresh at a time, resting
  // three times as long as it works (a quarter of a core while it runs), and after one that took
  // t seconds none for 3t more, so refreshing keeps at most a sixteenth of a core however fast
  // products arrive (queries scan, then walk, meanwhile). Under mu_.
  void MaybeRefreshNearest(const std::shared_ptr<ServingBundle>& bundle);
  // Applies one product change to `bundle`; `scratch` for the encoder.
  void ApplyProduct(ServingBundle* bundle, const Event& event, int32_t dense, std::vector<float>* scratch);
  // Embeds a product by the bundle's encoder and indexes it; false when it cannot.
  bool Embed(ServingBundle* bundle, std::string_view product, const std::vector<float>& features,
             std::vector<float>* scratch) const;
  void SetLabel(ServingBundle* bundle, int32_t dense, std::string_view product) const;
  // Extends `nearest` over the products `b`'s index gained since it was found, hands the result
  // to `install` (not when stopped early), then counts it and logs `event`. `pace` as
  // UserCandidates::Extend's.
  void ExtendNearest(const ServingBundle& b, const UserCandidates& nearest, const std::function<void()>* pace,
                     const char* event, const std::function<void(std::shared_ptr<const UserCandidates>)>& install);

  GraphStore* store_;
  const IndexOptions index_options_;
  const HybridOptions hybrid_options_;
  std::shared_ptr<ServingBundle> current_;  // std::atomic_load/store only

  std::mutex mu_;  // the listener and Install's final step; guards the journal and scratch_
  std::vector<JournalEntry> journal_;
  std::multiset<int64_t> sessions_;  // tokens (first seq) of open sessions
  int64_t next_seq_ = 0;
  std::vector<float> scratch_;
  std::atomic<int64_t> applied_{0};
  std::thread refresher_;  // the nearest's extension (MaybeRefreshNearest)
  std::atomic<bool> refreshing_{false};
  std::atomic<bool> stopping_{false};  // set by the destructor: the extension stops early
  std::chrono::steady_clock::time_point next_refresh_;  // none before (written by the refresher)

  Gauge* index_products_;
  Counter* live_embedded_;
  Counter* swaps_;
  Counter* nearest_refreshes_;
};

}  // namespace vasgd
