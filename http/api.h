// What the HTTP server asks of the daemon: one method per endpoint of DESIGN.md, in plain
// structs. The HTTP layer (http/router.h) owns parsing, validation, authentication and JSON;
// an Api implementation sees only requests that passed validation (k in [1, max_k],
// k + offset <= max_k, non-empty ids of at most 256 bytes, at most max_events_per_request events).
//
// Errors are Status values and become HTTP statuses: InvalidArgument 400, NotFound 404,
// AlreadyExists and FailedPrecondition 409, ResourceExhausted 429, Unavailable 503 (e.g. no
// model loaded yet), anything else 500. Messages go to the client verbatim: no secrets in them.
//
// Thread-safety: the server calls every method from its worker threads at once; an
// implementation must be safe for concurrent calls. Calls block a worker thread, so they should
// be quick (a retraining is started, not awaited).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace vasgd {

struct ScoredItem {
  std::string product;
  float score = 0;
  const char* reason = nullptr;  // why it is in the answer (rank/hybrid.h ReasonName); null = omitted
};

// GET /v1/users/{user}/recommendations
struct RecommendRequest {
  std::string user;
  int k = 20;
  int offset = 0;
  std::vector<std::string> exclude;  // product ids never to return
  std::string category;              // "" = any category
  bool include_purchased = false;    // true: the user's purchases may be returned
  int cold_share = -1;               // up to this many of the k slots for cold products; -1 = hybrid.cold_share
};

struct Recommendations {
  std::string user;
  std::string model_version;
  std::string strategy;  // "model" (the user's embedding), "fold-in" or "popular"
  std::vector<ScoredItem> items;
};

// GET /v1/products/{product}/similar
struct SimilarRequest {
  std::string product;
  int k = 20;
  int offset = 0;
  std::vector<std::string> exclude;
  std::string category;
};

struct SimilarItems {
  std::string product;
  std::string model_version;
  std::vector<ScoredItem> items;
};

// POST /v1/analogy: sum of positive embeddings minus negative ones, nearest products to that.
struct EntityRef {
  enum class Kind { kUser, kProduct };
  Kind kind = Kind::kProduct;
  std::string id;
};

struct AnalogyRequest {
  std::vector<EntityRef> positive;  // at least one
  std::vector<EntityRef> negative;
  int k = 10;
  int offset = 0;
};

struct AnalogyResult {
  std::string model_version;
  std::vector<ScoredItem> items;
};

// POST /v1/events: one outcome per event, in order.
struct EventOutcome {
  bool accepted = false;
  std::string reason;  // why it was rejected; empty when accepted
};

// POST /v1/admin/retrain
struct RetrainJob {
  std::string job_id;
};

// GET /v1/admin/status
struct TrainingProgress {
  bool running = false;
  std::string job_id;
  std::string stage;          // e.g. "snapshot", "walks", "skipgram", "encoder", "index", "validate"
  int epoch = 0;
  int epochs = 0;
  double loss = 0;            // latest training loss; NaN when none yet
  double eta_seconds = -1;    // < 0 = unknown
};

// The Kafka consumer's group membership: whether it has partitions, and how long it has been
// without (a member that cannot get an assignment consumes nothing; the lag says nothing then).
struct ConsumerAssignment {
  bool kafka = false;              // false: no Kafka consumer (HTTP ingestion only)
  int partitions = 0;              // partitions assigned now
  double unassigned_seconds = -1;  // seconds without any partition (since start or since it lost them); < 0 = has some
};

struct AdminStatus {
  std::string role;           // all | trainer | replica (cluster.role); "" = not known to the Api
  std::string model_version;  // "" = no model loaded
  std::string trained_at;
  double model_age_seconds = -1;  // now - trained_at; < 0 = no model (or not known)
  TrainingProgress training;
  int64_t users = 0;
  int64_t products = 0;
  int64_t edges = 0;
  int64_t consumer_lag = -1;  // events behind the Kafka topic heads; < 0 = no Kafka
  ConsumerAssignment assignment;
  std::string last_error;     // the last retraining's error; "" = none
};

// GET /readyz
struct Readiness {
  bool ready = false;
  std::string reason;  // why not ready, e.g. "no model loaded yet"
  // Kafka ingestion, shown beside readiness but not part of it (queries are answered from the
  // model while the broker is away): "" without Kafka, else "connecting" (not known yet),
  // "connected" (a broker is reachable) or "disconnected" (none is).
  std::string kafka;
  int64_t consumer_lag = -1;  // as in AdminStatus (the last known watermarks while disconnected)
  ConsumerAssignment assignment;
  // The served version and its age (now - its trained_at), shown while ready: a replica whose
  // trainer is down keeps serving its last version, and its age says how stale that has become.
  std::string role;               // all | trainer | replica (config cluster.role); "" = not reported
  std::string model_version;      // "" = not reported
  double model_age_seconds = -1;  // < 0 = not reported
};

class Api {
 public:
  virtual ~Api() = default;

  virtual Result<Recommendations> Recommend(const RecommendRequest& request) = 0;
  virtual Result<SimilarItems> Similar(const SimilarRequest& request) = 0;
  virtual Result<AnalogyResult> Analogy(const AnalogyRequest& request) = 0;
  // `events` are the JSON texts of the body's events, one per element. A bad event is a
  // rejected outcome, not an error; an error fails the whole batch (e.g. the store is down).
  virtual Result<std::vector<EventOutcome>> Ingest(const std::vector<std::string>& events) = 0;
  // AlreadyExists when a retraining is running.
  virtual Result<RetrainJob> StartRetrain() = 0;
  // Returns the version now served; FailedPrecondition when there is no previous version.
  virtual Result<std::string> Rollback() = 0;
  virtual AdminStatus GetStatus() = 0;
  virtual Readiness Ready() = 0;
};

}  // namespace vasgd
