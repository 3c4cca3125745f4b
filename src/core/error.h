// Client-facing errors: a stable code (part of the protocol) and a human message.
// Internal failures use ErrorCode::Internal and never leak details to clients.
#pragma once

#include <string>
#include <string_view>

namespace roomcast::core {

enum class ErrorCode {
  BadRequest,          // malformed request: wrong field types, missing fields
  InvalidJson,         // not JSON at all
  TooLarge,            // body or message over the size limit
  TooDeep,             // JSON nested beyond the depth limit
  InvalidUtf8,         // text that is not valid UTF-8
  UnknownType,         // a message type this protocol version does not know
  UnsupportedVersion,  // hello with a protocol version we do not speak
  ValidationFailed,    // well-formed but unacceptable values (title too long, ...)
  Unauthorized,        // no token, or a token that does not verify
  Forbidden,           // a valid token without the right for this action
  NotFound,            // unknown room or participant
  Conflict,            // the action does not fit the current state
  RoomFull,            // the speaker cap is reached
  MediaError,          // SDP refused or the media engine failed for this peer
  RateLimited,         // too many requests
  Internal,            // a bug or a resource failure on our side
  RecordingFailed,     // the recording stopped (a full disk, a write error); the room goes on
  UnsupportedMediaType,  // a REST body that is not application/json (a cross-site form post)
  StoreUnavailable,    // the database refused a write this action needs (locked, read-only, full)
  IceFailed,           // a peer's ICE or DTLS did not connect (failed, or not by the deadline): offer again
  NotClustered,        // a cluster endpoint on a server that runs without [cluster] redis
};

struct Error {
  ErrorCode code;
  std::string message;
};

// The wire name of a code: stable across versions, documented in docs/protocol.md.
std::string_view errorCodeName(ErrorCode code);

// The HTTP status a REST response carries for this code.
int httpStatusFor(ErrorCode code);

// NotFound for a room id that names no live room.
Error noLiveRoom(const std::string& roomId);

}  // namespace roomcast::core
