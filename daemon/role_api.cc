#include "daemon/role_api.h"

#include <chrono>
#include <ctime>

namespace vasgd {

double ModelAgeSeconds(const std::string& trained_at) {
  std::tm tm{};
  if (!strptime(trained_at.c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) return -1;
  const double trained = static_cast<double>(timegm(&tm));
  const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  return now > trained ? now - trained : 0;
}

Result<std::vector<EventOutcome>> RoleApi::Ingest(const std::vector<std::string>& events) {
  if (replica() && events_from_kafka_) {
    return Status::FailedPrecondition(
        "this daemon is a replica fed by Kafka (cluster.role = replica): an event posted here would reach this "
        "replica alone; produce it to the Kafka topics every replica consumes");
  }
  return inner_->Ingest(events);
}

Result<RetrainJob> RoleApi::StartRetrain() {
  if (replica()) {
    return Status::FailedPrecondition(
        "this daemon is a replica (cluster.role = replica): it serves the versions the trainer publishes in "
        "cluster.shared_models and never trains; start the retraining on the trainer");
  }
  return inner_->StartRetrain();
}

Result<std::string> RoleApi::Rollback() {
  if (replica()) {
    return Status::FailedPrecondition(
        "this daemon is a replica (cluster.role = replica): it serves whatever version the trainer's "
        "cluster.shared_models/current names; roll back on the trainer and every replica follows");
  }
  return inner_->Rollback();
}

double RoleApi::ServedModelAge(std::string* version) const {
  std::shared_ptr<const ServingBundle> served = serving_->Current();
  if (!served) return -1;
  if (version) *version = served->version();
  return ModelAgeSeconds(served->model->trained_at);
}

AdminStatus RoleApi::GetStatus() {
  AdminStatus s = inner_->GetStatus();
  s.role = role_;
  s.model_age_seconds = ServedModelAge(nullptr);
  return s;
}

Readiness RoleApi::Ready() {
  Readiness r = inner_->Ready();
  r.role = role_;
  r.model_age_seconds = ServedModelAge(&r.model_version);
  return r;
}

}  // namespace vasgd
