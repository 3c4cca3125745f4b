// Recording files (/recordings/*.ogg) as a player fetches them: from the file's descriptor in
// chunks, off the control thread. Byte ranges of a 200 MB file cost no memory, a download in
// progress does not hold up the API, a client that goes mid-download frees its descriptor,
// and every range answers with the right bytes.
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "loopback_socket.h"
#include "processes.h"
#include "room_helpers.h"
#include "wait.h"

using namespace roomcast::testing;

namespace {

constexpr off_t kBigFile = 200ll << 20;

struct RawResponse {
  int status = 0;
  std::string head;
  std::string body;
  double seconds = 0;  // from sending the request to the end of the answer
};

// Sends a request with "Connection: close" and reads the answer to its end.
RawResponse fetch(int port, const std::string& path, const std::string& extraHeaders = "", double timeout = 60) {
  RawResponse r;
  const double start = nowSeconds();
  const int fd = connectLoopback(port, static_cast<int>(timeout));
  if (fd < 0) return r;
  const std::string request =
      "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extraHeaders + "Connection: close\r\n\r\n";
  if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
    close(fd);
    return r;
  }
  std::string all;
  char buffer[65536];
  for (ssize_t n; (n = recv(fd, buffer, sizeof buffer, 0)) > 0;) all.append(buffer, static_cast<size_t>(n));
  close(fd);
  r.seconds = nowSeconds() - start;
  const size_t split = all.find("\r\n\r\n");
  if (split == std::string::npos || all.size() < 12) return r;
  r.status = std::atoi(all.substr(9, 3).c_str());
  r.head = all.substr(0, split);
  r.body = all.substr(split + 4);
  return r;
}

long statusKb(int pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind(field + ":", 0) == 0) return std::atol(line.c_str() + field.size() + 1);
  return -1;
}

int openFds(int pid) {
  int n = 0;
  if (DIR* dir = opendir(("/proc/" + std::to_string(pid) + "/fd").c_str())) {
    while (readdir(dir)) n++;
    closedir(dir);
  }
  return n - 2;
}

// A large file that takes no disk space: a hole of `size` bytes.
bool makeSparseFile(const std::string& path, off_t size) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  const bool ok = fd >= 0 && ftruncate(fd, size) == 0;
  if (fd >= 0) close(fd);
  return ok;
}

class RecordingFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(daemon.ready()) << daemon.log();
    dir = daemon.dataDir() + "/recordings";
    ASSERT_EQ(g_mkdir_with_parents(dir.c_str(), 0700), 0);
    port = portOfUrl(daemon.url());
  }
  Daemon daemon;
  std::string dir;
  int port = 0;
};

}  // namespace

// The old server read the whole file into memory for each request, ranges included: four
// one-byte ranges of 200 MB took 436 MB of RSS.
TEST_F(RecordingFiles, ParallelOneByteRangesOfALargeFileCostNoMemory) {
  ASSERT_TRUE(makeSparseFile(dir + "/big.ogg", kBigFile));
  ASSERT_EQ(fetch(port, "/recordings/big.ogg", "Range: bytes=0-0\r\n").status, 206);  // warm up the code path
  const long baseline = statusKb(daemon.pid(), "VmRSS");
  ASSERT_GT(baseline, 0);
  // Measure the peak from here on (writing 5 to clear_refs resets VmHWM to the current RSS).
  const bool peakReset = static_cast<bool>(std::ofstream("/proc/" + std::to_string(daemon.pid()) + "/clear_refs") << "5");
  std::vector<std::future<RawResponse>> requests;
  for (int i = 0; i < 4; i++)
    requests.push_back(std::async(std::launch::async, [this] { return fetch(port, "/recordings/big.ogg", "Range: bytes=0-0\r\n"); }));
  for (auto& request : requests) {
    RawResponse r = request.get();
    EXPECT_EQ(r.status, 206) << r.head;
    EXPECT_EQ(r.body, std::string(1, '\0'));
    EXPECT_NE(r.head.find("Content-Range: bytes 0-0/" + std::to_string(kBigFile)), std::string::npos) << r.head;
    EXPECT_LT(r.seconds, 10) << "a one-byte range answers at once";
    RecordProperty("range_seconds", std::to_string(r.seconds));
  }
  const long peak = peakReset ? statusKb(daemon.pid(), "VmHWM") : statusKb(daemon.pid(), "VmRSS");
  const long growthKb = peak - baseline;
  RecordProperty("rss_growth_kb", std::to_string(growthKb));
  std::printf("RSS %ld kB before, peak %ld kB during 4 parallel ranges (peak %s)\n", baseline, peak,
              peakReset ? "from VmHWM" : "not measurable: RSS after");
  EXPECT_LT(growthKb, 8 * 1024) << "four one-byte ranges must not read the 200 MB file";
}

