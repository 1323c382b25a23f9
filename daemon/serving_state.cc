#include "daemon/serving_state.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <functional>
#include <thread>

#include "common/elapsed.h"
#include "common/log.h"
#include "index/distance.h"

namespace vasgd {
namespace {

bool ZeroRow(const float* row, int32_t dim) {
  for (int32_t i = 0; i < dim; ++i)
    if (row[i] != 0.0f) return false;
  return true;
}

// Checks beyond ReadModelVersion's checksums, shapes and finiteness: what serving relies on.
Status SanityCheck(const ModelVersion& m) {
  const std::string where = "model " + m.version + ": ";
  if (m.user_ids.empty()) return Status::Corruption(where + "has no users");
  for (size_t u = 0; u < m.user_ids.size(); ++u) {
    if (ZeroRow(m.user(static_cast<int32_t>(u)), m.dim)) {
      return Status::Corruption(where + "user " + m.user_ids[u] + " has a zero embedding");
    }
  }
  int64_t with_vector = 0;
  for (size_t p = 0; p < m.product_ids.size(); ++p) {
    const auto kind = static_cast<ProductKind>(m.product_kind[p]);
    if (kind == ProductKind::kNone) continue;
    ++with_vector;
    if (ZeroRow(m.product(static_cast<int32_t>(p)), m.dim)) {
      return Status::Corruption(where + "product " + m.product_ids[p] + " has a zero embedding");
    }
  }
  if (with_vector == 0) return Status::Corruption(where + "has no product embeddings");
  if (!m.encoder.empty() && m.encoder.output_dim() != m.dim) {
    return Status::Corruption(where + "encoder output dimension differs from dim");
  }
  return Status::Ok();
}

double HoldoutAuc(const std::string& manifest_extra_json) {
  nlohmann::json extra = nlohmann::json::parse(manifest_extra_json, nullptr, false);
  if (!extra.is_object() || !extra.contains("validation")) return -1;
  const nlohmann::json& v = extra["validation"];
  if (!v.is_object() || !v.contains("holdout_auc") || !v["holdout_auc"].is_number()) return -1;
  return v["holdout_auc"].get<double>();
}

}  // namespace

int32_t ServingBundle::UserRow(std::string_view user) const {
  auto it = user_row.find(user);
  return it == user_row.end() ? -1 : it->second;
}

bool ServingBundle::ProductVector(std::string_view product, std::vector<float>* out) const {
  {
    std::shared_lock<std::shared_mutex> lock(live_mu);
    auto live = live_vectors.find(std::string(product));
    if (live != live_vectors.end()) {
      *out = live->second;
      return true;
    }
  }
  auto it = product_row.find(product);
  if (it == product_row.end() || model->product_kind[it->second] == static_cast<uint8_t>(ProductKind::kNone)) {
    return false;
  }
  const float* row = model->product(it->second);
  out->assign(row, row + model->dim);
  return true;
}

int32_t ServingBundle::LabelOfStoreProduct(int32_t dense) const {
  std::shared_lock<std::shared_mutex> lock(live_mu);
  if (dense < 0 || dense >= static_cast<int32_t>(label_of_store.size())) return -1;
  return label_of_store[dense];
}

void ServingBundle::AppendLabels(const std::vector<ProductWeight>& products, std::vector<int32_t>* labels) const {
  std::shared_lock<std::shared_mutex> lock(live_mu);
  const int32_t known = static_cast<int32_t>(label_of_store.size());
  for (const ProductWeight& p : products) {
    if (p.id >= 0 && p.id < known && label_of_store[p.id] >= 0) labels->push_back(label_of_store[p.id]);
  }
}

ServingState::ServingState(GraphStore* store, const IndexOptions& index_options, const HybridOptions& hybrid_options,
                           MetricsRegistry* metrics)
    : store_(store), index_options_(index_options), hybrid_options_(hybrid_options) {
  index_products_ = metrics->GetGauge("vasgd_index_products", "Products with a vector in the served index");
  live_embedded_ = metrics->GetCounter("vasgd_live_products_embedded_total",
                                       "Products embedded by the encoder and indexed between retrainings");
  swaps_ = metrics->GetCounter("vasgd_model_swaps_total", "Model bundles installed (load, retrain, rollback)");
  nearest_refreshes_ = metrics->GetCounter("vasgd_user_nearest_refreshes_total",
                                           "Model users' nearest products by VASG extended with the products indexed since");
}

ServingState::~ServingState() {
  stopping_ = true;  // an extension under way returns within one user's scan
  if (refresher_.joinable()) refresher_.join();
}

namespace {

// `pace` as UserCandidates::Find's.
std::shared_ptr<const UserCandidates> FindNearest(const ServingBundle& b, int per_user, int threads,
                                                  const std::function<void()>* pace) {
  const ModelVersion& m = *b.model;
  return std::make_shared<const UserCandidates>(UserCandidates::Find(
      *b.index, m.user_vectors.data(), static_cast<int64_t>(m.user_ids.size()), per_user, threads, pace));
}

// `nearest` extended over the products `b`'s index gained since it was found; null when stopped.
// `pace` as UserCandidates::Extend's.
std::shared_ptr<const UserCandidates> Extended(const ServingBundle& b, const UserCandidates& nearest,
                                               const std::atomic<bool>& stop, const std::function<void()>* pace) {
  UserCandidates extended = nearest.Extend(*b.index, b.model->user_vectors.data(), &stop, pace);
  return extended.per_user() > 0 ? std::make_shared<const UserCandidates>(std::move(extended)) : nullptr;
}

// Work beside serving (finding or extending the users' nearest) runs at the queries' own
// priority and rests this many times as long as it works, every UserCandidates::kPaceUsers
// users: a quarter of a core at most. It used to run at nice 10: on the saturated 2-core VM it
// was then kept off the CPU for up to ~100 ms while holding the index's read lock, the next
// live update waited for it, and every query behind that update (bench/serve_bench load at
// 5,000/s: p99 77-127 ms in the seconds the refresh ran, 3-8 ms otherwise). Its reads are
// ProductIndex::BackgroundReads as well, so updates let queries by meanwhile.
constexpr int kRestPerWork = 3;

// A pace for UserCandidates::Find and Extend: rests kRestPerWork times as long as was worked
// since its last call.
std::function<void()> RestingPace() {
  return [worked_since = std::chrono::steady_clock::now()]() mutable {
    std::this_thread::sleep_for(kRestPerWork * (std::chrono::steady_clock::now() - worked_since));
    worked_since = std::chrono::steady_clock::now();
  };
}

// Runs `work` here, unpaced (null), while nothing is served yet; else on a thread of its own,
// paced (RestingPace), and waits for it.
void BesideQueries(bool serving, const std::function<void(const std::function<void()>*)>& work) {
  if (!serving) return work(nullptr);
  std::thread([&] {
    const std::function<void()> pace = RestingPace();
    work(&pace);
  }).join();
}

}  // namespace

void ServingState::MaybeRefreshNearest(const std::shared_ptr<ServingBundle>& bundle) {
  const std::shared_ptr<const UserCandidates> nearest = std::atomic_load(&bundle->nearest);
  if (!nearest || refreshing_.load(std::memory_order_acquire)) return;
  if (bundle->index->num_products() - nearest->indexed_before() < UserCandidates::kRefreshAfter) return;
  if (std::chrono::steady_clock::now() < next_refresh_) return;
  if (refresher_.joinable()) refresher_.join();  // the last one, finished
  refreshing_ = true;
  // One thread, paced (RestingPace): the daemon is serving meanwhile, and queries scan the new
  // products until it is done.
  refresher_ = std::thread([this, bundle, nearest] {
    const std::function<void()> pace = RestingPace();
    const auto t0 = std::chrono::steady_clock::now();
    ExtendNearest(*bundle, *nearest, &pace, "model.nearest_refreshed",
                  [&](std::shared_ptr<const UserCandidates> extended) { std::atomic_store(&bundle->nearest, std::move(extended)); });
    const auto t1 = std::chrono::steady_clock::now();
    next_refresh_ = t1 + 3 * (t1 - t0);
    refreshing_.store(false, std::memory_order_release);
  });
}

void ServingState::ExtendNearest(const ServingBundle& b, const UserCandidates& nearest, const std::function<void()>* pace,
                                 const char* event,
                                 const std::function<void(std::shared_ptr<const UserCandidates>)>& install) {
  const auto t0 = std::chrono::steady_clock::now();
  const int64_t since = b.index->num_products() - nearest.indexed_before();
  if (auto extended = Extended(b, nearest, stopping_, pace)) install(std::move(extended));
  nearest_refreshes_->Inc();
  Log(LogLevel::kInfo, event, {{"version", b.version()}, {"products_since", since}, {"seconds", SecondsSince(t0)}});
}

Result<std::shared_ptr<ServingBundle>> ServingState::Load(const std::string& dir) const {
  const auto t0 = std::chrono::steady_clock::now();
  Result<ModelVersion> read = ReadModelVersion(dir);  // verifies every listed file, index included
  if (!read.ok()) return read.status();
  VASGD_RETURN_IF_ERROR(SanityCheck(*read));
  Result<Metric> metric = ParseMetric(read->score);
  if (!metric.ok()) return metric.status();

  auto bundle = std::make_shared<ServingBundle>();
  bundle->dir = dir;
  bundle->user_metric = *metric;
  bundle->holdout_auc = HoldoutAuc(read->manifest_extra_json);
  auto model = std::make_shared<ModelVersion>(std::move(read.value()));

  bool saved = true;
  for (const std::string& file : ProductIndex::FileNames(*metric)) {
    std::error_code ec;
    if (!std::filesystem::exists(dir + "/" + file, ec)) saved = false;
  }
  Result<std::unique_ptr<ProductIndex>> index = saved ? ProductIndex::Load(dir, *model, index_options_)
                                                      : ProductIndex::Build(*model, index_options_);
  if (!index.ok()) return index.status();
  if (!saved) Log(LogLevel::kWarn, "model.index_built", {{"version", model->version}, {"reason", "no saved index"}});
  bundle->index = std::move(index.value());

  // Drop what serving never reads (the decoder is for warm starts of the trainer only).
  model->decoder = Mlp();
  bundle->user_row.reserve(model->user_ids.size());
  for (size_t u = 0; u < model->user_ids.size(); ++u) bundle->user_row.emplace(model->user_ids[u], static_cast<int32_t>(u));
  bundle->product_row.reserve(model->product_ids.size());
  for (size_t p = 0; p < model->product_ids.size(); ++p) {
    bundle->product_row.emplace(model->product_ids[p], static_cast<int32_t>(p));
  }
  bundle->model = std::move(model);
  Result<std::unique_ptr<HybridTables>> hybrid = HybridTables::FromModel(bundle->model);
  if (!hybrid.ok()) return hybrid.status();
  bundle->hybrid = std::move(hybrid.value());
  const auto t1 = std::chrono::steady_clock::now();
  if (hybrid_options_.nearest_at_load && bundle->index->num_live() >= bundle->index->exact_below()) {
    // At start nothing is served yet: every core; else one thread beside the last version's queries.
    const bool serving = Current() != nullptr;
    const int threads = serving ? 1 : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    BesideQueries(serving, [&](const std::function<void()>* pace) {
      bundle->nearest = FindNearest(*bundle, hybrid_options_.serve_candidates, threads, pace);
    });
  }
  const UserCandidates none;
  const UserCandidates& nearest = bundle->nearest ? *bundle->nearest : none;
  Log(LogLevel::kInfo, "model.loaded",
      {{"version", bundle->version()}, {"score", MetricName(*metric)}, {"index", saved ? "loaded" : "built"},
       {"products", bundle->index->num_with_vector()}, {"nearest_users", nearest.users()},
       {"nearest_mib", static_cast<double>(nearest.bytes()) / (1 << 20)}, {"nearest_seconds", SecondsSince(t1)},
       {"seconds", SecondsSince(t0)}});
  return bundle;
}

int64_t ServingState::BeginJournal() {
  std::lock_guard<std::mutex> lock(mu_);
  sessions_.insert(next_seq_);
  return next_seq_;
}

void ServingState::EndJournal(int64_t token) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = sessions_.find(token);
  if (it != sessions_.end()) sessions_.erase(it);
  // Entries older than every open session will never be replayed.
  const int64_t keep_from = sessions_.empty() ? next_seq_ : *sessions_.begin();
  journal_.erase(journal_.begin(),
                 std::find_if(journal_.begin(), journal_.end(), [&](const JournalEntry& e) { return e.seq >= keep_from; }));
}

