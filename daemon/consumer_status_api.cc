#include "daemon/consumer_status_api.h"

#include "stream/kafka_ingester.h"

namespace vasgd {

AdminStatus ConsumerStatusApi::GetStatus() {
  AdminStatus s = inner_->GetStatus();
  s.assignment = Assignment();
  return s;
}

Readiness ConsumerStatusApi::Ready() {
  Readiness r = inner_->Ready();
  r.assignment = Assignment();
  return r;
}

ConsumerAssignment ConsumerStatusApi::Assignment() const {
  ConsumerAssignment a;
  if (!ingester_) return a;
  a.kafka = true;
  a.partitions = ingester_->assigned_partitions();
  a.unassigned_seconds = ingester_->unassigned_seconds();
  return a;
}

}  // namespace vasgd
