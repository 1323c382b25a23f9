// ProductIndex: construction, save/load and live updates. Queries are in product_index_query.cc.
#include "index/product_index.h"

#include <algorithm>
#include <cmath>
#include <mutex>
#include <shared_mutex>

#include "index/distance.h"
#include "index/hnsw_graph.h"
#include "model/model_version.h"

namespace vasgd {
namespace {

constexpr uint8_t kHasVector = 1;
constexpr uint8_t kAvailable = 2;

constexpr const char* kCosineFile = "products.cosine.hnsw";
constexpr const char* kDotFile = "products.dot.hnsw";

bool AllFinite(const float* v, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(v[i])) return false;
  }
  return true;
}

// Room for live adds before the first growth of the graph and of the per-product arrays.
int64_t InitialCapacity(int64_t n) { return std::max<int64_t>(1024, n + n / 16); }

// A copy of `v` with capacity for `capacity` elements.
template <typename T>
std::vector<T> GrownCopy(const std::vector<T>& v, size_t capacity) {
  std::vector<T> copy;
  copy.reserve(std::max(capacity, v.size()));
  copy.assign(v.begin(), v.end());
  return copy;
}

}  // namespace

Result<Metric> ParseMetric(const std::string& score) {
  if (score == "cosine") return Metric::kCosine;
  if (score == "dot") return Metric::kDot;
  return Status::InvalidArgument("unknown score '" + score + "': expected cosine or dot");
}

const char* MetricName(Metric metric) { return metric == Metric::kCosine ? "cosine" : "dot"; }

ProductIndex::ProductIndex(int32_t dim, Metric user_metric, const IndexOptions& options)
    : dim_(dim), user_metric_(user_metric), options_(options) {}

ProductIndex::~ProductIndex() = default;

std::vector<std::string> ProductIndex::FileNames(Metric user_metric) {
  if (user_metric == Metric::kDot) return {kCosineFile, kDotFile};
  return {kCosineFile};
}

Result<std::unique_ptr<ProductIndex>> ProductIndex::FromModel(const ModelVersion& model,
                                                              const IndexOptions& options) {
  Result<Metric> metric = ParseMetric(model.score);
  if (!metric.ok()) return metric.status();
  if (model.dim <= 0) return Status::InvalidArgument("model " + model.version + ": dim must be positive");
  const int64_t n = static_cast<int64_t>(model.product_ids.size());
  if (static_cast<int64_t>(model.product_vectors.size()) != n * model.dim) {
    return Status::InvalidArgument("model " + model.version + ": product_vectors is not products × dim");
  }
  if (!model.product_kind.empty() && static_cast<int64_t>(model.product_kind.size()) != n) {
    return Status::InvalidArgument("model " + model.version + ": product_kind is not one per product");
  }
  if (!model.popularity.empty() && static_cast<int64_t>(model.popularity.size()) != n) {
    return Status::InvalidArgument("model " + model.version + ": popularity is not one per product");
  }
  if (!AllFinite(model.product_vectors.data(), n * model.dim)) {
    return Status::InvalidArgument("model " + model.version + ": non-finite product vector");
  }

  std::unique_ptr<ProductIndex> index(new ProductIndex(model.dim, *metric, options));
  index->MakeRoomLocked(InitialCapacity(n));
  for (int64_t p = 0; p < n; ++p) {
    const std::string& id = model.product_ids[p];
    if (id.empty() || index->FindLocked(id) >= 0) {
      return Status::InvalidArgument("model " + model.version + ": empty or duplicate product id '" + id + "'");
    }
    int32_t label = index->RegisterLocked(id);
    if (!model.popularity.empty()) index->popularity_[label] = model.popularity[p];
    bool has_vector = model.product_kind.empty() ||
                      model.product_kind[p] != static_cast<uint8_t>(ProductKind::kNone);
    if (has_vector) index->SetVectorLocked(label, model.product(static_cast<int32_t>(p)));
  }
  // Most purchased first; ties keep label order, so the ranking is deterministic.
  std::stable_sort(index->by_popularity_.begin(), index->by_popularity_.end(),
                   [&](int32_t a, int32_t b) { return index->popularity_[a] > index->popularity_[b]; });
  return index;
}

