#include "stream/event.h"

#include <simdjson.h>

#include <chrono>
#include <cmath>
#include <cstring>

#include "common/utf8.h"
#include "stream/base64.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "features_b64 is read as host floats");

namespace vasgd {
namespace {

bool Fail(EventError* error, RejectReason reason, std::string message) {
  error->reason = reason;
  error->message = std::move(message);
  return false;
}

bool CheckId(const EventLimits& limits, const char* field, const std::string& id, EventError* error) {
  if (id.empty()) return Fail(error, RejectReason::kBadField, std::string(field) + " is empty");
  if (id.size() > static_cast<size_t>(limits.max_id_bytes)) {
    return Fail(error, RejectReason::kIdTooLong,
                std::string(field) + " is " + std::to_string(id.size()) + " bytes, more than " +
                    std::to_string(limits.max_id_bytes));
  }
  // JSON readers have checked this already; TSV rows and other readers have not.
  if (!IsValidUtf8(id)) return Fail(error, RejectReason::kBadField, std::string(field) + " is not valid UTF-8");
  return true;
}

// A string field: false (bad_field) when the value is another JSON type.
bool GetString(simdjson::dom::element v, const char* field, std::string* out, EventError* error) {
  std::string_view s;
  if (v.get_string().get(s)) return Fail(error, RejectReason::kBadField, std::string(field) + " must be a string");
  out->assign(s.data(), s.size());
  return true;
}

bool ParseFeatureArray(simdjson::dom::element v, std::vector<float>* out, EventError* error) {
  simdjson::dom::array arr;
  if (v.get_array().get(arr)) return Fail(error, RejectReason::kBadFeatures, "features must be an array of numbers");
  out->clear();
  out->reserve(arr.size());
  for (simdjson::dom::element x : arr) {
    double d;
    if (x.get_double().get(d)) {
      return Fail(error, RejectReason::kBadFeatures,
                  "features[" + std::to_string(out->size()) + "] is not a number");
    }
    out->push_back(static_cast<float>(d));  // range is checked (non_finite_feature) in ValidateEvent
  }
  return true;
}

bool ParseFeatureBase64(simdjson::dom::element v, std::string* scratch, std::vector<float>* out,
                        EventError* error) {
  std::string_view text;
  if (v.get_string().get(text)) return Fail(error, RejectReason::kBadField, "features_b64 must be a string");
  if (!Base64Decode(text, scratch)) return Fail(error, RejectReason::kBadBase64, "features_b64 is not valid base64");
  if (scratch->size() % sizeof(float) != 0) {
    return Fail(error, RejectReason::kBadBase64,
                "features_b64 decodes to " + std::to_string(scratch->size()) +
                    " bytes, not a whole number of float32 values");
  }
  out->resize(scratch->size() / sizeof(float));
  // An empty vector's data() may be null, and memcpy from or to null is undefined even for 0
  // bytes (found by fuzz/fuzz_event; "" is then refused as bad_features by the validator).
  if (!scratch->empty()) std::memcpy(out->data(), scratch->data(), scratch->size());
  return true;
}

bool ParseCategories(simdjson::dom::element v, std::vector<std::string>* out, EventError* error) {
  simdjson::dom::array arr;
  if (v.get_array().get(arr)) return Fail(error, RejectReason::kBadField, "categories must be an array of strings");
  out->clear();
  for (simdjson::dom::element x : arr) {
    std::string_view s;
    if (x.get_string().get(s)) return Fail(error, RejectReason::kBadField, "categories must be an array of strings");
    out->emplace_back(s);
  }
  return true;
}

// Fills *event from one parsed JSON value; fields are collected first, then read by type.
bool ParseObject(const EventLimits& limits, simdjson::dom::element root, int64_t now, std::string* scratch,
                 Event* event, EventError* error) {
  event->Clear();
  simdjson::dom::object obj;
  if (root.get_object().get(obj)) return Fail(error, RejectReason::kBadJson, "an event must be a JSON object");

  simdjson::dom::element type, user, product, ts, weight, event_id, features, features_b64, categories,
      meta, available;
  bool has_type = false, has_user = false, has_product = false, has_ts = false, has_weight = false,
       has_event_id = false, has_features = false, has_b64 = false, has_categories = false,
       has_meta = false, has_available = false;
  for (simdjson::dom::key_value_pair field : obj) {
    const std::string_view k = field.key;
    if (k == "type") type = field.value, has_type = true;
    else if (k == "user") user = field.value, has_user = true;
    else if (k == "product") product = field.value, has_product = true;
    else if (k == "ts") ts = field.value, has_ts = true;
    else if (k == "weight") weight = field.value, has_weight = true;
    else if (k == "event_id") event_id = field.value, has_event_id = true;
    else if (k == "features") features = field.value, has_features = true;
    else if (k == "features_b64") features_b64 = field.value, has_b64 = true;
    else if (k == "categories") categories = field.value, has_categories = true;
    else if (k == "meta") meta = field.value, has_meta = true;
    else if (k == "available") available = field.value, has_available = true;
  }

  if (!has_type) return Fail(error, RejectReason::kMissingField, "type is missing");
  std::string_view type_name;
  if (type.get_string().get(type_name)) return Fail(error, RejectReason::kBadField, "type must be a string");
  if (type_name == "purchase") {
    event->type = UpdateType::kPurchase;
  } else if (type_name == "product") {
    event->type = UpdateType::kProduct;
  } else {
    std::string shown(type_name.substr(0, 64));
    return Fail(error, RejectReason::kUnknownType, "type '" + shown + "' is neither purchase nor product");
  }

  if (!has_product) return Fail(error, RejectReason::kMissingField, "product is missing");
  if (!GetString(product, "product", &event->product, error)) return false;
  if (has_event_id && !GetString(event_id, "event_id", &event->event_id, error)) return false;
  event->ts = now;
  if (has_ts) {
    int64_t i;
    double d;
    if (!ts.get_int64().get(i)) {
      event->ts = i;
    } else if (!ts.get_double().get(d) && std::isfinite(d) && d > -9.2e18 && d < 9.2e18) {  // fits int64
      event->ts = static_cast<int64_t>(std::floor(d));
    } else {
      return Fail(error, RejectReason::kBadTimestamp, "ts must be a number of seconds since the epoch");
    }
  }

  if (event->type == UpdateType::kPurchase) {
    if (!has_user) return Fail(error, RejectReason::kMissingField, "user is missing");
    if (!GetString(user, "user", &event->user, error)) return false;
    if (has_weight) {
      double w;
      if (weight.get_double().get(w)) return Fail(error, RejectReason::kBadWeight, "weight must be a number");
      event->weight = static_cast<float>(w);
    }
  } else {
    if (has_features && has_b64) {
      return Fail(error, RejectReason::kBadField, "give either features or features_b64, not both");
    }
    if (has_features) {
      event->has_features = true;
      if (!ParseFeatureArray(features, &event->features, error)) return false;
    } else if (has_b64) {
      event->has_features = true;
      if (!ParseFeatureBase64(features_b64, scratch, &event->features, error)) return false;
    }
    if (has_categories) {
      event->has_categories = true;
      if (!ParseCategories(categories, &event->categories, error)) return false;
    }
    if (has_meta) {
      if (meta.type() != simdjson::dom::element_type::OBJECT) {
        return Fail(error, RejectReason::kBadField, "meta must be a JSON object");
      }
      event->has_meta = true;
      event->meta_json = simdjson::minify(meta);
    }
    if (has_available) {
      bool b;
      if (available.get_bool().get(b)) return Fail(error, RejectReason::kBadField, "available must be true or false");
      event->available = b ? 1 : 0;
    }
  }
  return ValidateEvent(limits, *event, error);
}

}  // namespace

bool ValidateEvent(const EventLimits& limits, const Event& event, EventError* error) {
  error->reason = RejectReason::kNone;
  error->message.clear();
  switch (event.type) {
    case UpdateType::kNone:
      return Fail(error, RejectReason::kUnknownType, "event has no type");
    case UpdateType::kPurchase:
      if (!CheckId(limits, "user", event.user, error)) return false;
      if (!CheckId(limits, "product", event.product, error)) return false;
      if (!(std::isfinite(event.weight) && event.weight > 0.0f)) {
        return Fail(error, RejectReason::kBadWeight, "weight must be a finite number > 0");
      }
      break;
    case UpdateType::kProduct:
      if (!CheckId(limits, "product", event.product, error)) return false;
      if (event.has_features) {
        if (event.features.empty()) return Fail(error, RejectReason::kBadFeatures, "features is empty");
        for (size_t i = 0; i < event.features.size(); ++i) {
          if (!std::isfinite(event.features[i])) {
            return Fail(error, RejectReason::kNonFiniteFeature,
                        "features[" + std::to_string(i) + "] is not a finite float32");
          }
        }
        if (limits.feature_dim > 0 && event.features.size() != static_cast<size_t>(limits.feature_dim)) {
          return Fail(error, RejectReason::kFeatureDimMismatch,
                      "features have dimension " + std::to_string(event.features.size()) +
                          ", the store's is " + std::to_string(limits.feature_dim));
        }
      }
      if (event.has_categories) {
        for (const std::string& c : event.categories) {
          if (!CheckId(limits, "a category", c, error)) return false;
        }
      }
      break;
  }
  if (event.ts < 0) return Fail(error, RejectReason::kBadTimestamp, "ts must be >= 0");
  if (event.event_id.size() > static_cast<size_t>(limits.max_id_bytes)) {
    return Fail(error, RejectReason::kIdTooLong, "event_id is longer than " + std::to_string(limits.max_id_bytes) + " bytes");
  }
  return true;
}

struct EventParser::Impl {
  simdjson::dom::parser parser;
  std::string scratch;  // decoded features_b64
};

EventParser::EventParser(const EventLimits& limits) : limits_(limits), impl_(std::make_unique<Impl>()) {}
EventParser::~EventParser() = default;

bool EventParser::Parse(std::string_view json, int64_t now, Event* event, EventError* error) {
  if (json.size() > static_cast<size_t>(limits_.max_message_bytes)) {
    event->Clear();
    return Fail(error, RejectReason::kMessageTooLarge,
                "message is " + std::to_string(json.size()) + " bytes, more than " +
                    std::to_string(limits_.max_message_bytes));
  }
  simdjson::dom::element root;
  if (auto err = impl_->parser.parse(json.data(), json.size(), /*realloc_if_needed=*/true).get(root)) {
    event->Clear();
    return Fail(error, RejectReason::kBadJson, std::string("not valid JSON: ") + simdjson::error_message(err));
  }
  return ParseObject(limits_, root, now, &impl_->scratch, event, error);
}

Status EventParser::ParseArray(std::string_view json, int64_t now, std::vector<Event>* events,
                               std::vector<EventError>* errors) {
  simdjson::dom::element root;
  if (auto err = impl_->parser.parse(json.data(), json.size(), true).get(root)) {
    return Status::InvalidArgument(std::string("body is not valid JSON: ") + simdjson::error_message(err));
  }
  simdjson::dom::array arr;
  if (root.get_array().get(arr)) return Status::InvalidArgument("body must be a JSON array of events");
  const size_t n = arr.size();
  events->resize(n);
  errors->resize(n);
  size_t i = 0;
  for (simdjson::dom::element el : arr) {
    EventError& e = (*errors)[i];
    e.reason = RejectReason::kNone;
    e.message.clear();
    ParseObject(limits_, el, now, &impl_->scratch, &(*events)[i], &e);
    ++i;
  }
  return Status::Ok();
}

int64_t UnixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace vasgd
