// A WebSocket client for protocol tests: connect, send text, wait for a message that
// matches, each wait bounded by a deadline.
#pragma once

#include <libsoup/soup.h>

#include <cmath>
#include <deque>
#include <functional>
#include <string>

namespace roomcast::testing {

class WsClient {
 public:
  WsClient();
  ~WsClient();
  WsClient(const WsClient&) = delete;
  WsClient& operator=(const WsClient&) = delete;

  // `origin`: the Origin header a browser would send (none by default).
  // `forwardedFor`: an X-Forwarded-For header, as a proxy on this host would add.
  bool connect(const std::string& url, double timeoutSeconds = 10, const std::string& origin = {},
               const std::string& forwardedFor = {});
  void send(const std::string& text);
  // The next received message for which `match` holds (earlier non-matching ones are dropped).
  bool waitFor(const std::function<bool(const std::string&)>& match, std::string& out, double timeoutSeconds = 10);
  bool waitForType(const std::string& type, std::string& out, double timeoutSeconds = 10);
  bool waitClosed(double timeoutSeconds = 10);
  bool isOpen() const;
  gushort closeCode() const;

 private:
  GMainContext* context_;
  SoupSession* session_;
  SoupWebsocketConnection* connection_ = nullptr;
  std::deque<std::string> received_;
  bool closed_ = false;
};

// Reads a string member at a dotted path ("error.code") from a JSON object text; "" if absent.
std::string jsonString(const std::string& json, const std::string& path);
// Path segments may be array indices ("hits.0.speaker").
long long jsonInt(const std::string& json, const std::string& path, long long fallback = -1);
double jsonNumber(const std::string& json, const std::string& path, double fallback = NAN);
bool jsonBool(const std::string& json, const std::string& path, bool fallback = false);
bool jsonIsNull(const std::string& json, const std::string& path);
long long jsonCount(const std::string& json, const std::string& path);  // array length, -1 if none

}  // namespace roomcast::testing