Result<std::unique_ptr<ProductIndex>> ProductIndex::Build(const ModelVersion& model,
                                                          const IndexOptions& options, int /*threads*/) {
  Result<std::unique_ptr<ProductIndex>> made = FromModel(model, options);
  if (!made.ok()) return made.status();
  std::unique_ptr<ProductIndex> index = std::move(made.value());

  std::vector<int32_t> labels;
  labels.reserve(index->num_with_vector_);
  for (int32_t l = 0; l < static_cast<int32_t>(index->flags_.size()); ++l) {
    if (index->flags_[l] & kHasVector) labels.push_back(l);
  }
  // The graphs take rows in label order; gather them when some products have no vector.
  auto gather = [&](const std::vector<float>& all) {
    std::vector<float> rows(labels.size() * index->dim_);
    for (size_t i = 0; i < labels.size(); ++i) {
      std::copy_n(all.data() + static_cast<int64_t>(labels[i]) * index->dim_, index->dim_,
                  rows.data() + i * index->dim_);
    }
    return rows;
  };
  HnswGraph::Params params;
  params.dim = index->dim_;
  params.capacity = InitialCapacity(static_cast<int64_t>(labels.size()));
  params.m = options.hnsw_m;
  params.ef_construction = options.ef_construction;
  params.half_walk = options.walk_fp16;

  Result<std::unique_ptr<HnswGraph>> cosine = HnswGraph::Create(params);
  if (!cosine.ok()) return cosine.status();
  VASGD_RETURN_IF_ERROR((*cosine)->AddAll(gather(index->unit_).data(), labels, index->dim_));
  index->cosine_graph_ = std::move(cosine.value());
  if (index->user_metric_ == Metric::kDot) {
    Result<std::unique_ptr<HnswGraph>> dot = HnswGraph::Create(params);
    if (!dot.ok()) return dot.status();
    VASGD_RETURN_IF_ERROR((*dot)->AddAll(gather(index->raw_).data(), labels, index->dim_));
    index->dot_graph_ = std::move(dot.value());
  }
  return index;
}

Result<std::unique_ptr<ProductIndex>> ProductIndex::Load(const std::string& dir, const ModelVersion& model,
                                                         const IndexOptions& options) {
  Result<std::unique_ptr<ProductIndex>> made = FromModel(model, options);
  if (!made.ok()) return made.status();
  std::unique_ptr<ProductIndex> index = std::move(made.value());

  // A graph belongs to this model when it holds exactly the products with vectors, each with
  // the very vector the model gives it (bitwise: normalisation is deterministic).
  auto load = [&](const char* file, const std::vector<float>& rows) -> Result<std::unique_ptr<HnswGraph>> {
    const std::string path = dir + "/" + file;
    Result<std::unique_ptr<HnswGraph>> graph = HnswGraph::Load(path, index->dim_, options.walk_fp16);
    if (!graph.ok()) return graph.status();
    if ((*graph)->size() != index->num_with_vector_) {
      return Status::Corruption(path + ": holds " + std::to_string((*graph)->size()) + " products, the model " +
                                std::to_string(index->num_with_vector_));
    }
    for (int32_t label : (*graph)->Labels()) {
      bool known = label >= 0 && label < static_cast<int32_t>(index->flags_.size()) &&
                   (index->flags_[label] & kHasVector);
      const float* stored = known ? (*graph)->VectorOf(label) : nullptr;
      const float* expected = rows.data() + static_cast<int64_t>(label) * index->dim_;
      if (!stored || !std::equal(stored, stored + index->dim_, expected)) {
        return Status::Corruption(path + ": product label " + std::to_string(label) +
                                  " differs from the model's vector");
      }
      // Availability is not part of a saved graph: everything starts available.
      (*graph)->SetDeleted(label, false);
    }
    return graph;
  };
  Result<std::unique_ptr<HnswGraph>> cosine = load(kCosineFile, index->unit_);
  if (!cosine.ok()) return cosine.status();
  index->cosine_graph_ = std::move(cosine.value());
  if (index->user_metric_ == Metric::kDot) {
    Result<std::unique_ptr<HnswGraph>> dot = load(kDotFile, index->raw_);
    if (!dot.ok()) return dot.status();
    index->dot_graph_ = std::move(dot.value());
  }
  return index;
}

Status ProductIndex::Save(const std::string& dir) const {
  std::shared_lock<WriterFirstLock> lock(mu_);
  VASGD_RETURN_IF_ERROR(cosine_graph_->Save(dir + "/" + kCosineFile));
  if (dot_graph_) VASGD_RETURN_IF_ERROR(dot_graph_->Save(dir + "/" + kDotFile));
  return Status::Ok();
}

