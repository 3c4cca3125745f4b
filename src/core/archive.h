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
  // On a cluster (docs/cluster.md, "The archive"): the same on every node.
  std::string archiveId;         // stable across nodes (made when the recording starts); `id` is this node's
  std::string node;              // the node URL of the node holding the file; "" for this node
  std::string session;           // "<room id>@<room created_at ms>": a room reopened by a failover keeps it
  int part = 1;                  // 1, 2, ... in start order within the session
  int parts = 1;                 // how many parts the session has (that this node knows of)
  int64_t revision = 0;          // its holder's count of changes to it: a stale fact never rolls it back
};

// A search hit: where in which recording something was said, and by whom.
struct TranscriptHit {
  RecordingRow recording;
  std::string speaker;
  std::string snippet;   // the segment, the matched words in [brackets]
  double offsetSeconds;  // into the recording
};

// A fact of the archive as the cluster shares it (the stream `roomcast:archive`): the node that
// produced it appends it, every node applies it to its own store, idempotently by `id`.
struct ArchiveFact {
  enum class Kind { Recording, RecordingDeleted, Transcript };
  Kind kind = Kind::Recording;
  std::string id;    // the recording's or the transcript segment's archive id
  std::string from;  // the node URL of the node that produced the fact
  // Recording: the whole row as its holder has it now (node = the holder's URL).
  RecordingRow recording;
  // Transcript: one segment.
  std::string roomId, identity, name, text;
  int64_t startMs = 0, endMs = 0;
};

}  // namespace roomcast::core
