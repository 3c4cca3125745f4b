// The soak benchmark's cheap, ordinary traffic, driven from one thread with epoll and
// non-blocking sockets: REST clients that send one to three keep-alive requests and then close
// their side, and WebSocket clients that upgrade and never say hello. Client sockets are bound
// to several loopback source addresses (127.0.0.2 ...) so that tens of thousands of short
// connections do not run out of local ports. Every phase has a deadline.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace roomcast::bench::soak {

struct Target {
  int port = 0;             // roomcastd on 127.0.0.1:port
  int sourceAddresses = 8;  // clients bind to 127.0.0.2 .. 127.0.0.(1+K)
};

struct RestLoadOptions {
  long requests = 100000;
  int concurrency = 32;            // connections open at once
  int maxRequestsPerConnection = 3;  // connection i sends 1 + i % max requests, then closes
  std::vector<std::string> paths;  // taken in turn
  double requestTimeout = 15;      // s, per request (connect included)
  double timeout = 600;            // s, the whole phase
  double stallTimeout = 30;        // s without a single answer ends the phase (a server that stopped serving)
};

struct RestLoadResult {
  long sent = 0;         // requests written
  long answered = 0;     // complete responses read
  long connections = 0;  // connections opened
  long connectFailures = 0;
  long closedEarly = 0;  // the server closed (or reset) before a complete response
  long timedOut = 0;     // no complete response within requestTimeout
  long serverClosedAfterResponse = 0;  // responses with Connection: close
  bool phaseTimedOut = false;
  bool stalled = false;  // ended early: no answer for stallTimeout
  double seconds = 0;
  std::map<int, long> statuses;  // HTTP status -> count
  std::map<std::string, long> failures;  // errno text -> count
  long errors() const { return connectFailures + closedEarly + timedOut; }
};

RestLoadResult runRestLoad(const Target& target, const RestLoadOptions& options);

struct SilentWsOptions {
  std::string path;        // /ws/<room>
  long connections = 20000;
  int batch = 2000;        // open at once; a batch is upgraded, held, then closed
  int inFlight = 64;       // upgrades in progress at once
  double holdMax = 15;     // s a batch is held after its last upgrade, unless the server closes all first
  double upgradeTimeout = 15;  // s per upgrade
  double timeout = 900;        // s, the whole phase
  double stallTimeout = 30;    // s without a single answer to an upgrade ends the phase
};

struct SilentWsResult {
  long attempted = 0;
  long upgraded = 0;        // 101 Switching Protocols
  long refused = 0;         // another status
  long connectFailures = 0; // connect, reset or close before the upgrade's answer
  long timedOut = 0;        // no answer to the upgrade in time
  long closedByServer = 0;  // upgraded, then closed by the server while we held it
  long closedByUs = 0;      // still open at the end of the hold
  bool phaseTimedOut = false;
  bool stalled = false;     // ended early: no upgrade answered for stallTimeout
  double seconds = 0;
  std::vector<double> serverCloseAfter;  // s from the upgrade's answer to the server's close
  std::map<int, long> statuses;
  std::map<std::string, long> failures;
  long errors() const { return refused + connectFailures + timedOut; }
};

SilentWsResult runSilentWebSockets(const Target& target, const SilentWsOptions& options);

}  // namespace roomcast::bench::soak