std::unique_lock<WriterFirstLock> ProductIndex::LockToWrite() {
  if (background_readers_.load(std::memory_order_relaxed) == 0) return std::unique_lock<WriterFirstLock>(mu_);
  mu_.lock_politely(kWriterPatience);
  return std::unique_lock<WriterFirstLock>(mu_, std::adopt_lock);
}

int32_t ProductIndex::FindLocked(std::string_view product) const {
  auto it = labels_.find(product);
  return it == labels_.end() ? -1 : it->second;
}

// Registering a product appends to every per-product array. Under the exclusive lock that must
// not reallocate (copying 100,000 rows takes milliseconds every query would wait for), so when
// an array is full, all of them are copied here with half as much room again, outside the lock,
// and swapped in under it; the old ones are freed after it.
void ProductIndex::MakeRoomLocked(int64_t more) {
  const size_t want = ids_.size() + static_cast<size_t>(more);
  const bool fits = want <= flags_.capacity() &&
                    static_cast<double>(want) <= labels_.bucket_count() * static_cast<double>(labels_.max_load_factor());
  if (fits) return;
  const size_t room = want + want / 2;
  std::unordered_map<std::string_view, int32_t> labels;
  labels.reserve(room);
  labels.insert(labels_.begin(), labels_.end());
  std::vector<uint8_t> flags = GrownCopy(flags_, room);
  std::vector<float> unit = GrownCopy(unit_, room * dim_);
  std::vector<float> raw = user_metric_ == Metric::kDot ? GrownCopy(raw_, room * dim_) : std::vector<float>();
  std::vector<float> popularity = GrownCopy(popularity_, room);
  std::vector<int32_t> by_popularity = GrownCopy(by_popularity_, room);
  std::vector<std::vector<int32_t>> categories_of = GrownCopy(categories_of_, room);
  std::unique_lock<WriterFirstLock> lock = LockToWrite();
  labels_.swap(labels);
  flags_.swap(flags);
  unit_.swap(unit);
  raw_.swap(raw);
  popularity_.swap(popularity);
  by_popularity_.swap(by_popularity);
  categories_of_.swap(categories_of);
}

int32_t ProductIndex::RegisterLocked(std::string_view product) {
  const int32_t label = static_cast<int32_t>(ids_.size());
  ids_.emplace_back(product);
  labels_.emplace(std::string_view(ids_.back()), label);
  flags_.push_back(kAvailable);
  unit_.resize(unit_.size() + dim_, 0.0f);
  if (user_metric_ == Metric::kDot) raw_.resize(raw_.size() + dim_, 0.0f);
  popularity_.push_back(0.0f);
  by_popularity_.push_back(label);  // popularity 0 and the largest label: last in the ranking
  categories_of_.emplace_back();
  return label;
}

void ProductIndex::SetVectorLocked(int32_t label, const float* vector) {
  float* unit = unit_.data() + static_cast<int64_t>(label) * dim_;
  std::copy_n(vector, dim_, unit);
  NormalizeInPlace(unit, dim_);
  if (user_metric_ == Metric::kDot) {
    std::copy_n(vector, dim_, raw_.data() + static_cast<int64_t>(label) * dim_);
  }
  if (!(flags_[label] & kHasVector)) {
    flags_[label] |= kHasVector;
    ++num_with_vector_;
    if (flags_[label] & kAvailable) ++num_live_;
  }
}

