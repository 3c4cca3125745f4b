// roomcastd's REST API as the benchmarks' setup uses it (rooms, tokens, listening sessions):
// blocking requests over one keep-alive libsoup session, so issuing thousands of tokens does
// not open thousands of connections. Not for timed paths: each benchmark's load generator
// speaks HTTP itself.
#pragma once

#include <glib.h>

#include <string>

typedef struct _SoupSession SoupSession;

namespace roomcast::bench {

class RestClient {
 public:
  struct Reply {
    int status = 0;     // 0: no answer (then `error` says why)
    std::string body;
    std::string error;
  };
  // baseUrl: http://127.0.0.1:PORT. A request that takes longer than timeoutSeconds fails.
  explicit RestClient(std::string baseUrl, unsigned timeoutSeconds = 30);
  ~RestClient();
  RestClient(const RestClient&) = delete;
  RestClient& operator=(const RestClient&) = delete;

  Reply request(const char* method, const std::string& path, const std::string& body = {},
                const std::string& bearer = {});

 private:
  std::string baseUrl_;
  SoupSession* session_ = nullptr;
};

// A string member at a dotted path ("you.identity") of a JSON object text; "" if absent. An
// integer there goes to *intOut instead, when given.
std::string jsonMember(const std::string& text, const std::string& path, gint64* intOut = nullptr);

}  // namespace roomcast::bench
