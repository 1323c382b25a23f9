#include "daemon/demo.h"

#include <algorithm>
#include <cstdio>
#include <numeric>
#include <vector>

#include "common/log.h"

namespace vasgd {
namespace {

constexpr size_t kBatch = 4096;

std::string Category(int32_t cluster) { return "cluster-" + std::to_string(cluster); }

Status Flush(EventApplier* applier, std::vector<Event>* batch) {
  if (batch->empty()) return Status::Ok();
  std::vector<UpdateOutcome> outcomes(batch->size());
  VASGD_RETURN_IF_ERROR(applier->Apply(batch->data(), batch->size(), {}, outcomes.data()));
  for (size_t i = 0; i < outcomes.size(); ++i) {
    if (outcomes[i].result == UpdateResult::kRejected) {
      return Status::Internal(std::string("demo: the store refused a demo event: ") +
                              RejectReasonName(outcomes[i].reason));
    }
  }
  batch->clear();
  return Status::Ok();
}

// The first cold (nobody bought it) or warm product of the demo shop, for the printed calls.
std::string First(const SyntheticShop& shop, bool cold) {
  for (size_t p = 0; p < shop.cold.size(); ++p) {
    if ((shop.cold[p] != 0) == cold) return "p" + std::to_string(p);
  }
  return "p0";
}

}  // namespace

SyntheticShopOptions DemoShopOptions() {
  SyntheticShopOptions o;
  o.num_users = 2000;
  o.num_products = 1000;
  o.num_clusters = 10;
  o.feature_dim = 32;
  o.cold_fraction = 0.1;
  o.seed = 2024;
  return o;
}

Status LoadDemoShop(EventApplier* applier) {
  const SyntheticShop shop = MakeSyntheticShop(DemoShopOptions());
  const TrainingData& d = shop.train;
  std::vector<Event> batch;
  batch.reserve(kBatch);
  const int64_t now = UnixNow();
  for (int32_t p = 0; p < d.graph.num_products; ++p) {
    Event e;
    e.type = UpdateType::kProduct;
    e.product = d.product_ids[p];
    e.ts = now;
    if (d.features.dim > 0 && d.features.present[p]) {
      e.has_features = true;
      e.features.assign(d.features.row(p), d.features.row(p) + d.features.dim);
    }
    e.has_categories = true;
    e.categories = {Category(shop.product_cluster[p])};
    e.has_meta = true;
    e.meta_json = "{\"title\":\"Demo product " + std::to_string(p) + "\"}";
    batch.push_back(std::move(e));
    if (batch.size() == kBatch) VASGD_RETURN_IF_ERROR(Flush(applier, &batch));
  }
  // Purchases in the order the shop made them, so the store's sequence (the holdout's "last") is
  // the shop's and not the CSR's product order.
  const InteractionGraph& g = d.graph;
  std::vector<int32_t> user_of(g.num_edges());
  for (int32_t u = 0; u < g.num_users; ++u)
    std::fill(user_of.begin() + g.user_offsets[u], user_of.begin() + g.user_offsets[u + 1], u);
  std::vector<int64_t> order(g.num_edges());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return g.sequence_of(a) < g.sequence_of(b); });
  for (int64_t i : order) {
    Event e;
    e.type = UpdateType::kPurchase;
    e.user = d.user_ids[user_of[i]];
    e.product = d.product_ids[g.product_index[i]];
    e.weight = g.weight[i];
    e.ts = now;
    batch.push_back(std::move(e));
    if (batch.size() == kBatch) VASGD_RETURN_IF_ERROR(Flush(applier, &batch));
  }
  VASGD_RETURN_IF_ERROR(Flush(applier, &batch));
  Log(LogLevel::kInfo, "demo.loaded",
      {{"users", static_cast<int64_t>(d.graph.num_users)}, {"products", static_cast<int64_t>(d.graph.num_products)},
       {"purchases", d.graph.num_edges()}, {"feature_dim", static_cast<int64_t>(d.features.dim)}});
  return Status::Ok();
}

std::string DemoCurlCalls(const std::string& base, const std::string& token_shell, const std::string& read_token_shell) {
  const SyntheticShop shop = MakeSyntheticShop(DemoShopOptions());
  const std::string cold = First(shop, true), warm = First(shop, false);
  // A new product that looks like product 3 (its features, slightly moved): no retraining needed.
  std::string features = "[";
  const FeatureMatrix& f = shop.train.features;
  for (int32_t j = 0; j < f.dim; ++j) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%s%.3f", j ? "," : "", f.row(3)[j] + 0.05f);
    features += buf;
  }
  features += "]";
  const std::string read = read_token_shell.empty() ? "" : " -H \"Authorization: Bearer " + read_token_shell + "\"";
  const std::string admin = " -H \"Authorization: Bearer " + token_shell + "\"";
  const std::string json = " -H 'Content-Type: application/json'";
  std::string out;
  auto add = [&](const std::string& comment, const std::string& call) { out += "# " + comment + "\n" + call + "\n\n"; };
  add("health and readiness", "curl -s " + base + "/healthz; curl -s " + base + "/readyz");
  add("top 5 products for user u0 (their purchases are excluded)",
      "curl -s" + read + " '" + base + "/v1/users/u0/recommendations?k=5'");
  add("the same, only category cluster-3, second page",
      "curl -s" + read + " '" + base + "/v1/users/u0/recommendations?k=5&offset=5&category=cluster-3'");
  add("products similar to " + warm + " (warm) and to " + cold + " (cold: nobody bought it, placed by its features)",
      "curl -s" + read + " '" + base + "/v1/products/" + warm + "/similar?k=5'; curl -s" + read + " '" + base +
          "/v1/products/" + cold + "/similar?k=5'");
  add("analogy: what " + warm + " was to u1, for u2",
      "curl -s" + read + json + " -d '{\"positive\":[\"p:" + warm + "\",\"u:u2\"],\"negative\":[\"u:u1\"],\"k\":5}' " +
          base + "/v1/analogy");
  add("a new product with features and a brand-new user's purchase, live (no retraining)",
      "curl -s" + read + json + " -d '[{\"type\":\"product\",\"product\":\"p-new\",\"features\":" + features +
          ",\"categories\":[\"cluster-3\"]},{\"type\":\"purchase\",\"user\":\"u-new\",\"product\":\"p3\"}]' " + base +
          "/v1/events");
  add("the new product is served at once; the new user gets a fold-in answer",
      "curl -s" + read + " '" + base + "/v1/products/p-new/similar?k=5'; curl -s" + read + " '" + base +
          "/v1/users/u-new/recommendations?k=5'");
  add("hide a product from every answer (\"available\":true brings it back)",
      "curl -s" + read + json + " -d '[{\"type\":\"product\",\"product\":\"" + warm + "\",\"available\":false}]' " + base +
          "/v1/events");
  add("operator: status, retrain now (202, then 409 while it runs), roll back",
      "curl -s" + admin + " " + base + "/v1/admin/status\ncurl -s -X POST" + admin + " " + base +
          "/v1/admin/retrain\ncurl -s -X POST" + admin + " " + base + "/v1/admin/rollback");
  add("Prometheus metrics", "curl -s " + base + "/metrics | grep -E '^vasgd_(events_total|retrain_total|index_products|recommendations_total|model_holdout)'");
  return out;
}

}  // namespace vasgd
