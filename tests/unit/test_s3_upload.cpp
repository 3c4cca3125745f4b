// The pure parts of the S3 upload (store/s3_upload.h): object URLs and key encoding, file
// digests against published test vectors, S3's XML error bodies, the retry rules, and the
// main-loop wrapper's delivery (with files that do not exist, so nothing touches a network).
#include <glib.h>
#include <glib/gstdio.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "store/s3_upload.h"
#include "wait.h"

using roomcast::testing::iterateUntil;

using namespace roomcast;
using namespace roomcast::store;
using namespace std::chrono_literals;

namespace {

S3Config config(std::string endpoint = "http://127.0.0.1:4569", std::string prefix = "recordings/") {
  S3Config c;
  c.endpoint = std::move(endpoint);
  c.bucket = "roomcast";
  c.accessKey = "AK";
  c.secretKey = "SK";
  c.prefix = std::move(prefix);
  return c;
}

class TempFile {
 public:
  explicit TempFile(const std::string& contents) {
    GError* error = nullptr;
    const int fd = g_file_open_tmp("roomcast-s3-unit-XXXXXX", &path_raw_, &error);
    EXPECT_GE(fd, 0) << (error ? error->message : "");
    if (fd >= 0) close(fd);
    path_ = path_raw_ ? path_raw_ : "";
    g_file_set_contents(path_.c_str(), contents.data(), static_cast<gssize>(contents.size()), nullptr);
  }
  ~TempFile() {
    g_unlink(path_.c_str());
    g_free(path_raw_);
  }
  const std::string& path() const { return path_; }

 private:
  char* path_raw_ = nullptr;
  std::string path_;
};

}  // namespace

// --- URLs -----------------------------------------------------------------------------------

TEST(S3ObjectUrl, PathStyleWithPrefix) {
  auto url = s3::objectUrl(config(), "room-1/2024-05-01T10-00-00.ogg");
  ASSERT_TRUE(url.ok()) << url.error().message;
  EXPECT_EQ(url.value(), "http://127.0.0.1:4569/roomcast/recordings/room-1/2024-05-01T10-00-00.ogg");
}

TEST(S3ObjectUrl, TrailingSlashesAndBasePathOfTheEndpoint) {
  EXPECT_EQ(s3::objectUrl(config("https://s3.example.org//"), "a.ogg").value(),
            "https://s3.example.org/roomcast/recordings/a.ogg");
  EXPECT_EQ(s3::objectUrl(config("http://gw.example.org:9000/storage/"), "a.ogg").value(),
            "http://gw.example.org:9000/storage/roomcast/recordings/a.ogg");
}

TEST(S3ObjectUrl, PrefixIsUsedAsIs) {
  EXPECT_EQ(s3::objectUrl(config("http://h", ""), "a.ogg").value(), "http://h/roomcast/a.ogg");
  EXPECT_EQ(s3::objectUrl(config("http://h", "rec-"), "a.ogg").value(), "http://h/roomcast/rec-a.ogg");
}

TEST(S3ObjectUrl, KeyIsPercentEncodedForSigV4) {
  EXPECT_EQ(s3::objectUrl(config(), "Talk #3 (final)+mix.ogg").value(),
            "http://127.0.0.1:4569/roomcast/recordings/Talk%20%233%20%28final%29%2Bmix.ogg");
  EXPECT_EQ(s3::encodeKey("caf\xc3\xa9/a~b_c-d.e"), "caf%C3%A9/a~b_c-d.e");
  EXPECT_EQ(s3::encodeKey("a?b=c&d"), "a%3Fb%3Dc%26d");
}

TEST(S3ObjectUrl, RefusesWhatWouldGoElsewhere) {
  EXPECT_EQ(s3::objectUrl(config("ftp://h"), "a.ogg").error().code, core::ErrorCode::ValidationFailed);
  EXPECT_EQ(s3::objectUrl(config("127.0.0.1:4569"), "a.ogg").error().code, core::ErrorCode::ValidationFailed);
  EXPECT_EQ(s3::objectUrl(config("http://h/?x=1"), "a.ogg").error().code, core::ErrorCode::ValidationFailed);
  EXPECT_EQ(s3::objectUrl(config(), "").error().code, core::ErrorCode::ValidationFailed);
  EXPECT_EQ(s3::objectUrl(config(), "../secrets.ogg").error().code, core::ErrorCode::ValidationFailed);
  EXPECT_EQ(s3::objectUrl(config(), "a/./b.ogg").error().code, core::ErrorCode::ValidationFailed);
  EXPECT_EQ(s3::objectUrl(config("http://h", "../"), "a.ogg").error().code, core::ErrorCode::ValidationFailed);
  auto noBucket = config();
  noBucket.bucket = "";
  EXPECT_FALSE(s3::objectUrl(noBucket, "a.ogg").ok());
  noBucket.bucket = "a/b";
  EXPECT_FALSE(s3::objectUrl(noBucket, "a.ogg").ok());
  // Dots inside a name are fine.
  EXPECT_TRUE(s3::objectUrl(config(), "a..b/.hidden.ogg").ok());
}

