// RoleApi: the daemon's Api (daemon/api_impl.h, behind daemon/consumer_status_api.h) as its
// role (config cluster.role, `vasgd serve --role`) shapes it. Every call goes to the wrapped Api
// unchanged, except:
//   - on a replica, POST /v1/admin/retrain and POST /v1/admin/rollback answer 409 saying why: a
//     replica serves what the trainer publishes and never trains; both are done on the trainer,
//     whose new `current` every replica follows;
//   - on a replica fed by Kafka, POST /v1/events answers 409: the replicas each apply the topics
//     into their own store, so an event posted to one of them would reach that replica alone and
//     its answers would drift from the others' (post to the topics, or to the trainer);
//   - GET /readyz and GET /v1/admin/status carry the role, the served version and its age (now -
//     its trained_at), so a load balancer or an operator sees a replica that serves an old version
//     (its trainer down).
#pragma once

#include <string>
#include <vector>

#include "daemon/serving_state.h"
#include "http/api.h"

namespace vasgd {

// Seconds from `trained_at` (ISO 8601 UTC, "2026-11-25T18:30:00Z", as in a manifest) to now;
// -1 when it does not parse.
double ModelAgeSeconds(const std::string& trained_at);

class RoleApi : public Api {
 public:
  // Neither pointer is owned; both must outlive this object. `role`: all | trainer | replica.
  // `events_from_kafka`: the daemon consumes Kafka topics (kafka.brokers set).
  RoleApi(Api* inner, std::string role, const ServingState* serving, bool events_from_kafka)
      : inner_(inner), role_(std::move(role)), serving_(serving), events_from_kafka_(events_from_kafka) {}

  Result<Recommendations> Recommend(const RecommendRequest& request) override { return inner_->Recommend(request); }
  Result<SimilarItems> Similar(const SimilarRequest& request) override { return inner_->Similar(request); }
  Result<AnalogyResult> Analogy(const AnalogyRequest& request) override { return inner_->Analogy(request); }
  Result<std::vector<EventOutcome>> Ingest(const std::vector<std::string>& events) override;
  Result<RetrainJob> StartRetrain() override;
  Result<std::string> Rollback() override;
  AdminStatus GetStatus() override;
  Readiness Ready() override;

 private:
  bool replica() const { return role_ == "replica"; }
  // Seconds since the served version was trained (its version into *version when given); -1, and
  // *version untouched, while no model is served.
  double ServedModelAge(std::string* version) const;

  Api* inner_;
  const std::string role_;
  const ServingState* serving_;
  const bool events_from_kafka_;
};

}  // namespace vasgd
