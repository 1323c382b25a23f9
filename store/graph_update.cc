#include "store/graph_update.h"

namespace vasgd {

const char* RejectReasonName(RejectReason reason) {
  switch (reason) {
    case RejectReason::kNone: return "accepted";
    case RejectReason::kBadJson: return "bad_json";
    case RejectReason::kUnknownType: return "unknown_type";
    case RejectReason::kMissingField: return "missing_field";
    case RejectReason::kBadField: return "bad_field";
    case RejectReason::kIdTooLong: return "id_too_long";
    case RejectReason::kBadWeight: return "bad_weight";
    case RejectReason::kBadTimestamp: return "bad_ts";
    case RejectReason::kBadFeatures: return "bad_features";
    case RejectReason::kNonFiniteFeature: return "non_finite_feature";
    case RejectReason::kBadBase64: return "bad_base64";
    case RejectReason::kFeatureDimMismatch: return "feature_dim_mismatch";
    case RejectReason::kMessageTooLarge: return "message_too_large";
    case RejectReason::kCount: break;
  }
  return "unknown";
}

}  // namespace vasgd