// --- Digests --------------------------------------------------------------------------------

// The size, SHA-256 and MD5 that digestFile reads from a file holding `content`.
void expectDigests(const std::string& content, const char* sha256, const char* md5) {
  TempFile file(content);
  auto d = s3::digestFile(file.path());
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(d->size, content.size());
  EXPECT_EQ(d->sha256, sha256);
  EXPECT_EQ(d->md5, md5);
}

TEST(S3Digest, EmptyFile) {
  expectDigests("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "d41d8cd98f00b204e9800998ecf8427e");
}

TEST(S3Digest, Abc) {
  expectDigests("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "900150983cd24fb0d6963f7d28e17f72");
}

TEST(S3Digest, AMillionAsSpanningManyReads) {
  expectDigests(std::string(1000000, 'a'),  // the FIPS 180-2 long vector, > 3 read chunks
                "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0", "7707d6ae4e027c70eea2a935c2296f21");
}

TEST(S3Digest, MissingFileIsNotFound) {
  auto d = s3::digestFile("/nonexistent/roomcast/recording.ogg");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().code, core::ErrorCode::NotFound);
  EXPECT_NE(d.error().message.find("/nonexistent/roomcast/recording.ogg"), std::string::npos);
}

// --- Error bodies ---------------------------------------------------------------------------

TEST(S3ErrorBody, AwsSignatureDoesNotMatch) {
  const char* xml =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match the "
      "signature you provided. Check your key and signing method.</Message><AWSAccessKeyId>AKIA</AWSAccessKeyId>"
      "<StringToSign>AWS4-HMAC-SHA256\n20240501T100000Z</StringToSign><RequestId>4442587FB7D0A2F9</RequestId></Error>";
  auto body = s3::parseErrorBody(xml);
  ASSERT_TRUE(body.has_value());
  EXPECT_EQ(body->code, "SignatureDoesNotMatch");
  EXPECT_EQ(body->message,
            "The request signature we calculated does not match the signature you provided. Check your key and "
            "signing method.");
}

TEST(S3ErrorBody, WhitespaceAndEntities) {
  auto body = s3::parseErrorBody(
      "<Error>\n  <Code>\n    InvalidAccessKeyId\n  </Code>\n  <Message>Key &apos;x&apos; &amp; more</Message>\n</Error>\n");
  ASSERT_TRUE(body.has_value());
  EXPECT_EQ(body->code, "InvalidAccessKeyId");
  EXPECT_EQ(body->message, "Key 'x' & more");
}

TEST(S3ErrorBody, OnlyTheTopLevelCodeCounts) {
  auto body = s3::parseErrorBody("<Error><Details><Code>inner</Code></Details><Code>NoSuchBucket</Code></Error>");
  ASSERT_TRUE(body.has_value());
  EXPECT_EQ(body->code, "NoSuchBucket");
  EXPECT_EQ(body->message, "");
  EXPECT_FALSE(s3::parseErrorBody("<Other><Code>X</Code></Other>").has_value());
}

TEST(S3ErrorBody, CutShortOrUnknownEntityKeepsWhatCameFirst) {
  auto cut = s3::parseErrorBody("<Error><Code>SlowDown</Code><Message>Please red");
  ASSERT_TRUE(cut.has_value());
  EXPECT_EQ(cut->code, "SlowDown");
  // GMarkup knows only the five XML entities; an HTML one ends the parse.
  auto entity = s3::parseErrorBody("<Error><Code>InternalError</Code><Message>a &grave; b</Message></Error>");
  ASSERT_TRUE(entity.has_value());
  EXPECT_EQ(entity->code, "InternalError");
}

TEST(S3ErrorBody, NotS3Xml) {
  EXPECT_FALSE(s3::parseErrorBody("").has_value());
  EXPECT_FALSE(s3::parseErrorBody("<html><body><h1>502 Bad Gateway</h1></body></html>").has_value());
  EXPECT_FALSE(s3::parseErrorBody("upstream connect error").has_value());
  EXPECT_FALSE(s3::parseErrorBody("<Error><Code></Code></Error>").has_value());
}

TEST(S3ErrorBody, DescribedWithStatusAndCode) {
  EXPECT_EQ(s3::describeHttpFailure(403, "<Error><Code>InvalidAccessKeyId</Code><Message>The AWS Access Key Id you "
                                         "provided does not exist in our records.</Message></Error>"),
            "HTTP 403 InvalidAccessKeyId: The AWS Access Key Id you provided does not exist in our records.");
  EXPECT_EQ(s3::describeHttpFailure(404, "<Error><Code>NoSuchKey</Code></Error>"), "HTTP 404 NoSuchKey");
  EXPECT_EQ(s3::describeHttpFailure(503, ""), "HTTP 503 (empty body)");
  EXPECT_EQ(s3::describeHttpFailure(502, "<html>\r\n<h1>Bad Gateway</h1></html>"), "HTTP 502: <html>  <h1>Bad Gateway</h1></html>");
  EXPECT_EQ(s3::describeHttpFailure(500, std::string(1000, 'x')).size(), std::string("HTTP 500: ").size() + 200);
}

// --- Retry rules ----------------------------------------------------------------------------

TEST(S3Retry, OnlyServerErrorsAreRetried) {
  for (int status : {500, 502, 503, 504, 599}) EXPECT_TRUE(s3::isRetryableStatus(status)) << status;
  for (int status : {200, 301, 307, 400, 401, 403, 404, 409, 411, 429, 499, 600}) EXPECT_FALSE(s3::isRetryableStatus(status)) << status;
}

TEST(S3Retry, BackoffDoublesUpToTheCap) {
  S3RetryPolicy policy;
  policy.initialBackoff = 250ms;
  policy.maxBackoff = 3s;
  EXPECT_EQ(s3::backoffAfter(policy, 1), 250ms);
  EXPECT_EQ(s3::backoffAfter(policy, 2), 500ms);
  EXPECT_EQ(s3::backoffAfter(policy, 3), 1000ms);
  EXPECT_EQ(s3::backoffAfter(policy, 4), 2000ms);
  EXPECT_EQ(s3::backoffAfter(policy, 5), 3000ms);
  EXPECT_EQ(s3::backoffAfter(policy, 1000), 3000ms);  // no overflow
  policy.initialBackoff = 5s;
  EXPECT_EQ(s3::backoffAfter(policy, 1), 3000ms);     // the cap wins from the start
}

TEST(S3ContentType, ByExtension) {
  EXPECT_EQ(s3::contentTypeFor("room/recording.ogg"), "audio/ogg");
  EXPECT_EQ(s3::contentTypeFor("a.OPUS"), "audio/ogg");
  EXPECT_EQ(s3::contentTypeFor("a.m4a"), "audio/mp4");
  EXPECT_EQ(s3::contentTypeFor("a.wav"), "audio/wav");
  EXPECT_EQ(s3::contentTypeFor("ogg"), "application/octet-stream");
  EXPECT_EQ(s3::contentTypeFor("a.txt"), "application/octet-stream");
}

// --- uploadFile refusals that need no server ------------------------------------------------

TEST(S3Upload, RefusesBadConfigBeforeSendingAnything) {
  TempFile file("x");
  EXPECT_EQ(uploadFile(config("localhost:4569"), file.path(), "a.ogg").error().code, core::ErrorCode::ValidationFailed);
  auto noKeys = config();
  noKeys.secretKey = "";
  EXPECT_EQ(uploadFile(noKeys, file.path(), "a.ogg").error().code, core::ErrorCode::ValidationFailed);
  auto badRegion = config();
  badRegion.region = "us:east";
  EXPECT_EQ(uploadFile(badRegion, file.path(), "a.ogg").error().code, core::ErrorCode::ValidationFailed);
}

TEST(S3Upload, MissingFileIsNotFound) {
  auto r = uploadFile(config(), "/nonexistent/roomcast.ogg", "a.ogg");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, core::ErrorCode::NotFound);
}

