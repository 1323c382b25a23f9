// One change to the user–product graph, as validated events become: a purchase, or a product's
// features / categories / meta / availability. The store applies them (graph_store.h); stream/
// parses them from JSON events (stream/event.h calls this type `Event`), TSV lines and .npy rows.
// Plain data with reusable buffers: a parser refills the same GraphUpdate without allocating.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace vasgd {

// Why an event was rejected. The names (RejectReasonName) are stable: they appear in metrics
// labels, dead-letter headers and HTTP answers.
enum class RejectReason : uint8_t {
  kNone = 0,
  kBadJson,             // not parseable JSON, or not a JSON object
  kUnknownType,         // "type" is neither "purchase" nor "product"
  kMissingField,        // a required field (type, user, product) is absent
  kBadField,            // a field has the wrong JSON type, an id is empty or not UTF-8, or fields conflict
  kIdTooLong,           // an id or a category is longer than max_id_bytes
  kBadWeight,           // weight is not a finite number > 0
  kBadTimestamp,        // ts is not a finite number >= 0
  kBadFeatures,         // features is empty or holds something other than numbers
  kNonFiniteFeature,    // a feature is NaN or infinite (also after the float32 conversion)
  kBadBase64,           // features_b64 is not base64 of a whole number of float32 values
  kFeatureDimMismatch,  // the vector's dimension differs from the store's fixed dimension
  kMessageTooLarge,     // the raw message is larger than max_message_bytes
  kCount,               // number of reasons (not a reason)
};

// "bad_json", "unknown_type", ... ("accepted" for kNone).
const char* RejectReasonName(RejectReason reason);

enum class UpdateType : uint8_t {
  kNone = 0,   // no graph change: a rejected message whose Kafka offset must still advance
  kPurchase,   // user bought product (weight added to the edge)
  kProduct,    // product attributes; fields without their has_* flag are left unchanged
};

struct GraphUpdate {
  UpdateType type = UpdateType::kNone;
  std::string user;         // purchase only
  std::string product;      // purchase and product
  float weight = 1.0f;      // purchase: added to the (user, product) edge
  int64_t ts = 0;           // event time, seconds since the epoch (arrival time when absent)
  std::string event_id;     // optional, opaque, carried to listeners

  bool has_features = false;
  std::vector<float> features;           // valid when has_features
  bool has_categories = false;
  std::vector<std::string> categories;   // valid when has_categories (replaces the old list)
  bool has_meta = false;
  std::string meta_json;                 // valid when has_meta: a JSON object as text
  int8_t available = -1;                 // -1 unchanged, 0 hidden, 1 available

  // Where the update came from, for exactly-once Kafka ingestion: an index into the batch's
  // `sources` and the message offset; source < 0 for HTTP and bulk import (no offset).
  int32_t source = -1;
  int64_t offset = -1;

  // Empties every field, keeping the buffers' capacity.
  void Clear() {
    type = UpdateType::kNone;
    user.clear();
    product.clear();
    weight = 1.0f;
    ts = 0;
    event_id.clear();
    has_features = false;
    features.clear();
    has_categories = false;
    categories.clear();
    has_meta = false;
    meta_json.clear();
    available = -1;
    source = -1;
    offset = -1;
  }
};

// A Kafka topic partition that updates in a batch came from.
struct SourcePartition {
  std::string topic;
  int32_t partition = 0;
};

// What the store did with one update.
enum class UpdateResult : uint8_t {
  kApplied = 0,   // the graph changed (or the product was registered)
  kRejected,      // refused by the store (see reason): nothing but its offset was written
  kDuplicate,     // its offset was already consumed: skipped entirely (exactly-once)
  kSkipped,       // a kNone update: only its offset advanced
};

struct UpdateOutcome {
  UpdateResult result = UpdateResult::kApplied;
  RejectReason reason = RejectReason::kNone;
  int32_t user = -1;          // dense user id (purchases)
  int32_t product = -1;       // dense product id
  bool new_user = false;      // the user was first seen in this update
  bool new_product = false;   // the product was first seen in this update
  bool new_edge = false;      // the (user, product) edge was created by this update
};

}  // namespace vasgd
