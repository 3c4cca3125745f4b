// How much report and moderation evidence the data dir may hold: a cap for all of it and one
// per room. Anyone in a room may file a report, and each keeps the room's last minutes of
// audio, so without caps a few hundred reports fill the disk. Bytes are reserved on the
// control thread before a file is written, and given back from the writer thread if the write
// fails: hence the mutex.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "core/result.h"

namespace roomcast::media {

class EvidenceQuota {
 public:
  EvidenceQuota(uint64_t totalBytes, uint64_t roomBytes) : totalCap_(totalBytes), roomCap_(roomBytes) {}

  // A file already on disk (counted at start).
  void count(const std::string& roomId, uint64_t bytes) {
    std::lock_guard lock(mutex_);
    used_ += bytes;
    byRoom_[roomId] += bytes;
  }

  // Reserves room for a new file, or says which cap it would pass (nothing is reserved then).
  core::Status reserve(const std::string& roomId, uint64_t bytes) {
    std::lock_guard lock(mutex_);
    uint64_t& room = byRoom_[roomId];
    if (room + bytes > roomCap_)
      return core::Error{core::ErrorCode::TooLarge, "the room's evidence quota is reached (" + std::to_string(room) +
                                                        " of " + std::to_string(roomCap_) + " bytes used)"};
    if (used_ + bytes > totalCap_)
      return core::Error{core::ErrorCode::TooLarge, "the evidence quota is reached (" + std::to_string(used_) +
                                                        " of " + std::to_string(totalCap_) + " bytes used)"};
    room += bytes;
    used_ += bytes;
    return core::Ok{};
  }

  // A reserved file that was not written after all.
  void release(const std::string& roomId, uint64_t bytes) {
    std::lock_guard lock(mutex_);
    uint64_t& room = byRoom_[roomId];
    room -= std::min(room, bytes);
    used_ -= std::min(used_, bytes);
  }

  uint64_t used() const {
    std::lock_guard lock(mutex_);
    return used_;
  }
  uint64_t usedBy(const std::string& roomId) const {
    std::lock_guard lock(mutex_);
    auto it = byRoom_.find(roomId);
    return it == byRoom_.end() ? 0 : it->second;
  }

 private:
  mutable std::mutex mutex_;
  const uint64_t totalCap_;
  const uint64_t roomCap_;
  uint64_t used_ = 0;
  std::map<std::string, uint64_t> byRoom_;
};

}  // namespace roomcast::media
