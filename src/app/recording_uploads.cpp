#include "app/recording_uploads.h"

#include <glib/gstdio.h>

namespace roomcast::app {

namespace {

std::string baseName(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

RecordingUploads::RecordingUploads(const S3Options& options, store::Database& store, GMainContext* context)
    : options_(options), store_(store) {
  store::S3Config config;
  config.endpoint = options.endpoint;
  config.bucket = options.bucket;
  config.region = options.region;
  config.accessKey = options.accessKey;
  config.secretKey = options.secretKey;
  config.prefix = options.prefix;
  config.retry.maxAttempts = options.maxAttempts;
  uploader_ = std::make_unique<store::S3Uploader>(std::move(config), context);
}

void RecordingUploads::upload(const std::string& path, const std::string& roomId) {
  if (!g_file_test(path.c_str(), G_FILE_TEST_IS_REGULAR)) return;
  g_message("s3: uploading %s", path.c_str());
  uploader_->enqueue(
      path, roomId + "/" + baseName(path),
      [this, path](const core::Result<store::UploadReport>& result) { finished(path, result); },
      [path](const store::S3AttemptFailure& failure) {
        g_message("s3: %s: attempt %d failed (%s), retrying in %lld ms", path.c_str(), failure.attempt,
                  failure.message.c_str(), static_cast<long long>(failure.retryIn.count()));
      });
}

void RecordingUploads::resumePending() {
  for (const auto& row : store_.recordingsAwaitingUpload()) upload(row.path, row.roomId);
}

void RecordingUploads::finished(const std::string& path, const core::Result<store::UploadReport>& result) {
  if (!result) {
    // Loud: an operator who configured S3 expects the archive there. The file stays.
    g_warning("s3: upload of %s FAILED, the file stays in the data dir: %s", path.c_str(),
               result.error().message.c_str());
    if (auto s = store_.recordingUploadFailed(path, result.error().message); !s)
      g_warning("store: %s", s.error().message.c_str());
    return;
  }
  const auto& report = result.value();
  g_message("s3: %s uploaded to %s (%llu bytes, %d attempt%s, verified)", path.c_str(), report.url.c_str(),
            static_cast<unsigned long long>(report.bytes), report.attempts, report.attempts == 1 ? "" : "s");
  if (auto s = store_.recordingUploaded(path, report.url); !s) {
    g_warning("store: %s (keeping %s)", s.error().message.c_str(), path.c_str());
    return;  // not recorded as uploaded: keep the only copy we can find
  }
  if (!options_.keepLocal && g_unlink(path.c_str()) != 0)
    g_warning("s3: cannot remove %s after its upload: %s", path.c_str(), g_strerror(errno));
}

}  // namespace roomcast::app
