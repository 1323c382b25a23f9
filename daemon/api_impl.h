// The daemon's answers to the HTTP API (http/api.h), over the served bundle and the store.
//
// Recommendations for a user:
//   - exclusions = the user's purchases read from the store at query time (so a purchase
//     changes them at once; include_purchased=true lifts them) + the request's `exclude`;
//     unavailable products and other categories are filtered by the index;
//   - ranked by the hybrid (rank/hybrid.h, weights from the model version's manifest) over the
//     user's purchases as the store holds them now, so a purchase made after the last retraining
//     changes the lists' term of the very next answer; each item carries its `reason`;
//   - V uses the user's embedding when the model knows the user ("model"), else the fold-in, the
//     mean of the unit vectors of the products they bought ("fold-in", also when none has one:
//     the lists and popularity still rank);
//   - a user with no purchase the model can use and no embedding: most purchased ("popular").
// Similar products: cosine over the index, warm and cold (live-embedded) products alike.
// Analogy: sum of the positive embeddings minus the negative ones (raw model vectors, products
// embedded live included), ranked with the manifest's score; the products named in the query are
// excluded from the answer. Users must be known to the model.
#pragma once

#include <string>
#include <vector>

#include "common/metrics.h"
#include "common/options.h"
#include "daemon/retrainer.h"
#include "daemon/serving_state.h"
#include "http/api.h"
#include "store/graph_store.h"
#include "stream/event_applier.h"

namespace vasgd {

class KafkaIngester;

class ApiImpl : public Api {
 public:
  // Pointers are not owned and must outlive this object; `ingester` may be null (no Kafka).
  ApiImpl(const Config& config, GraphStore* store, EventApplier* applier, ServingState* serving,
          Retrainer* retrainer, const KafkaIngester* ingester, MetricsRegistry* metrics);

  Result<Recommendations> Recommend(const RecommendRequest& request) override;
  Result<SimilarItems> Similar(const SimilarRequest& request) override;
  Result<AnalogyResult> Analogy(const AnalogyRequest& request) override;
  Result<std::vector<EventOutcome>> Ingest(const std::vector<std::string>& events) override;
  Result<RetrainJob> StartRetrain() override;
  Result<std::string> Rollback() override;
  AdminStatus GetStatus() override;
  Readiness Ready() override;

 private:
  Result<std::shared_ptr<const ServingBundle>> Served() const;
  // The hybrid sees a user's first this many purchases (store order): the evaluation sees all of
  // them, so below this serving computes exactly its formula; a user with more costs no more per
  // query (lists: purchases × neighbours.top_k additions).
  static constexpr int64_t kMaxQueryPurchases = 5000;

  const Config config_;
  GraphStore* store_;
  EventApplier* applier_;
  ServingState* serving_;
  Retrainer* retrainer_;
  const KafkaIngester* ingester_;
  Counter* by_model_;
  Counter* by_fold_in_;
  Counter* by_popular_;
  Counter* v_found_at_load_;  // candidate-mode queries by where V's candidates came from
  Counter* v_graph_walk_;
};

}  // namespace vasgd
