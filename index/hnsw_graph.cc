#include "index/hnsw_graph.h"

// hnswlib 0.6.2's SSE code prefetches the link-list entry after the last one, reading past the
// end of an upper-layer list's allocation (AddressSanitizer: heap-buffer-overflow). Without its
// manual vectorisation those prefetches go; distances come from index/distance.h either way.
// Queries do not miss them: their layer-0 loop is SearchLayer0 below, which prefetches within
// bounds (insertion still runs hnswlib's searchBaseLayer, without prefetches).
#define NO_MANUAL_VECTORIZATION
#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <vector>

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
using hnswlib::linklistsizeint;
using hnswlib::tableint;
// hnswlib's candidate queues: farthest on top.
using Queue = std::priority_queue<std::pair<float, tableint>, std::vector<std::pair<float, tableint>>, Hnsw::CompareByFirst>;

}  // namespace

struct HnswGraph::Impl {
  Impl(int32_t dim, bool half_walk)
      : space(dim), dim(dim), half_length(half_walk && HalfRowsSupported() ? HalfRowLength(dim) : 0) {}
  ~Impl() { std::free(half); }
  DotSpace space;  // must outlive the graph, which keeps pointers into it
  std::unique_ptr<Hnsw> hnsw;
  int32_t dim;
  // fp16 copies of the elements' vectors, by internal id, for Search's layer-0 walk: capacity ×
  // half_length values (half_length 0: none, the walk reads the float vectors).
  int32_t half_length;
  uint16_t* half = nullptr;
  uint16_t* HalfRow(uint16_t* rows, tableint id) const { return rows + static_cast<size_t>(id) * half_length; }
  // Rows for the graph's capacity, filled from the elements it holds.
  Status AllocateHalfRows() {
    if (half_length == 0) return Status::Ok();
    half = static_cast<uint16_t*>(std::malloc(hnsw->max_elements_ * half_length * sizeof(uint16_t)));
    if (!half) return Status::ResourceExhausted("hnsw graph: cannot allocate the fp16 rows");
    for (size_t id = 0; id < hnsw->cur_element_count; ++id) {
      const tableint t = static_cast<tableint>(id);
      ToHalfRow(reinterpret_cast<const float*>(hnsw->getDataByInternalId(t)), dim, HalfRow(half, t));
    }
    return Status::Ok();
  }
};

struct HnswGraph::PendingAdd {
  // The arrays hnswlib sizes by its capacity, i.e. what growing the graph replaces.
  struct Arrays {
    size_t max_elements = 0;
    char* level0 = nullptr;       // elements: level-0 links, vector, label
    char** link_lists = nullptr;  // per element: its upper-level links (owned by the graph, not by this array)
    std::vector<int> levels;
    std::vector<std::mutex> locks;
    hnswlib::VisitedListPool* visited = nullptr;
    uint16_t* half = nullptr;  // Impl::half's rows, when the graph has them

    Arrays() = default;
    Arrays(const Arrays&) = delete;
    Arrays& operator=(const Arrays&) = delete;
    ~Arrays() {
      std::free(level0);
      std::free(link_lists);
      std::free(half);
      delete visited;
    }
    void SwapWith(Hnsw& h, uint16_t** graph_half) {
      std::swap(*graph_half, half);
      std::swap(h.max_elements_, max_elements);
      std::swap(h.data_level0_memory_, level0);
      std::swap(h.linkLists_, link_lists);
      h.element_levels_.swap(levels);
      h.link_list_locks_.swap(locks);
      std::swap(h.visited_list_pool_, visited);
    }
  };
  // A link list as it will be once the insertion is published.
  struct ListEdit {
    int level;
    tableint element;
    std::vector<tableint> links;
  };

  ~PendingAdd() {
    if (!published) std::free(upper_links);
  }

  tableint id = 0;  // the new element's internal id: the next free slot
  hnswlib::labeltype label = 0;
  int level = 0;
  bool replaces = false;
  tableint replaced = 0;        // the label's old element, to become a tombstone
  char* slot = nullptr;         // the new element in the level-0 array it will be published in
  char* upper_links = nullptr;  // its upper-level link lists (malloc, as hnswlib frees them)
  std::vector<ListEdit> edits;  // neighbours' link lists
  bool grows = false;
  Arrays arrays;  // grown copies until published, then the arrays they replaced
  bool published = false;
};

