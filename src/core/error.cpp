#include "core/error.h"

namespace roomcast::core {

std::string_view errorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::BadRequest: return "bad_request";
    case ErrorCode::InvalidJson: return "invalid_json";
    case ErrorCode::TooLarge: return "too_large";
    case ErrorCode::TooDeep: return "too_deep";
    case ErrorCode::InvalidUtf8: return "invalid_utf8";
    case ErrorCode::UnknownType: return "unknown_type";
    case ErrorCode::UnsupportedVersion: return "unsupported_version";
    case ErrorCode::ValidationFailed: return "validation_failed";
    case ErrorCode::Unauthorized: return "unauthorized";
    case ErrorCode::Forbidden: return "forbidden";
    case ErrorCode::NotFound: return "not_found";
    case ErrorCode::Conflict: return "conflict";
    case ErrorCode::RoomFull: return "room_full";
    case ErrorCode::MediaError: return "media_error";
    case ErrorCode::RateLimited: return "rate_limited";
    case ErrorCode::Internal: return "internal";
    case ErrorCode::RecordingFailed: return "recording_failed";
    case ErrorCode::UnsupportedMediaType: return "unsupported_media_type";
    case ErrorCode::StoreUnavailable: return "store_unavailable";
    case ErrorCode::IceFailed: return "ice_failed";
    case ErrorCode::NotClustered: return "not_clustered";
  }
  return "internal";
}

int httpStatusFor(ErrorCode code) {
  switch (code) {
    case ErrorCode::BadRequest:
    case ErrorCode::InvalidJson:
    case ErrorCode::TooDeep:
    case ErrorCode::InvalidUtf8:
    case ErrorCode::UnknownType:
    case ErrorCode::UnsupportedVersion: return 400;
    case ErrorCode::TooLarge: return 413;
    case ErrorCode::ValidationFailed: return 422;
    case ErrorCode::Unauthorized: return 401;
    case ErrorCode::Forbidden: return 403;
    case ErrorCode::NotFound:
    case ErrorCode::NotClustered: return 404;
    case ErrorCode::Conflict:
    case ErrorCode::RoomFull: return 409;
    case ErrorCode::RateLimited: return 429;
    case ErrorCode::MediaError: return 502;
    case ErrorCode::Internal: return 500;
    case ErrorCode::RecordingFailed: return 507;
    case ErrorCode::UnsupportedMediaType: return 415;
    case ErrorCode::StoreUnavailable: return 503;
    case ErrorCode::IceFailed: return 504;
  }
  return 500;
}

Error noLiveRoom(const std::string& roomId) { return {ErrorCode::NotFound, "no live room with id '" + roomId + "'"}; }

}  // namespace roomcast::core
