#include "stream/mock_cluster.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "stream/kafka_log.h"

namespace vasgd {

Result<std::unique_ptr<MockCluster>> MockCluster::Start(int brokers) {
  std::unique_ptr<MockCluster> m(new MockCluster());
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  // The handle only hosts the cluster; it never connects anywhere itself.
  RouteKafkaLogs(conf);
  m->rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
  if (!m->rk_) {
    rd_kafka_conf_destroy(conf);
    return Status::Internal(std::string("mock cluster host: ") + err);
  }
  m->mcluster_ = rd_kafka_mock_cluster_new(m->rk_, brokers);
  if (!m->mcluster_) return Status::Internal("rd_kafka_mock_cluster_new failed");
  m->bootstrap_ = rd_kafka_mock_cluster_bootstraps(m->mcluster_);
  return m;
}

MockCluster::~MockCluster() {
  if (mcluster_) rd_kafka_mock_cluster_destroy(mcluster_);
  if (rk_) rd_kafka_destroy(rk_);
}

Status MockCluster::CreateTopic(const std::string& topic, int partitions) {
  rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(mcluster_, topic.c_str(), partitions, 1);
  if (err) return Status::Internal("create topic " + topic + ": " + rd_kafka_err2str(err));
  return Status::Ok();
}

void MockCluster::PushRequestErrors(int16_t api_key, const std::vector<int>& errors) {
  std::vector<rd_kafka_resp_err_t> errs;
  for (int e : errors) errs.push_back(static_cast<rd_kafka_resp_err_t>(e));
  rd_kafka_mock_push_request_errors_array(mcluster_, api_key, errs.size(), errs.data());
}

Status MockCluster::SetBrokerDown(int32_t broker_id) {
  rd_kafka_resp_err_t err = rd_kafka_mock_broker_set_down(mcluster_, broker_id);
  if (err) return Status::NotFound(std::string("broker down: ") + rd_kafka_err2str(err));
  return Status::Ok();
}

Status MockCluster::SetBrokerUp(int32_t broker_id) {
  rd_kafka_resp_err_t err = rd_kafka_mock_broker_set_up(mcluster_, broker_id);
  if (err) return Status::NotFound(std::string("broker up: ") + rd_kafka_err2str(err));
  return Status::Ok();
}

}  // namespace vasgd
