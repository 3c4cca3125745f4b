// Network namespaces for tests/integration/test_networks.cpp: a small internet the test builds
// and tears down itself, never touching this host's own interfaces (every link is created
// inside a namespace of the lab).
//
//   server   10.19.0.10 ─┐
//   host     10.19.0.11 ─┤ wan0 (a bridge in "router", 10.19.0.1)
//   listener 10.19.0.12 ─┘
//   home     192.168.19.2 ── lan0 (router, 192.168.19.1): nftables masquerade to wan0;
//                                 with udpBlocked, forwarded UDP from home is dropped
//
// The server's own firewall (nftables, as docs/operating.md's Network table says) lets in TCP to the web
// port and to TURN, UDP to TURN and to the ICE port range (and, with iceTcpOpen, TCP to that
// range), and nothing else.
#pragma once

#include <string>
#include <vector>

namespace roomcast::testing {

struct LabPorts {
  int web = 8080;
  int turn = 3478;
  unsigned iceMin = 40000, iceMax = 40031;
  bool iceTcpOpen = false;  // the server's firewall also opens the ICE range for TCP (ICE-TCP)
};

class NetworkLab {
 public:
  static constexpr const char* kServerAddress = "10.19.0.10";

  NetworkLab(bool udpBlocked, LabPorts ports);
  ~NetworkLab();  // kills what still runs in the lab's namespaces (by PID), deletes them
  NetworkLab(const NetworkLab&) = delete;
  NetworkLab& operator=(const NetworkLab&) = delete;

  bool ready() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  // The namespace's full name ("server", "host", "listener", "home", "router" in this lab).
  std::string ns(const std::string& role) const { return prefix_ + role; }
  // argv prefix that runs a command in that namespace.
  std::vector<std::string> in(const std::string& role) const { return {"ip", "netns", "exec", ns(role)}; }
  // Whether something in `role` listens on TCP `port` (for readiness polls).
  bool listening(const std::string& role, int port) const;

 private:
  bool sh(const std::string& command);  // false (and error_ set) when it fails

  std::string prefix_;
  std::vector<std::string> created_;
  std::string error_;
};

}  // namespace roomcast::testing