void ServingState::SetLabel(ServingBundle* bundle, int32_t dense, std::string_view product) const {
  if (dense < 0) return;
  const int32_t label = bundle->index->Find(product);
  std::unique_lock<std::shared_mutex> lock(bundle->live_mu);
  if (dense >= static_cast<int32_t>(bundle->label_of_store.size())) bundle->label_of_store.resize(dense + 1, -1);
  bundle->label_of_store[dense] = label;
}

bool ServingState::Embed(ServingBundle* bundle, std::string_view product, const std::vector<float>& features,
                         std::vector<float>* scratch) const {
  const Mlp& encoder = bundle->model->encoder;
  if (encoder.empty()) return false;  // a model trained without features cannot place a product
  if (static_cast<int32_t>(features.size()) != encoder.input_dim()) {
    LogOncePerKind(LogLevel::kWarn, "live.feature_dim", "live.embed_skipped",
                   {{"product", product}, {"reason", "feature dimension differs from the encoder's input"}});
    return false;
  }
  std::vector<float> vec(bundle->model->dim);
  encoder.Forward(features.data(), vec.data(), scratch);
  Status s = bundle->index->AddProduct(product, vec);
  if (!s.ok()) {
    LogOncePerKind(LogLevel::kWarn, "live.add", "live.embed_failed", {{"product", product}, {"error", s.ToString()}});
    return false;
  }
  const bool visual = static_cast<int32_t>(features.size()) == bundle->hybrid->visual_dim();
  bundle->hybrid->AddProduct(bundle->index->Find(product), visual ? features.data() : nullptr);
  std::unique_lock<std::shared_mutex> lock(bundle->live_mu);
  bundle->live_vectors[std::string(product)] = std::move(vec);
  live_embedded_->Inc();
  return true;
}