// A download in progress is fed from a worker thread: the API keeps answering, and a client
// that goes mid-download takes its file descriptor with it.
TEST_F(RecordingFiles, ApiAnswersWhileLargeFilesDownloadAndClosedDownloadsFreeTheirFile) {
  ASSERT_TRUE(makeSparseFile(dir + "/big.ogg", kBigFile));
  ASSERT_EQ(http("GET", daemon.url() + "/api/v1/health").status, 200);
  const int fdsBefore = openFds(daemon.pid());

  // Three downloads of the whole file, read slowly (a player on a slow link).
  std::vector<int> downloads;
  for (int i = 0; i < 3; i++) {
    const int fd = connectLoopback(port, 30);
    ASSERT_GE(fd, 0);
    const std::string request = "GET /recordings/big.ogg HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    ASSERT_EQ(send(fd, request.data(), request.size(), MSG_NOSIGNAL), static_cast<ssize_t>(request.size()));
    downloads.push_back(fd);
  }
  // The API, meanwhile: each health check answers promptly.
  double slowest = 0;
  for (int i = 0; i < 10; i++) {
    const double start = nowSeconds();
    ASSERT_EQ(fetch(port, "/api/v1/health").status, 200);
    slowest = std::max(slowest, nowSeconds() - start);
  }
  RecordProperty("slowest_health_seconds", std::to_string(slowest));
  std::printf("slowest of 10 health checks during 3 downloads of 200 MB: %.3f s\n", slowest);
  EXPECT_LT(slowest, 1.0) << "the control thread must not read the file";

  // Each download is under way: headers, then body bytes as they are read.
  for (int fd : downloads) {
    std::string got;
    char buffer[65536];
    while (got.size() < (1u << 20)) {
      const ssize_t n = recv(fd, buffer, sizeof buffer, 0);
      ASSERT_GT(n, 0) << "the download stalled";
      got.append(buffer, static_cast<size_t>(n));
    }
    EXPECT_EQ(got.rfind("HTTP/1.1 200", 0), 0u) << got.substr(0, 200);
    EXPECT_NE(got.find("Content-Length: " + std::to_string(kBigFile)), std::string::npos);
  }
  for (int fd : downloads) close(fd);
  // The clients went: their connections and open files go too.
  EXPECT_TRUE(pollUntil([&] { return openFds(daemon.pid()) <= fdsBefore; }, 30))
      << openFds(daemon.pid()) << " fds, " << fdsBefore << " before the downloads";
  EXPECT_EQ(http("GET", daemon.url() + "/api/v1/health").status, 200);
}

TEST_F(RecordingFiles, RangesAndValidatorsAnswerWithTheRightBytes) {
  // Not a multiple of the chunk size, bytes that differ everywhere.
  std::string content(1'000'123, '\0');
  uint32_t x = 12345;
  for (char& c : content) {
    x = x * 1103515245u + 12345u;
    c = static_cast<char>(x >> 24);
  }
  ASSERT_TRUE(g_file_set_contents((dir + "/talk.ogg").c_str(), content.data(), static_cast<gssize>(content.size()), nullptr));
  const std::string total = std::to_string(content.size());

  auto whole = fetch(port, "/recordings/talk.ogg");
  EXPECT_EQ(whole.status, 200);
  EXPECT_TRUE(whole.body == content) << "the whole file, " << whole.body.size() << " of " << content.size() << " bytes";
  EXPECT_NE(whole.head.find("Content-Type: audio/ogg"), std::string::npos) << whole.head;
  EXPECT_NE(whole.head.find("Accept-Ranges: bytes"), std::string::npos);

  struct Case {
    const char* range;
    size_t from, length;
  };
  for (const Case& c : {Case{"bytes=0-0", 0, 1}, Case{"bytes=100-199", 100, 100}, Case{"bytes=-10", content.size() - 10, 10},
                        Case{"bytes=999000-", 999000, content.size() - 999000},
                        Case{"bytes=65530-131080", 65530, 65551}, Case{"bytes=1000000-2000000", 1000000, 123}}) {
    auto part = fetch(port, "/recordings/talk.ogg", std::string("Range: ") + c.range + "\r\n");
    EXPECT_EQ(part.status, 206) << c.range;
    EXPECT_TRUE(part.body == content.substr(c.from, c.length)) << c.range << ": " << part.body.size() << " bytes";
    const std::string expected = "Content-Range: bytes " + std::to_string(c.from) + "-" +
                                 std::to_string(c.from + c.length - 1) + "/" + total;
    EXPECT_NE(part.head.find(expected), std::string::npos) << c.range << "\n" << part.head;
  }
  auto beyond = fetch(port, "/recordings/talk.ogg", "Range: bytes=2000000-\r\n");
  EXPECT_EQ(beyond.status, 416);
  EXPECT_NE(beyond.head.find("Content-Range: bytes */" + total), std::string::npos) << beyond.head;
  EXPECT_TRUE(beyond.body.empty());
  auto reversed = fetch(port, "/recordings/talk.ogg", "Range: bytes=500-400\r\n");
  EXPECT_EQ(reversed.status, 200) << "a range we do not understand gets the whole file";
  EXPECT_EQ(reversed.body.size(), content.size());

  auto head = http("HEAD", daemon.url() + "/recordings/talk.ogg");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.header("Content-Length"), total);
  EXPECT_TRUE(head.body.empty());
  const std::string etag = head.header("ETag");
  ASSERT_FALSE(etag.empty());
  EXPECT_EQ(http("GET", daemon.url() + "/recordings/talk.ogg", "", {{"If-None-Match", etag}}).status, 304);
  EXPECT_EQ(http("GET", daemon.url() + "/recordings/missing.ogg").status, 404);
  const int traversal = http("GET", daemon.url() + "/recordings/..%2Froomcast.db").status;
  EXPECT_TRUE(traversal == 400 || traversal == 404) << traversal;
  EXPECT_EQ(http("GET", daemon.url() + "/api/v1/health").status, 200);
}
