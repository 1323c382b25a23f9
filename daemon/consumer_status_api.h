// ConsumerStatusApi: the daemon's Api (daemon/api_impl.h) with the Kafka consumer's group
// membership added to GET /readyz and GET /v1/admin/status (http/api.h ConsumerAssignment:
// partitions assigned, seconds without any). Every call goes to the wrapped Api unchanged; only
// Ready() and GetStatus() get the assignment filled in.
#pragma once

#include <string>
#include <vector>

#include "http/api.h"

namespace vasgd {

class KafkaIngester;

class ConsumerStatusApi : public Api {
 public:
  // Neither pointer is owned; both must outlive this object. `ingester` null = no Kafka.
  ConsumerStatusApi(Api* inner, const KafkaIngester* ingester) : inner_(inner), ingester_(ingester) {}

  Result<Recommendations> Recommend(const RecommendRequest& request) override { return inner_->Recommend(request); }
  Result<SimilarItems> Similar(const SimilarRequest& request) override { return inner_->Similar(request); }
  Result<AnalogyResult> Analogy(const AnalogyRequest& request) override { return inner_->Analogy(request); }
  Result<std::vector<EventOutcome>> Ingest(const std::vector<std::string>& events) override {
    return inner_->Ingest(events);
  }
  Result<RetrainJob> StartRetrain() override { return inner_->StartRetrain(); }
  Result<std::string> Rollback() override { return inner_->Rollback(); }
  AdminStatus GetStatus() override;
  Readiness Ready() override;

 private:
  ConsumerAssignment Assignment() const;

  Api* inner_;
  const KafkaIngester* ingester_;
};

}  // namespace vasgd