void ServingState::ApplyProduct(ServingBundle* bundle, const Event& event, int32_t dense,
                                std::vector<float>* scratch) {
  if (event.has_categories) (void)bundle->index->SetCategories(event.product, event.categories);
  if (event.available >= 0) (void)bundle->index->SetAvailable(event.product, event.available == 1);
  if (event.has_features) {
    // A trained (warm) product keeps its trained vector; any other one follows its features.
    auto row = bundle->product_row.find(event.product);
    const bool warm = row != bundle->product_row.end() &&
                      bundle->model->product_kind[row->second] == static_cast<uint8_t>(ProductKind::kWarm);
    if (!warm) Embed(bundle, event.product, event.features, scratch);
  }
  SetLabel(bundle, dense, event.product);
}

void ServingState::OnEventsApplied(const Event* events, const UpdateOutcome* outcomes, size_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  std::shared_ptr<ServingBundle> bundle = std::atomic_load(&current_);
  for (size_t i = 0; i < n; ++i) {
    if (outcomes[i].result != UpdateResult::kApplied) continue;
    applied_.fetch_add(1, std::memory_order_relaxed);
    if (events[i].type != UpdateType::kProduct) continue;
    if (!sessions_.empty()) journal_.push_back({next_seq_, outcomes[i].product, events[i]});
    ++next_seq_;
    if (bundle) ApplyProduct(bundle.get(), events[i], outcomes[i].product, &scratch_);
  }
  if (bundle) {
    index_products_->Set(static_cast<double>(bundle->index->num_with_vector()));
    MaybeRefreshNearest(bundle);
  }
}