Status ProductIndex::AddProduct(std::string_view product, const std::vector<float>& vector) {
  if (product.empty()) return Status::InvalidArgument("product id is empty");
  if (static_cast<int32_t>(vector.size()) != dim_) {
    return Status::InvalidArgument("product " + std::string(product) + ": vector has dimension " +
                                   std::to_string(vector.size()) + ", the index " + std::to_string(dim_));
  }
  if (!AllFinite(vector.data(), dim_)) {
    return Status::InvalidArgument("product " + std::string(product) + ": vector is not finite");
  }
  std::lock_guard<std::mutex> writing(write_mu_);
  int32_t label = FindLocked(product);
  const bool registered = label >= 0;
  std::vector<float> unit(vector);
  NormalizeInPlace(unit.data(), dim_);
  if (registered && (flags_[label] & kHasVector)) {
    const int64_t row = static_cast<int64_t>(label) * dim_;
    const bool same = std::equal(unit.begin(), unit.end(), unit_.begin() + row) &&
                      (user_metric_ != Metric::kDot || std::equal(vector.begin(), vector.end(), raw_.begin() + row));
    if (same) return Status::Ok();  // a catalogue resent unchanged leaves no tombstones behind
  }
  if (!registered) {
    label = static_cast<int32_t>(ids_.size());
    MakeRoomLocked(1);
  }
  // The expensive part, beside running queries: where the product goes in each graph.
  Result<HnswGraph::Pending> cosine = cosine_graph_->PrepareAdd(unit.data(), label);
  if (!cosine.ok()) return cosine.status();
  HnswGraph::Pending dot;
  if (dot_graph_) {
    Result<HnswGraph::Pending> prepared = dot_graph_->PrepareAdd(vector.data(), label);
    if (!prepared.ok()) return prepared.status();
    dot = std::move(prepared.value());
  }
  if (publish_hook_) publish_hook_();
  std::unique_lock<WriterFirstLock> lock = LockToWrite();
  if (!registered) RegisterLocked(product);
  SetVectorLocked(label, vector.data());
  const bool available = flags_[label] & kAvailable;
  cosine_graph_->PublishAdd(cosine->get());
  if (!available) cosine_graph_->SetDeleted(label, true);
  if (dot) {
    dot_graph_->PublishAdd(dot.get());
    if (!available) dot_graph_->SetDeleted(label, true);
  }
  lock.unlock();
  return Status::Ok();  // arrays a growth replaced are freed with the pending adds, unlocked
}

Status ProductIndex::SetAvailable(std::string_view product, bool available) {
  if (product.empty()) return Status::InvalidArgument("product id is empty");
  std::lock_guard<std::mutex> writing(write_mu_);
  int32_t label = FindLocked(product);
  if (label < 0) MakeRoomLocked(1);
  std::unique_lock<WriterFirstLock> lock = LockToWrite();
  if (label < 0) label = RegisterLocked(product);
  const bool was = flags_[label] & kAvailable;
  if (was == available) return Status::Ok();
  const bool has_vector = flags_[label] & kHasVector;
  if (available) {
    flags_[label] |= kAvailable;
    --num_unavailable_;
    if (has_vector) ++num_live_;
  } else {
    flags_[label] &= static_cast<uint8_t>(~kAvailable);
    ++num_unavailable_;
    if (has_vector) --num_live_;
  }
  if (has_vector) {
    cosine_graph_->SetDeleted(label, !available);
    if (dot_graph_) dot_graph_->SetDeleted(label, !available);
  }
  return Status::Ok();
}

Status ProductIndex::SetCategories(std::string_view product, const std::vector<std::string>& categories) {
  if (product.empty()) return Status::InvalidArgument("product id is empty");
  std::lock_guard<std::mutex> writing(write_mu_);
  int32_t label = FindLocked(product);
  if (label < 0) MakeRoomLocked(1);
  std::unique_lock<WriterFirstLock> lock = LockToWrite();
  if (label < 0) label = RegisterLocked(product);
  for (int32_t c : categories_of_[label]) {
    std::vector<int32_t>& members = category_members_[c];
    members.erase(std::lower_bound(members.begin(), members.end(), label));
  }
  std::vector<int32_t> ids;
  for (const std::string& name : categories) {
    auto [it, inserted] = category_ids_.emplace(name, static_cast<int32_t>(category_members_.size()));
    if (inserted) category_members_.emplace_back();
    ids.push_back(it->second);
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  for (int32_t c : ids) {
    std::vector<int32_t>& members = category_members_[c];
    members.insert(std::lower_bound(members.begin(), members.end(), label), label);
  }
  categories_of_[label] = std::move(ids);
  return Status::Ok();
}

int64_t ProductIndex::num_products() const {
  std::shared_lock<WriterFirstLock> lock(mu_);
  return static_cast<int64_t>(ids_.size());
}

int64_t ProductIndex::num_with_vector() const {
  std::shared_lock<WriterFirstLock> lock(mu_);
  return num_with_vector_;
}

int64_t ProductIndex::num_unavailable() const {
  std::shared_lock<WriterFirstLock> lock(mu_);
  return num_unavailable_;
}

}  // namespace vasgd