namespace {

using Arrays = HnswGraph::PendingAdd::Arrays;
using ListEdit = HnswGraph::PendingAdd::ListEdit;

// Copies of h's arrays with room for `max_elements`; what a search reads is only read here.
Status CopyGrown(const Hnsw& h, const uint16_t* half, size_t half_length, size_t max_elements, Arrays* out) {
  const size_t used = h.cur_element_count;
  if (half_length > 0) {
    out->half = static_cast<uint16_t*>(std::malloc(max_elements * half_length * sizeof(uint16_t)));
    if (!out->half) return Status::ResourceExhausted("hnsw graph: cannot grow to " + std::to_string(max_elements) + " elements");
    std::memcpy(out->half, half, used * half_length * sizeof(uint16_t));
  }
  out->max_elements = max_elements;
  out->level0 = static_cast<char*>(std::malloc(max_elements * h.size_data_per_element_));
  out->link_lists = static_cast<char**>(std::malloc(max_elements * sizeof(char*)));
  if (!out->level0 || !out->link_lists) {
    return Status::ResourceExhausted("hnsw graph: cannot grow to " + std::to_string(max_elements) + " elements");
  }
  std::memcpy(out->level0, h.data_level0_memory_, used * h.size_data_per_element_);
  std::memcpy(out->link_lists, h.linkLists_, used * sizeof(char*));
  out->levels.assign(h.element_levels_.begin(), h.element_levels_.begin() + used);
  out->levels.resize(max_elements);
  std::vector<std::mutex>(max_elements).swap(out->locks);
  out->visited = new hnswlib::VisitedListPool(1, static_cast<int>(max_elements));
  return Status::Ok();
}

// The new element's vector while it is prepared (it is in no array a search reads yet).
struct Vectors {
  const Hnsw& h;
  tableint pending_id;
  const char* pending_vector;
  const void* operator()(tableint id) const {
    return id == pending_id ? pending_vector : h.getDataByInternalId(id);
  }
};

float Distance(const Hnsw& h, const void* a, const void* b) { return h.fstdistfunc_(a, b, h.dist_func_param_); }

// hnswlib's getNeighborsByHeuristic2 (same queues, same order of distance calls, hence the
// same links), with vectors looked up through `vectors` so that the element being prepared
// can take part.
void KeepByHeuristic(const Hnsw& h, const Vectors& vectors, size_t m, Queue* top) {
  if (top->size() < m) return;
  std::priority_queue<std::pair<float, tableint>> closest;  // nearest on top
  std::vector<std::pair<float, tableint>> kept;
  while (!top->empty()) {
    closest.emplace(-top->top().first, top->top().second);
    top->pop();
  }
  while (!closest.empty() && kept.size() < m) {
    const std::pair<float, tableint> current = closest.top();
    closest.pop();
    const float to_query = -current.first;
    bool diverse = true;  // no kept neighbour is nearer to it than the query is
    for (const auto& other : kept) {
      if (Distance(h, vectors(other.second), vectors(current.second)) < to_query) {
        diverse = false;
        break;
      }
    }
    if (diverse) kept.push_back(current);
  }
  for (const auto& c : kept) top->emplace(-c.first, c.second);
}

linklistsizeint* ListIn(const Hnsw& h, char* slot, char* upper, int level) {
  return level == 0 ? reinterpret_cast<linklistsizeint*>(slot + h.offsetLevel0_)
                    : reinterpret_cast<linklistsizeint*>(upper + (level - 1) * h.size_links_per_element_);
}

// hnswlib's mutuallyConnectNewElement, planned: writes the new element's own links at `level`
// (memory no search reaches yet) and records its neighbours' new lists in p->edits instead of
// writing them. Returns the nearest neighbour, where the next level's search starts.
tableint PlanLinks(const Hnsw& h, const Vectors& vectors, Queue top, int level, HnswGraph::PendingAdd* p) {
  const size_t max_links = level ? h.maxM_ : h.maxM0_;
  KeepByHeuristic(h, vectors, h.M_, &top);
  std::vector<tableint> selected;
  selected.reserve(top.size());
  while (!top.empty()) {
    selected.push_back(top.top().second);
    top.pop();
  }
  linklistsizeint* own = ListIn(h, p->slot, p->upper_links, level);
  h.setListCount(own, static_cast<unsigned short>(selected.size()));
  std::copy(selected.begin(), selected.end(), reinterpret_cast<tableint*>(own + 1));

  for (tableint neighbour : selected) {
    linklistsizeint* list = h.get_linklist_at_level(neighbour, level);
    const size_t count = h.getListCount(list);
    const tableint* links = reinterpret_cast<const tableint*>(list + 1);
    ListEdit edit{level, neighbour, {}};
    if (count < max_links) {
      edit.links.assign(links, links + count);
      edit.links.push_back(p->id);
    } else {
      // Full: the neighbour keeps the most diverse of its links and the new one.
      Queue candidates;
      candidates.emplace(Distance(h, vectors(p->id), vectors(neighbour)), p->id);
      for (size_t j = 0; j < count; ++j) {
        candidates.emplace(Distance(h, vectors(links[j]), vectors(neighbour)), links[j]);
      }
      KeepByHeuristic(h, vectors, max_links, &candidates);
      while (!candidates.empty()) {
        edit.links.push_back(candidates.top().second);
        candidates.pop();
      }
    }
    p->edits.push_back(std::move(edit));
  }
  return selected.back();
}

}  // namespace

