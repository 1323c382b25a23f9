// The daemon's answers to the HTTP API (http/api.h), over the served bundle and the store.
//
// Recommendations for a user:
//   - exclusions = the user's purchases read from the store at query time (so a purchase
//     changes them at once; include_purchased=true lifts them) + the request's `exclude`;
//     unavailable products and other categories are filtered by the index;
//   - a user the model knows: their embedding ranked with the manifest's score ("model");
//   - a user the model does not know but the store does: fold-in, the mean of the unit vectors
//     of the products they bought (ProductIndex::FoldIn), ranked the same way ("fold-in");
//   - anyone else, or a fold-in with no embedded product: most purchased products ("popular");
//   - when the model's cold_profile_weight > 0, cold products (no purchase in the model's data,
//     or embedded live) are reordered by the user's visual profile, the term of
//     model/visual_profile.h, over the user's first kMaxProfilePurchases purchases with features.
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
  // The visual-profile terms of the cold products for a user who bought `purchases`, ranked
  // with `query` (dim floats); null when the model has none or the user no profile. Points to
  // thread-local storage valid until this thread's next call.
  const ScoreTerms* ColdTerms(const ServingBundle& b, const std::vector<ProductWeight>& purchases,
                              const float* query) const;

  // A profile over this many purchases is stable; a user with thousands costs no more per query.
  static constexpr size_t kMaxProfilePurchases = 256;

  const Config config_;
  GraphStore* store_;
  EventApplier* applier_;
  ServingState* serving_;
  Retrainer* retrainer_;
  const KafkaIngester* ingester_;
  Counter* by_model_;
  Counter* by_fold_in_;
  Counter* by_popular_;
};

}  // namespace vasgd