TEST(S3UploadCancel, WaitEndsAtOnceWhenCancelled) {
  UploadCancel cancel;
  EXPECT_FALSE(cancel.waitFor(1ms));
  cancel.cancel();
  EXPECT_TRUE(cancel.cancelled());
  const gint64 start = g_get_monotonic_time();
  EXPECT_TRUE(cancel.waitFor(60s));
  EXPECT_LT(g_get_monotonic_time() - start, 5 * G_USEC_PER_SEC);
}

// --- The main-loop wrapper ------------------------------------------------------------------

TEST(S3Uploader, CompletesOnTheContextThreadInQueueOrder) {
  GMainContext* context = g_main_context_new();
  std::vector<std::string> finished;
  std::vector<GThread*> threads;
  {
    S3Uploader uploader(config(), context);
    for (const char* name : {"one.ogg", "two.ogg", "three.ogg"}) {
      uploader.enqueue(std::string("/nonexistent/") + name, name, [&, name](const core::Result<UploadReport>& r) {
        EXPECT_FALSE(r.ok());
        EXPECT_EQ(r.error().code, core::ErrorCode::NotFound);
        finished.emplace_back(name);
        threads.push_back(g_thread_self());
      });
    }
    EXPECT_TRUE(finished.empty());  // nothing is delivered until the context runs
    ASSERT_TRUE(iterateUntil(context, [&] { return finished.size() == 3; }, 10.0));
  }
  EXPECT_EQ(finished, (std::vector<std::string>{"one.ogg", "two.ogg", "three.ogg"}));
  for (GThread* t : threads) EXPECT_EQ(t, g_thread_self());
  g_main_context_unref(context);
}

TEST(S3Uploader, NoCallbackAfterDestruction) {
  GMainContext* context = g_main_context_new();
  int calls = 0;
  {
    S3Uploader uploader(config(), context);
    for (int i = 0; i < 20; i++)
      uploader.enqueue("/nonexistent/x.ogg", "x.ogg", [&](const core::Result<UploadReport>&) { calls++; });
  }  // destroyed before the context ran once
  while (g_main_context_iteration(context, FALSE)) {}
  EXPECT_EQ(calls, 0);
  g_main_context_unref(context);
}