void HnswGraph::PendingAddDeleter::operator()(PendingAdd* pending) const { delete pending; }

HnswGraph::HnswGraph(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HnswGraph::~HnswGraph() = default;

Result<std::unique_ptr<HnswGraph>> HnswGraph::Create(const Params& p) {
  if (p.dim <= 0 || p.m < 2 || p.ef_construction < 1 || p.capacity < 1) {
    return Status::InvalidArgument("hnsw graph: dim, capacity, m >= 2 and ef_construction must be positive");
  }
  auto impl = std::make_unique<Impl>(p.dim, p.half_walk);
  try {
    impl->hnsw = std::make_unique<Hnsw>(&impl->space, static_cast<size_t>(p.capacity),
                                        static_cast<size_t>(p.m),
                                        static_cast<size_t>(p.ef_construction));
  } catch (const std::exception& e) {
    return Status::ResourceExhausted(std::string("hnsw graph: ") + e.what());
  }
  VASGD_RETURN_IF_ERROR(impl->AllocateHalfRows());
  return std::unique_ptr<HnswGraph>(new HnswGraph(std::move(impl)));
}

Result<std::unique_ptr<HnswGraph>> HnswGraph::Load(const std::string& path, int32_t dim, bool half_walk) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return Status::NotFound("hnsw graph: no file " + path);
  auto impl = std::make_unique<Impl>(dim, half_walk);
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
  VASGD_RETURN_IF_ERROR(impl->AllocateHalfRows());
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

// hnswlib's addPoint for a new element, with every write to memory a search can reach deferred
// to PublishAdd. Its searches per level read only level `level`'s lists, which the earlier
// (higher) levels' deferred edits do not touch, so planning all levels first gives the links
// addPoint writes level by level.
Result<HnswGraph::Pending> HnswGraph::PrepareAdd(const float* vector, int32_t label) {
  Hnsw& h = *impl_->hnsw;
  Pending p(new PendingAdd());
  p->label = static_cast<hnswlib::labeltype>(label);
  auto old = h.label_lookup_.find(p->label);
  if (old != h.label_lookup_.end()) {
    p->replaces = true;
    p->replaced = old->second;
  }
  p->id = static_cast<tableint>(h.cur_element_count);
  if (h.cur_element_count >= h.max_elements_) {
    p->grows = true;
    VASGD_RETURN_IF_ERROR(CopyGrown(h, impl_->half, static_cast<size_t>(impl_->half_length),
                                    h.max_elements_ + h.max_elements_ / 2 + 1, &p->arrays));
  }
  // label_lookup_ is read by writers only (Search reads labels from the elements): making room
  // here keeps a rehash out of PublishAdd.
  if (h.label_lookup_.size() + 1 > h.label_lookup_.bucket_count() * h.label_lookup_.max_load_factor()) {
    h.label_lookup_.reserve(2 * h.label_lookup_.size() + 1);
  }
  p->level = h.getRandomLevel(h.mult_);
  (p->grows ? p->arrays.levels : h.element_levels_)[p->id] = p->level;
  p->slot = (p->grows ? p->arrays.level0 : h.data_level0_memory_) + p->id * h.size_data_per_element_;
  std::memset(p->slot + h.offsetLevel0_, 0, h.size_data_per_element_);
  std::memcpy(p->slot + h.label_offset_, &p->label, sizeof(hnswlib::labeltype));
  std::memcpy(p->slot + h.offsetData_, vector, h.data_size_);
  if (impl_->half_length > 0) ToHalfRow(vector, impl_->dim, impl_->HalfRow(p->grows ? p->arrays.half : impl_->half, p->id));
  if (p->level > 0) {
    const size_t bytes = h.size_links_per_element_ * p->level + 1;
    p->upper_links = static_cast<char*>(std::malloc(bytes));
    if (!p->upper_links) return Status::ResourceExhausted("hnsw graph: cannot allocate a link list");
    std::memset(p->upper_links, 0, bytes);
  }
  (p->grows ? p->arrays.link_lists : h.linkLists_)[p->id] = p->upper_links;
  if (h.cur_element_count == 0) return p;  // the first element has no neighbours

  const Vectors vectors{h, p->id, p->slot + h.offsetData_};
  const void* self = vectors(p->id);
  tableint current = h.enterpoint_node_;
  const int top_level = h.maxlevel_;
  if (p->level < top_level) {
    float current_distance = Distance(h, self, h.getDataByInternalId(current));
    for (int level = top_level; level > p->level; --level) {
      for (bool moved = true; moved;) {
        moved = false;
        const linklistsizeint* list = h.get_linklist(current, level);
        const int count = h.getListCount(const_cast<linklistsizeint*>(list));
        const tableint* links = reinterpret_cast<const tableint*>(list + 1);
        for (int i = 0; i < count; ++i) {
          const float d = Distance(h, self, h.getDataByInternalId(links[i]));
          if (d < current_distance) {
            current_distance = d;
            current = links[i];
            moved = true;
          }
        }
      }
    }
  }
  const tableint entry = h.enterpoint_node_;
  const bool entry_deleted = h.isMarkedDeleted(entry);
  for (int level = std::min(p->level, top_level); level >= 0; --level) {
    Queue top = h.searchBaseLayer(current, self, level);
    if (entry_deleted) {
      top.emplace(Distance(h, self, h.getDataByInternalId(entry)), entry);
      if (top.size() > h.ef_construction_) top.pop();
    }
    current = PlanLinks(h, vectors, std::move(top), level, p.get());
  }
  return p;
}

void HnswGraph::PublishAdd(PendingAdd* p) {
  Hnsw& h = *impl_->hnsw;
  if (p->grows) p->arrays.SwapWith(h, &impl_->half);  // the replaced arrays go with `p`, freed by its owner
  for (const ListEdit& edit : p->edits) {
    linklistsizeint* list = h.get_linklist_at_level(edit.element, edit.level);
    std::copy(edit.links.begin(), edit.links.end(), reinterpret_cast<tableint*>(list + 1));
    h.setListCount(list, static_cast<unsigned short>(edit.links.size()));  // keeps the deleted mark
  }
  if (p->replaces && !h.isMarkedDeleted(p->replaced)) h.markDeletedInternal(p->replaced);
  h.label_lookup_[p->label] = p->id;
  h.cur_element_count = p->id + 1;
  if (p->level > h.maxlevel_) {  // also the first element: maxlevel_ starts at -1
    h.enterpoint_node_ = p->id;
    h.maxlevel_ = p->level;
  }
  p->published = true;
}

Status HnswGraph::Add(const float* vector, int32_t label) {
  Result<Pending> pending = PrepareAdd(vector, label);
  if (!pending.ok()) return pending.status();
  PublishAdd(pending->get());
  return Status::Ok();
}

Status HnswGraph::AddAll(const float* rows, const std::vector<int32_t>& labels, int32_t dim) {
  for (size_t i = 0; i < labels.size(); ++i) {
    VASGD_RETURN_IF_ERROR(Add(rows + static_cast<int64_t>(i) * dim, labels[i]));
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

namespace {

// Per-thread state of a layer-0 search, reused so that a warm thread allocates nothing and
// takes no lock (hnswlib's searchBaseLayerST takes its visited list from a mutex-guarded pool
// and builds two priority queues per query).
struct LayerSearchScratch {
  std::vector<uint32_t> visited;  // per element: the search (epoch) that visited it last
  uint32_t epoch = 0;
  std::vector<std::pair<float, tableint>> candidates;  // heap of (-distance, id): nearest on top
  std::vector<std::pair<float, tableint>> top;         // heap of (distance, id): farthest on top
  std::vector<tableint> fresh;                         // unvisited neighbours of the node expanded
  std::vector<const float*> rows;                      // their vectors
  std::vector<const uint16_t*> half_rows;              // or their fp16 rows
  std::vector<float> dots;                             // then their distances from the query
  std::vector<float> half_query;                       // the query padded to a half row
};

// Starts a new search over `elements` elements: a fresh epoch, tags wiped only when it wraps.
LayerSearchScratch& StartLayerSearch(size_t elements) {
  thread_local LayerSearchScratch scratch;
  if (scratch.visited.size() < elements) scratch.visited.resize(elements, 0);
  if (++scratch.epoch == 0) {
    std::fill(scratch.visited.begin(), scratch.visited.end(), 0);
    scratch.epoch = 1;
  }
  scratch.candidates.clear();
  scratch.top.clear();
  return scratch;
}

// Asks the cache for `bytes` from `p` (whole lines), ahead of their use.
void PrefetchBytes(const char* p, size_t bytes) {
  for (size_t at = 0; at < bytes; at += 64) __builtin_prefetch(p + at, 0, 3);
}

// What a layer-0 walk reads: the float vectors (DotSpace's distance 1 - Dot, bitwise) or their
// fp16 copies (half != nullptr) with the query padded to a half row.
struct WalkRows {
  const Hnsw& h;
  int32_t dim;
  const float* query;
  const uint16_t* half = nullptr;
  int32_t half_length = 0;
  const float* half_query = nullptr;

  const void* Row(tableint id) const {
    return half ? static_cast<const void*>(half + static_cast<size_t>(id) * half_length) : h.getDataByInternalId(id);
  }
  size_t RowBytes() const { return half ? half_length * sizeof(uint16_t) : h.data_size_; }
  // distances[j] = the distance of s->fresh[j] from the query.
  void Distances(LayerSearchScratch* s) const {
    const int64_t n = static_cast<int64_t>(s->fresh.size());
    s->dots.resize(n);
    if (half) {
      s->half_rows.clear();
      for (const tableint id : s->fresh) s->half_rows.push_back(static_cast<const uint16_t*>(Row(id)));
      DotHalfGather(half_query, s->half_rows.data(), n, dim, s->dots.data());
    } else {
      s->rows.clear();
      for (const tableint id : s->fresh) s->rows.push_back(static_cast<const float*>(Row(id)));
      DotGather(query, s->rows.data(), n, dim, s->dots.data());
    }
    for (float& d : s->dots) d = 1.0f - d;
  }
};

// hnswlib's searchBaseLayerST (same heaps with the same comparisons, fed in the same order, so
// the same answer on float rows, tests/index/hnsw_graph_test.cc) with the memory stalls
// overlapped: the vectors of a node's unvisited neighbours are prefetched all at once, then their
// distances computed in one call (each query load serves four rows; no call through hnswlib's
// distance pointer per neighbour). A query spends most of its time waiting for those vectors
// (random rows of the graph's memory), one at a time in hnswlib's loop without its SSE
// prefetches. Leaves the nearest `beam` elements (fewer if fewer are reachable) in scratch.top as
// a heap, keyed by the distance on the rows walked.
template <bool kHasDeletions>
void SearchLayer0(const WalkRows& rows, tableint entry, size_t beam, LayerSearchScratch* s) {
  const Hnsw& h = rows.h;
  const Hnsw::CompareByFirst farther;
  auto push = [&](std::vector<std::pair<float, tableint>>* heap, float key, tableint id) {
    heap->emplace_back(key, id);
    std::push_heap(heap->begin(), heap->end(), farther);
  };
  auto pop = [&](std::vector<std::pair<float, tableint>>* heap) {
    std::pop_heap(heap->begin(), heap->end(), farther);
    heap->pop_back();
  };
  float lower_bound;
  if (!kHasDeletions || !h.isMarkedDeleted(entry)) {
    s->fresh.assign(1, entry);
    rows.Distances(s);
    lower_bound = s->dots[0];
    push(&s->top, lower_bound, entry);
    push(&s->candidates, -lower_bound, entry);
  } else {
    lower_bound = std::numeric_limits<float>::max();
    push(&s->candidates, -lower_bound, entry);
  }
  s->visited[entry] = s->epoch;
  const size_t row_bytes = rows.RowBytes();
  while (!s->candidates.empty()) {
    const std::pair<float, tableint> current = s->candidates.front();
    if (-current.first > lower_bound && (s->top.size() == beam || !kHasDeletions)) break;
    pop(&s->candidates);
    const linklistsizeint* list = h.get_linklist0(current.second);
    const size_t count = h.getListCount(const_cast<linklistsizeint*>(list));
    const tableint* links = reinterpret_cast<const tableint*>(list + 1);
    s->fresh.clear();
    for (size_t j = 0; j < count; ++j) {
      const tableint id = links[j];
      if (s->visited[id] == s->epoch) continue;
      s->visited[id] = s->epoch;
      s->fresh.push_back(id);
      PrefetchBytes(static_cast<const char*>(rows.Row(id)), row_bytes);
    }
    rows.Distances(s);
    for (size_t j = 0; j < s->fresh.size(); ++j) {
      const tableint id = s->fresh[j];
      const float distance = s->dots[j];
      if (s->top.size() < beam || lower_bound > distance) {
        push(&s->candidates, -distance, id);
        if (!kHasDeletions || !h.isMarkedDeleted(id)) push(&s->top, distance, id);
        if (s->top.size() > beam) pop(&s->top);
        if (!s->top.empty()) lower_bound = s->top.front().first;
      }
    }
    // The next node to expand: its link list is read first thing in the next round.
    if (!s->candidates.empty()) __builtin_prefetch(h.get_linklist0(s->candidates.front().second), 0, 3);
  }
}

}  // namespace

// hnswlib's searchKnn, less two things: it bumps two shared atomic counters on every hop (cache
// lines bouncing between query threads) and its beam width is a graph-wide setting. Same
// algorithm: greedy descent through the upper layers, then a beam search of width `ef` in layer 0
// (SearchLayer0), on fp16 rows when the graph has them.
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
  LayerSearchScratch& s = StartLayerSearch(h.cur_element_count);
  WalkRows rows{h, impl_->dim, query};
  if (impl_->half_length > 0) {
    rows.half = impl_->half;
    rows.half_length = impl_->half_length;
    s.half_query.assign(query, query + impl_->dim);
    s.half_query.resize(impl_->half_length, 0.f);
    rows.half_query = s.half_query.data();
  }
  if (h.num_deleted_) {
    SearchLayer0<true>(rows, current, beam, &s);
  } else {
    SearchLayer0<false>(rows, current, beam, &s);
  }
  const Hnsw::CompareByFirst farther;
  while (s.top.size() > static_cast<size_t>(fetch)) {
    std::pop_heap(s.top.begin(), s.top.end(), farther);
    s.top.pop_back();
  }
  out->resize(s.top.size());
  for (size_t i = s.top.size(); i-- > 0;) {
    (*out)[i] = {s.top.front().first, static_cast<int32_t>(h.getExternalLabel(s.top.front().second))};
    std::pop_heap(s.top.begin(), s.top.end(), farther);
    s.top.pop_back();
  }
}

int64_t HnswGraph::size() const { return static_cast<int64_t>(impl_->hnsw->label_lookup_.size()); }
int64_t HnswGraph::capacity() const { return static_cast<int64_t>(impl_->hnsw->max_elements_); }
bool HnswGraph::half_walk() const { return impl_->half_length > 0; }

const float* HnswGraph::VectorOf(int32_t label) const {
  const Hnsw& h = *impl_->hnsw;
  auto it = h.label_lookup_.find(static_cast<hnswlib::labeltype>(label));
  if (it == h.label_lookup_.end()) return nullptr;
  return reinterpret_cast<const float*>(h.getDataByInternalId(it->second));
}

std::vector<int32_t> HnswGraph::Labels() const {
  const Hnsw& h = *impl_->hnsw;
  std::vector<int32_t> labels;
  labels.reserve(h.label_lookup_.size());
  for (size_t i = 0; i < h.cur_element_count; ++i) {
    const hnswlib::labeltype label = h.getExternalLabel(static_cast<tableint>(i));
    auto it = h.label_lookup_.find(label);
    if (it != h.label_lookup_.end() && it->second == i) labels.push_back(static_cast<int32_t>(label));
  }
  return labels;
}

}  // namespace vasgd