Status ServingState::Reconcile(ServingBundle* bundle) const {
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<float> scratch, features;
  std::vector<std::string> categories;
  std::string name;
  const int32_t products = static_cast<int32_t>(store_->counters().products);
  int64_t embedded = 0;
  for (int32_t d = 0; d < products; ++d) {
    if (!store_->ProductName(d, &name)) continue;
    if (store_->ProductCategories(d, &categories).ok() && !categories.empty()) {
      VASGD_RETURN_IF_ERROR(bundle->index->SetCategories(name, categories));
    }
    std::vector<float> ignored(bundle->model->dim);
    if (!bundle->index->UnitVector(name, ignored.data()) && store_->ProductFeatures(d, &features).ok()) {
      embedded += Embed(bundle, name, features, &scratch) ? 1 : 0;
    }
    SetLabel(bundle, d, name);
  }
  std::vector<int32_t> hidden;
  VASGD_RETURN_IF_ERROR(store_->UnavailableProducts(&hidden));
  for (int32_t d : hidden) {
    if (!store_->ProductName(d, &name)) continue;
    VASGD_RETURN_IF_ERROR(bundle->index->SetAvailable(name, false));
    SetLabel(bundle, d, name);
  }
  Log(LogLevel::kInfo, "model.reconciled",
      {{"version", bundle->version()}, {"store_products", static_cast<int64_t>(products)},
       {"embedded", embedded}, {"unavailable", static_cast<int64_t>(hidden.size())},
       {"seconds", SecondsSince(t0)}});
  return Status::Ok();
}

