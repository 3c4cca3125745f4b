// Finished recordings to S3-compatible storage ([s3] in the config): each file is queued as
// its recording ends (and, at start, every ended recording not yet uploaded), uploaded on the
// S3 uploader's worker thread, and recorded in the store. The local copy is removed only
// after the upload was verified (and not at all with keep_local). A failure is logged loudly,
// kept in the store (the archive shows it) and retried at the next start. Control thread only.
#pragma once

#include <memory>
#include <string>

#include "app/options.h"
#include "store/database.h"
#include "store/s3_upload.h"

namespace roomcast::app {

class RecordingUploads {
 public:
  RecordingUploads(const S3Options& options, store::Database& store, GMainContext* context);

  // Queues one recording file; `roomId` names the object: <prefix><room>/<file>.
  void upload(const std::string& path, const std::string& roomId);
  // Queues every ended recording with audio that has no storage URL yet.
  void resumePending();

 private:
  void finished(const std::string& path, const core::Result<store::UploadReport>& result);

  S3Options options_;
  store::Database& store_;
  std::unique_ptr<store::S3Uploader> uploader_;
};

}  // namespace roomcast::app
