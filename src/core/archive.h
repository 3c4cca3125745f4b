// The archive as the rest of roomcastd sees it: recordings and where in them something was
// said. Kept by the store (SQLite with an FTS5 index); plain structs here.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace roomcast::core {

struct RecordingRow {
  int64_t id = 0;
  std::string roomId;
  std::string title;
  std::string path;
  int64_t startedAtMs = 0;
  int64_t endedAtMs = 0;         // 0: still recording (or cut off by a crash, not yet recovered)
  double durationSeconds = 0;
  std::string status;            // recording, finished, failed, recovered
  std::string note;
  std::string storageUrl;        // where it was uploaded, if anywhere
  std::string uploadError;       // why the last upload failed (the file stays local)
  bool localFile = true;         // the file is still in the data dir (false once uploaded and removed)
  std::vector<std::string> speakers;  // who is heard in its transcript
};

// A search hit: where in which recording something was said, and by whom.
struct TranscriptHit {
  RecordingRow recording;
  std::string speaker;
  std::string snippet;   // the segment, the matched words in [brackets]
  double offsetSeconds;  // into the recording
};

}  // namespace roomcast::core
