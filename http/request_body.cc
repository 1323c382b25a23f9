#include "http/request_body.h"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace vasgd {
namespace {

using Json = nlohmann::json;

constexpr size_t kMaxIdBytes = 256;
// No request of the API nests deeper than 3 (a batch, an event, its meta); 64 leaves room for
// meta. The limit matters because nlohmann's dump and comparisons recurse: a 1 MiB body of
// brackets would otherwise overflow an HTTP worker's stack.
constexpr int kMaxDepth = 64;

// Deepest nesting of arrays and objects in `body`, outside strings; stops counting past `limit`.
int NestingDepth(std::string_view body, int limit) {
  int depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : body) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
      if (deepest > limit) break;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

Result<Json> ParseJson(std::string_view body) {
  if (NestingDepth(body, kMaxDepth) > kMaxDepth) {
    return Status::InvalidArgument("request body nests arrays or objects deeper than " + std::to_string(kMaxDepth) + " levels");
  }
  Json doc = Json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return Status::InvalidArgument("request body is not valid JSON");
  return doc;
}

Status ParseRefs(const Json& doc, const char* field, std::vector<EntityRef>* out) {
  auto it = doc.find(field);
  if (it == doc.end()) return Status::Ok();
  if (!it->is_array()) return Status::InvalidArgument(std::string(field) + " must be an array of \"p:<product>\" or \"u:<user>\"");
  for (const Json& item : *it) {
    if (!item.is_string()) return Status::InvalidArgument(std::string(field) + " entries must be strings");
    const std::string& s = item.get_ref<const std::string&>();
    EntityRef ref;
    if (s.rfind("p:", 0) == 0) {
      ref.kind = EntityRef::Kind::kProduct;
    } else if (s.rfind("u:", 0) == 0) {
      ref.kind = EntityRef::Kind::kUser;
    } else {
      return Status::InvalidArgument(std::string(field) + " entry '" + s.substr(0, 64) + "' must start with p: or u:");
    }
    ref.id = s.substr(2);
    if (ref.id.empty() || ref.id.size() > kMaxIdBytes) {
      return Status::InvalidArgument(std::string(field) + " entry ids must be 1 to 256 bytes");
    }
    out->push_back(std::move(ref));
  }
  return Status::Ok();
}

Status ParseCount(const Json& doc, const char* field, int min, int max, int* out) {
  auto it = doc.find(field);
  if (it == doc.end()) return Status::Ok();
  if (!it->is_number_integer() || it->get<int64_t>() < min || it->get<int64_t>() > max) {
    return Status::InvalidArgument(std::string(field) + " must be an integer between " + std::to_string(min) +
                                   " and " + std::to_string(max));
  }
  *out = static_cast<int>(it->get<int64_t>());
  return Status::Ok();
}

}  // namespace

Result<AnalogyRequest> ParseAnalogyBody(std::string_view body, int max_k) {
  Result<Json> doc = ParseJson(body);
  if (!doc.ok()) return doc.status();
  if (!doc->is_object()) return Status::InvalidArgument("request body must be a JSON object");
  for (auto it = doc->begin(); it != doc->end(); ++it) {
    const std::string& key = it.key();
    if (key != "positive" && key != "negative" && key != "k" && key != "offset") {
      return Status::InvalidArgument("unknown field '" + key.substr(0, 64) + "': expected positive, negative, k, offset");
    }
  }
  AnalogyRequest request;
  VASGD_RETURN_IF_ERROR(ParseRefs(*doc, "positive", &request.positive));
  VASGD_RETURN_IF_ERROR(ParseRefs(*doc, "negative", &request.negative));
  if (request.positive.empty()) return Status::InvalidArgument("positive must name at least one product or user");
  VASGD_RETURN_IF_ERROR(ParseCount(*doc, "k", 1, max_k, &request.k));
  VASGD_RETURN_IF_ERROR(ParseCount(*doc, "offset", 0, max_k, &request.offset));
  if (request.k + request.offset > max_k) {
    return Status::InvalidArgument("k + offset must not exceed " + std::to_string(max_k));
  }
  return request;
}

Result<std::vector<std::string>> SplitEventsBody(std::string_view body, int max_events) {
  Result<Json> doc = ParseJson(body);
  if (!doc.ok()) return doc.status();
  std::vector<std::string> events;
  if (doc->is_object()) {
    events.push_back(doc->dump());
    return events;
  }
  if (!doc->is_array()) return Status::InvalidArgument("request body must be a JSON array of events or one event object");
  if (doc->size() > static_cast<size_t>(max_events)) {
    return Status::ResourceExhausted("a request may carry at most " + std::to_string(max_events) + " events, this one has " +
                                     std::to_string(doc->size()));
  }
  events.reserve(doc->size());
  for (const Json& event : *doc) events.push_back(event.dump());
  return events;
}

}  // namespace vasgd