Status ServingState::Install(const std::shared_ptr<ServingBundle>& bundle, int64_t token) {
  Status s = Reconcile(bundle.get());
  if (!s.ok()) {
    EndJournal(token);
    return s;
  }
  // The products Reconcile embedded (in the store, not in the model's snapshot) would be scanned
  // by every query until the first extension: extend the nearest over them before serving.
  const std::shared_ptr<const UserCandidates> nearest = bundle->nearest;
  if (nearest && bundle->index->num_products() > nearest->indexed_before()) {
    BesideQueries(Current() != nullptr, [&](const std::function<void()>* pace) {
      ExtendNearest(*bundle, *nearest, pace, "model.nearest_extended",
                    [&](std::shared_ptr<const UserCandidates> extended) { bundle->nearest = std::move(extended); });
    });
  }
  std::shared_ptr<ServingBundle> old;
  {
    std::lock_guard<std::mutex> lock(mu_);
    int64_t replayed = 0;
    for (const JournalEntry& e : journal_) {
      if (e.seq < token) continue;
      ApplyProduct(bundle.get(), e.event, e.dense, &scratch_);
      ++replayed;
    }
    old = std::atomic_exchange(&current_, bundle);
    index_products_->Set(static_cast<double>(bundle->index->num_with_vector()));
    swaps_->Inc();
    Log(LogLevel::kInfo, "model.swapped",
        {{"version", bundle->version()}, {"previous", old ? old->version() : std::string()},
         {"journal_replayed", replayed}});
  }
  EndJournal(token);
  // Free the old bundle here, not in whichever query drops it last: destroying a large index
  // takes milliseconds that no request should wait for. Queries hold it for microseconds.
  for (int i = 0; old && old.use_count() > 1 && i < 5000; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  old.reset();
  return Status::Ok();
}

}  // namespace vasgd
