#include "dashboard/dashboard_service.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <map>

#include "dashboard/assets.h"
#include "dashboard/embedding_map.h"
#include "dashboard/json_number.h"

namespace vasgd {
namespace {

using json = nlohmann::json;

constexpr size_t kMaxPurchasesShown = 100;
constexpr size_t kMapColours = 10;  // categories with a colour of their own; the rest share "other"

double NowSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Text that may hold invalid UTF-8 (event excerpts, ids) is written with replacement characters.
std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace

DashboardService::DashboardService(const DashboardOptions& options, DashboardSources sources)
    : options_(options),
      sources_(std::move(sources)),
      history_(sources_.metrics, static_cast<size_t>(options.history_samples)),
      curve_(static_cast<size_t>(options.training_points)),
      sampler_(std::chrono::seconds(1)) {}

DashboardService::~DashboardService() { Stop(); }

void DashboardService::Start() {
  sampler_.Start([this] { SampleNow(NowSeconds()); });
}

void DashboardService::Stop() { sampler_.Stop(); }

void DashboardService::SampleNow(double now) {
  if (last_history_sample_ < 0 || now - last_history_sample_ >= options_.history_interval_s - 0.5) {
    history_.Sample(now);
    last_history_sample_ = now;
  }
  if (sources_.training) curve_.Record(now, sources_.training(), Figures());
}

TrainingFigures DashboardService::Figures() const {
  TrainingFigures f;
  for (const auto& [labels, gauge] : sources_.metrics->GaugeSeries("vasgd_train_loss")) {
    const std::string part = LabelValues(labels);
    if (part == "skipgram") f.loss_skipgram = gauge->Value();
    if (part == "reconstruction") f.loss_reconstruction = gauge->Value();
    if (part == "encoder") f.loss_encoder = gauge->Value();
  }
  for (const auto& [labels, gauge] : sources_.metrics->GaugeSeries("vasgd_train_pairs_per_second")) {
    f.pairs_per_second = gauge->Value();
  }
  return f;
}

const StaticFile* DashboardService::File(std::string_view name) const { return FindDashboardFile(name); }

Result<std::string> DashboardService::Models() {
  if (!sources_.versions) return Status::Unavailable("the model registry is not available");
  return models_.Json(sources_.versions());
}

Result<std::string> DashboardService::History(double since) {
  return "{\"interval_s\":" + std::to_string(options_.history_interval_s) + ",\"now\":" +
         RoundedNumber(NowSeconds(), 13).dump() + ",\"history\":" + history_.Json(since) +
         ",\"training\":" + curve_.Json(since) + "}";
}

Result<std::string> DashboardService::Rejections() {
  json events = json::array();
  int64_t total = 0;
  if (sources_.rejections) {
    total = sources_.rejections->total();
    for (const RejectedEvent& e : sources_.rejections->Recent()) {
      events.push_back({{"time", RoundedNumber(e.time, 13)},
                        {"source", e.source},
                        {"reason", e.reason},
                        {"message", e.message},
                        {"excerpt", e.excerpt}});
    }
  }
  const size_t kept = events.size();
  return Dump({{"total", total}, {"kept", kept}, {"events", std::move(events)}});
}

Result<std::string> DashboardService::UserPurchases(const std::string& user) {
  int32_t dense = -1;
  if (!sources_.store->FindUser(user, &dense)) return Status::NotFound("no user '" + user + "' in the store");
  std::vector<ProductWeight> bought;
  VASGD_RETURN_IF_ERROR(sources_.store->UserPurchases(dense, &bought));
  // The heaviest purchases first: what the user bought most is what explains their answers.
  std::stable_sort(bought.begin(), bought.end(), [](const ProductWeight& a, const ProductWeight& b) {
    return a.weight > b.weight;
  });
  json purchases = json::array();
  for (size_t i = 0; i < bought.size() && i < kMaxPurchasesShown; ++i) {
    std::string product;
    std::vector<std::string> categories;
    if (!sources_.store->ProductName(bought[i].id, &product)) continue;
    VASGD_RETURN_IF_ERROR(sources_.store->ProductCategories(bought[i].id, &categories));
    purchases.push_back({{"product", product}, {"weight", RoundedNumber(bought[i].weight)}, {"categories", categories}});
  }
  return Dump({{"user", user}, {"total", bought.size()}, {"purchases", std::move(purchases)}});
}

Result<std::string> DashboardService::EmbeddingMap() {
  std::shared_ptr<const ModelVersion> model = sources_.served_model ? sources_.served_model() : nullptr;
  if (!model) return Status::Unavailable("no model is served yet");
  std::lock_guard<std::mutex> lock(map_mu_);
  if (map_version_ != model->version) {
    map_json_ = BuildMap(*model);
    map_version_ = model->version;
  }
  return map_json_;
}

std::string DashboardService::BuildMap(const ModelVersion& model) const {
  const std::vector<int32_t> rows = SampleMapRows(model.product_kind, static_cast<size_t>(options_.map_points));
  const std::vector<std::array<float, 2>> xy = ProjectPca2(model.product_vectors.data(), model.dim, rows);
  // Each point's first category as the store holds it now; the most frequent get colours.
  std::vector<std::string> first_category(rows.size());
  std::map<std::string, int> frequency;
  for (size_t i = 0; i < rows.size(); ++i) {
    int32_t dense = -1;
    std::vector<std::string> categories;
    if (sources_.store->FindProduct(model.product_ids[rows[i]], &dense) &&
        sources_.store->ProductCategories(dense, &categories).ok() && !categories.empty()) {
      first_category[i] = categories.front();
      ++frequency[categories.front()];
    }
  }
  std::vector<std::pair<int, std::string>> by_count;
  for (const auto& [name, n] : frequency) by_count.emplace_back(-n, name);
  std::sort(by_count.begin(), by_count.end());
  if (by_count.size() > kMapColours) by_count.resize(kMapColours);
  std::map<std::string, int> colour;
  json categories = json::array();
  for (const auto& [n, name] : by_count) {
    colour[name] = static_cast<int>(categories.size());
    categories.push_back(name);
  }
  json x = json::array(), y = json::array(), product = json::array(), category = json::array(), cold = json::array();
  for (size_t i = 0; i < rows.size(); ++i) {
    x.push_back(RoundedNumber(xy[i][0], 4));
    y.push_back(RoundedNumber(xy[i][1], 4));
    product.push_back(model.product_ids[rows[i]]);
    auto c = colour.find(first_category[i]);
    category.push_back(c == colour.end() ? -1 : c->second);
    cold.push_back(model.product_kind[rows[i]] == static_cast<uint8_t>(ProductKind::kCold) ? 1 : 0);
  }
  return Dump({{"version", model.version},
               {"method", "pca"},
               {"products", model.product_ids.size()},
               {"points", rows.size()},
               {"x", std::move(x)},
               {"y", std::move(y)},
               {"product", std::move(product)},
               {"category", std::move(category)},
               {"cold", std::move(cold)},
               {"categories", std::move(categories)}});
}

}  // namespace vasgd
