#include "index/hnsw_graph.h"

// hnswlib 0.6.2's SSE code prefetches the link-list entry after the last one, reading past the
// end of an upper-layer list's allocation (AddressSanitizer: heap-buffer-overflow). Without its
// manual vectorisation those prefetches go; distances come from index/distance.h either way.
// Measured cost: about 5-10 % of HNSW queries/s (bench/index_bench, 50,000 products).
#define NO_MANUAL_VECTORIZATION
#include <hnswlib/hnswlib.h>

#include <cstdio>
#include <filesystem>
#include <stdexcept>

#include "index/distance.h"

namespace vasgd {
namespace {

// hnswlib's own InnerProductSpace picks its SIMD at compile time (SSE without -mavx); this one
// uses the run-time chosen kernel of index/distance.h, the same one exact search uses.
class DotSpace : public hnswlib::SpaceInterface<float> {
 public:
  explicit DotSpace(int32_t dim) : dim_(static_cast<size_t>(dim)) {}
  size_t get_data_size() override { return dim_ * sizeof(float); }
  hnswlib::DISTFUNC<float> get_dist_func() override { return &Distance; }
  void* get_dist_func_param() override { return &dim_; }

 private:
  static float Distance(const void* a, const void* b, const void* param) {
    return 1.0f - Dot(static_cast<const float*>(a), static_cast<const float*>(b),
                      static_cast<int32_t>(*static_cast<const size_t*>(param)));
  }
  size_t dim_;
};

using Hnsw = hnswlib::HierarchicalNSW<float>;

}  // namespace

struct HnswGraph::Impl {
  explicit Impl(int32_t dim) : space(dim) {}
  DotSpace space;  // must outlive the graph, which keeps pointers into it
  std::unique_ptr<Hnsw> hnsw;
};

HnswGraph::HnswGraph(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HnswGraph::~HnswGraph() = default;

Result<std::unique_ptr<HnswGraph>> HnswGraph::Create(const Params& p) {
  if (p.dim <= 0 || p.m < 2 || p.ef_construction < 1 || p.capacity < 1) {
    return Status::InvalidArgument("hnsw graph: dim, capacity, m >= 2 and ef_construction must be positive");
  }
  auto impl = std::make_unique<Impl>(p.dim);
  try {
    impl->hnsw = std::make_unique<Hnsw>(&impl->space, static_cast<size_t>(p.capacity),
                                        static_cast<size_t>(p.m),
                                        static_cast<size_t>(p.ef_construction));
  } catch (const std::exception& e) {
    return Status::ResourceExhausted(std::string("hnsw graph: ") + e.what());
  }
  return std::unique_ptr<HnswGraph>(new HnswGraph(std::move(impl)));
}

Result<std::unique_ptr<HnswGraph>> HnswGraph::Load(const std::string& path, int32_t dim) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return Status::NotFound("hnsw graph: no file " + path);
  auto impl = std::make_unique<Impl>(dim);
  // hnswlib's loading constructor initialises nothing, and its destructor frees whatever the
  // fields hold: give them values under which destroying a half-loaded graph is safe.
  auto hnsw = std::make_unique<Hnsw>(&impl->space);
  hnsw->num_deleted_ = 0;  // loadIndex adds to it
  hnsw->metric_distance_computations = 0;
  hnsw->metric_hops = 0;
  hnsw->cur_element_count = 0;
  hnsw->data_level0_memory_ = nullptr;
  hnsw->linkLists_ = nullptr;
  hnsw->visited_list_pool_ = nullptr;
  try {
    hnsw->loadIndex(path, &impl->space);
  } catch (const std::exception& e) {
    // Link lists allocated before the throw leak; the destructor must not walk them.
    hnsw->cur_element_count = 0;
    return Status::Corruption("hnsw graph " + path + ": " + e.what());
  }
  if (hnsw->label_offset_ - hnsw->offsetData_ != static_cast<size_t>(dim) * sizeof(float)) {
    return Status::Corruption("hnsw graph " + path + ": vectors are not of dimension " + std::to_string(dim));
  }
  impl->hnsw = std::move(hnsw);
  return std::unique_ptr<HnswGraph>(new HnswGraph(std::move(impl)));
}

Status HnswGraph::Save(const std::string& path) const {
  const Hnsw& h = *impl_->hnsw;
  const std::string tmp = path + ".tmp";
  try {
    const_cast<Hnsw&>(h).saveIndex(tmp);  // saveIndex is not const in hnswlib 0.6.2
  } catch (const std::exception& e) {
    return Status::IoError("hnsw graph: writing " + tmp + ": " + e.what());
  }
  // saveIndex does not check its stream: compare the size it must have written.
  uint64_t expected = sizeof(h.offsetLevel0_) + sizeof(h.max_elements_) + sizeof(h.cur_element_count) +
             sizeof(h.size_data_per_element_) + sizeof(h.label_offset_) + sizeof(h.offsetData_) +
             sizeof(h.maxlevel_) + sizeof(h.enterpoint_node_) + sizeof(h.maxM_) + sizeof(h.maxM0_) +
             sizeof(h.M_) + sizeof(h.mult_) + sizeof(h.ef_construction_);
  expected += h.cur_element_count * h.size_data_per_element_;
  for (size_t i = 0; i < h.cur_element_count; ++i) {
    expected += sizeof(unsigned int);
    if (h.element_levels_[i] > 0) expected += h.size_links_per_element_ * h.element_levels_[i];
  }
  std::error_code ec;
  uint64_t written = std::filesystem::file_size(tmp, ec);
  if (ec || written != expected) {
    std::filesystem::remove(tmp, ec);
    return Status::IoError("hnsw graph: " + tmp + " is incomplete (disk full?)");
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) return Status::IoError("hnsw graph: rename to " + path + ": " + ec.message());
  return Status::Ok();
}

Status HnswGraph::Add(const float* vector, int32_t label) {
  try {
    impl_->hnsw->addPoint(vector, static_cast<hnswlib::labeltype>(label));
  } catch (const std::exception& e) {
    return Status::ResourceExhausted(std::string("hnsw graph: ") + e.what());
  }
  return Status::Ok();
}

Status HnswGraph::AddAll(const float* rows, const std::vector<int32_t>& labels, int32_t dim) {
  for (size_t i = 0; i < labels.size(); ++i) {
    VASGD_RETURN_IF_ERROR(Add(rows + static_cast<int64_t>(i) * dim, labels[i]));
  }
  return Status::Ok();
}

Status HnswGraph::Grow(int64_t capacity) {
  if (capacity <= this->capacity()) return Status::Ok();
  try {
    impl_->hnsw->resizeIndex(static_cast<size_t>(capacity));
  } catch (const std::exception& e) {
    return Status::ResourceExhausted(std::string("hnsw graph: ") + e.what());
  }
  return Status::Ok();
}

void HnswGraph::SetDeleted(int32_t label, bool deleted) {
  Hnsw& h = *impl_->hnsw;
  auto it = h.label_lookup_.find(static_cast<hnswlib::labeltype>(label));
  if (it == h.label_lookup_.end()) return;
  if (h.isMarkedDeleted(it->second) == deleted) return;
  if (deleted) {
    h.markDeletedInternal(it->second);
  } else {
    h.unmarkDeletedInternal(it->second);
  }
}

// hnswlib's searchKnn, less two things: it bumps two shared atomic counters on every hop (cache
// lines bouncing between query threads) and its beam width is a graph-wide setting. Same
// algorithm: greedy descent through the upper layers, then a beam search of width `ef` in layer 0.
void HnswGraph::Search(const float* query, int64_t fetch, int64_t ef,
                       std::vector<std::pair<float, int32_t>>* out) const {
  out->clear();
  const Hnsw& h = *impl_->hnsw;
  if (fetch <= 0 || h.cur_element_count == 0) return;
  hnswlib::tableint current = h.enterpoint_node_;
  float current_distance = h.fstdistfunc_(query, h.getDataByInternalId(current), h.dist_func_param_);
  for (int level = h.maxlevel_; level > 0; --level) {
    for (bool moved = true; moved;) {
      moved = false;
      const unsigned int* links = h.get_linklist(current, level);
      const int count = h.getListCount(const_cast<unsigned int*>(links));
      const hnswlib::tableint* neighbours = reinterpret_cast<const hnswlib::tableint*>(links + 1);
      for (int i = 0; i < count; ++i) {
        const float d = h.fstdistfunc_(query, h.getDataByInternalId(neighbours[i]), h.dist_func_param_);
        if (d < current_distance) {
          current_distance = d;
          current = neighbours[i];
          moved = true;
        }
      }
    }
  }
  const size_t beam = static_cast<size_t>(std::max(ef, fetch));
  auto top = h.num_deleted_ ? h.searchBaseLayerST<true, false>(current, query, beam)
                            : h.searchBaseLayerST<false, false>(current, query, beam);
  while (top.size() > static_cast<size_t>(fetch)) top.pop();  // farthest on top
  out->resize(top.size());
  for (size_t i = top.size(); i-- > 0;) {
    (*out)[i] = {top.top().first, static_cast<int32_t>(h.getExternalLabel(top.top().second))};
    top.pop();
  }
}

int64_t HnswGraph::size() const { return static_cast<int64_t>(impl_->hnsw->cur_element_count); }
int64_t HnswGraph::capacity() const { return static_cast<int64_t>(impl_->hnsw->max_elements_); }

const float* HnswGraph::VectorOf(int32_t label) const {
  const Hnsw& h = *impl_->hnsw;
  auto it = h.label_lookup_.find(static_cast<hnswlib::labeltype>(label));
  if (it == h.label_lookup_.end()) return nullptr;
  return reinterpret_cast<const float*>(h.getDataByInternalId(it->second));
}

std::vector<int32_t> HnswGraph::Labels() const {
  const Hnsw& h = *impl_->hnsw;
  std::vector<int32_t> labels;
  labels.reserve(h.cur_element_count);
  for (size_t i = 0; i < h.cur_element_count; ++i) labels.push_back(static_cast<int32_t>(h.getExternalLabel(i)));
  return labels;
}

}  // namespace vasgd
