#include "daemon/api_impl.h"

#include <algorithm>
#include <cmath>

#include "common/log.h"
#include "index/distance.h"
#include "rank/hybrid_ranker.h"
#include "stream/event.h"
#include "stream/kafka_ingester.h"

namespace vasgd {
namespace {

void ToItems(const std::vector<ScoredProduct>& found, std::vector<ScoredItem>* items) {
  items->reserve(found.size());
  for (const ScoredProduct& p : found) items->push_back({p.id, p.score});
}

void SortUnique(std::vector<int32_t>* v) {
  std::sort(v->begin(), v->end());
  v->erase(std::unique(v->begin(), v->end()), v->end());
}

}  // namespace

ApiImpl::ApiImpl(const Config& config, GraphStore* store, EventApplier* applier, ServingState* serving,
                 Retrainer* retrainer, const KafkaIngester* ingester, MetricsRegistry* metrics)
    : config_(config), store_(store), applier_(applier), serving_(serving), retrainer_(retrainer), ingester_(ingester) {
  const char* name = "vasgd_recommendations_total";
  const char* help = "User recommendations answered, by strategy";
  by_model_ = metrics->GetCounter(name, help, "strategy=\"model\"");
  by_fold_in_ = metrics->GetCounter(name, help, "strategy=\"fold-in\"");
  by_popular_ = metrics->GetCounter(name, help, "strategy=\"popular\"");
  const char* source = "vasgd_hybrid_v_candidates_total";
  const char* source_help = "User queries in candidate mode, by where their nearest products by VASG came from";
  v_found_at_load_ = metrics->GetCounter(source, source_help, "source=\"found-at-load\"");
  v_graph_walk_ = metrics->GetCounter(source, source_help, "source=\"graph-walk\"");
}

Result<std::shared_ptr<const ServingBundle>> ApiImpl::Served() const {
  std::shared_ptr<const ServingBundle> bundle = serving_->Current();
  if (!bundle) return Status::Unavailable("no model loaded yet");
  return bundle;
}

Result<Recommendations> ApiImpl::Recommend(const RecommendRequest& request) {
  Result<std::shared_ptr<const ServingBundle>> served = Served();
  if (!served.ok()) return served.status();
  const ServingBundle& b = **served;
  SearchFilter filter = b.index->MakeFilter(request.exclude, request.category);

  thread_local std::vector<ProductWeight> purchases;
  thread_local std::vector<int32_t> bought;
  purchases.clear();
  bought.clear();
  int32_t store_user = -1;
  if (store_->FindUser(request.user, &store_user)) {
    VASGD_RETURN_IF_ERROR(store_->UserPurchases(store_user, &purchases));
  }
  b.AppendLabels(purchases, &bought);
  if (!request.include_purchased && !bought.empty()) {
    filter.excluded.insert(filter.excluded.end(), bought.begin(), bought.end());
    SortUnique(&filter.excluded);
  }

  Recommendations out;
  out.user = request.user;
  out.model_version = b.version();
  thread_local std::vector<float> folded;
  const float* vector = nullptr;
  const int32_t row = b.UserRow(request.user);
  const int64_t used = std::min<int64_t>(static_cast<int64_t>(bought.size()), kMaxQueryPurchases);
  if (row >= 0) {
    out.strategy = "model";
    vector = b.model->user(row);
  } else if (!bought.empty()) {
    out.strategy = "fold-in";
    folded.resize(b.index->dim());
    if (b.index->FoldInLabels(bought.data(), used, folded.data()) > 0) vector = folded.data();
  }
  if (vector == nullptr && bought.empty()) {
    out.strategy = "popular";
    by_popular_->Inc();
    for (const ScoredProduct& p : b.index->Popular(filter, request.k, request.offset))
      out.items.push_back({p.id, p.score, ReasonName(Reason::kPopular)});
    return out;
  }
  (out.strategy == "model" ? by_model_ : by_fold_in_)->Inc();
  thread_local HybridScorer scorer(nullptr);
  scorer.Bind(b.hybrid.get());
  HybridRequest hr;
  hr.purchased = bought.data();
  hr.num_purchased = used;
  hr.user_vector = vector;
  hr.k = request.k;
  hr.offset = request.offset;
  hr.candidates = config_.hybrid.serve_candidates;
  std::shared_ptr<const UserCandidates> nearest;
  if (row >= 0) {
    nearest = std::atomic_load(&b.nearest);
    hr.nearest = nearest.get();
    hr.user_row = row;
  }
  hr.cold_share = request.cold_share >= 0 ? request.cold_share : config_.hybrid.cold_share;
  HybridStats stats;
  Result<std::vector<RankedProduct>> ranked = RankHybrid(*b.index, *b.hybrid, &scorer, filter, hr, &stats);
  if (!ranked.ok()) return ranked.status();
  if (!stats.exhaustive && vector != nullptr) (stats.walked ? v_graph_walk_ : v_found_at_load_)->Inc();
  out.items.reserve(ranked->size());
  for (RankedProduct& p : *ranked) out.items.push_back({std::move(p.id), p.score, ReasonName(p.reason)});
  return out;
}

Result<SimilarItems> ApiImpl::Similar(const SimilarRequest& request) {
  Result<std::shared_ptr<const ServingBundle>> served = Served();
  if (!served.ok()) return served.status();
  const ServingBundle& b = **served;
  const SearchFilter filter = b.index->MakeFilter(request.exclude, request.category);
  Result<std::vector<ScoredProduct>> found =
      RankSimilar(*b.index, b.model->neighbour_lists, request.product, b.hybrid->similar_list_weight(), filter,
                  request.k, request.offset);
  if (!found.ok()) {
    if (found.status().code() == Code::kNotFound) {
      return Status::NotFound("product '" + request.product + "' is unknown or has no embedding yet");
    }
    return found.status();
  }
  SimilarItems out;
  out.product = request.product;
  out.model_version = b.version();
  ToItems(*found, &out.items);
  return out;
}

Result<AnalogyResult> ApiImpl::Analogy(const AnalogyRequest& request) {
  Result<std::shared_ptr<const ServingBundle>> served = Served();
  if (!served.ok()) return served.status();
  const ServingBundle& b = **served;
  const int32_t dim = b.model->dim;
  std::vector<float> query(dim, 0.0f), v;
  std::vector<std::string> named;
  auto add = [&](const EntityRef& ref, float sign) -> Status {
    if (ref.kind == EntityRef::Kind::kUser) {
      const int32_t row = b.UserRow(ref.id);
      if (row < 0) return Status::NotFound("user '" + ref.id + "' is not in the model");
      const float* x = b.model->user(row);
      for (int32_t i = 0; i < dim; ++i) query[i] += sign * x[i];
      return Status::Ok();
    }
    if (!b.ProductVector(ref.id, &v)) return Status::NotFound("product '" + ref.id + "' is unknown or has no embedding");
    for (int32_t i = 0; i < dim; ++i) query[i] += sign * v[i];
    named.push_back(ref.id);
    return Status::Ok();
  };
  for (const EntityRef& ref : request.positive) VASGD_RETURN_IF_ERROR(add(ref, 1.0f));
  for (const EntityRef& ref : request.negative) VASGD_RETURN_IF_ERROR(add(ref, -1.0f));
  const bool zero = std::all_of(query.begin(), query.end(), [](float x) { return x == 0.0f; });
  if (zero) return Status::InvalidArgument("the analogy's vectors cancel out: nothing to search for");
  const SearchFilter filter = b.index->MakeFilter(named, "");
  Result<std::vector<ScoredProduct>> found = b.index->Search(query.data(), b.user_metric, filter, request.k, request.offset);
  if (!found.ok()) return found.status();
  AnalogyResult out;
  out.model_version = b.version();
  ToItems(*found, &out.items);
  return out;
}

Result<std::vector<EventOutcome>> ApiImpl::Ingest(const std::vector<std::string>& texts) {
  std::vector<EventOutcome> outcomes(texts.size());
  EventParser parser(applier_->Limits(config_.kafka.max_message_bytes));
  const int64_t now = UnixNow();
  std::vector<Event> events;
  std::vector<size_t> index_of;  // events[j] is texts[index_of[j]]
  events.reserve(texts.size());
  Event event;
  EventError error;
  for (size_t i = 0; i < texts.size(); ++i) {
    if (parser.Parse(texts[i], now, &event, &error)) {
      events.push_back(event);
      index_of.push_back(i);
    } else {
      applier_->CountRejected(error, "http", texts[i]);  // kept for the dashboard's Ingestion panel
      outcomes[i].reason = std::string(RejectReasonName(error.reason)) + ": " + error.message;
    }
  }
  if (!events.empty()) {
    std::vector<UpdateOutcome> applied(events.size());
    // A store that cannot write (disk full, I/O errors) is the server's temporary trouble, not
    // the client's excess: 503, so the client retries the batch later (not 429 or 500).
    if (Status st = applier_->Apply(events.data(), events.size(), {}, applied.data()); !st.ok()) {
      return Status::Unavailable("the events were not stored, retry later: " + st.message());
    }
    for (size_t j = 0; j < events.size(); ++j) {
      EventOutcome& o = outcomes[index_of[j]];
      if (applied[j].result == UpdateResult::kRejected) {
        o.reason = RejectReasonName(applied[j].reason);
        if (applied[j].reason == RejectReason::kFeatureDimMismatch) {
          o.reason += ": features must have " + std::to_string(store_->feature_dim()) + " values";
        }
      } else {
        o.accepted = true;
      }
    }
  }
  return outcomes;
}

Result<RetrainJob> ApiImpl::StartRetrain() {
  Result<std::string> job = retrainer_->Trigger("admin");
  if (!job.ok()) return job.status();
  return RetrainJob{*job};
}

Result<std::string> ApiImpl::Rollback() { return retrainer_->Rollback(); }

AdminStatus ApiImpl::GetStatus() {
  AdminStatus s;
  if (std::shared_ptr<const ServingBundle> b = serving_->Current()) {
    s.model_version = b->version();
    s.trained_at = b->model->trained_at;
  }
  s.training = retrainer_->progress();
  const GraphCounters c = store_->counters();
  s.users = c.users;
  s.products = c.products;
  s.edges = c.edges;
  s.consumer_lag = ingester_ ? ingester_->lag() : -1;  // -1 also while Kafka has not told it yet
  s.last_error = retrainer_->last_error();
  return s;
}

Readiness ApiImpl::Ready() {
  Readiness r;
  r.ready = serving_->Current() != nullptr;
  if (!r.ready) r.reason = "no model loaded yet";
  if (ingester_) {
    const int up = ingester_->brokers_up();
    r.kafka = up > 0 ? "connected" : up == 0 && ingester_->brokers_known() > 0 ? "disconnected" : "connecting";
    r.consumer_lag = ingester_->lag();
  }
  return r;
}

}  // namespace vasgd
