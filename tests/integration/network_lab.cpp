#include "network_lab.h"

#include <glib.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>

#include "processes.h"

namespace roomcast::testing {

namespace {
const char* kRoles[] = {"router", "server", "host", "listener", "home"};
}

bool NetworkLab::sh(const std::string& command) {
  if (!error_.empty()) return false;
  const ProcessResult r = run({"sh", "-ec", command}, 30);
  if (r.finished && r.exitStatus == 0) return true;
  error_ = "lab set-up failed: " + command + "\n" + r.stderrText;
  return false;
}

NetworkLab::NetworkLab(bool udpBlocked, LabPorts ports) {
  // Unique per process: two runs on one machine never share a namespace.
  prefix_ = "rc19-" + std::to_string(getpid()) + "-";
  for (const char* role : kRoles) {
    if (!sh("ip netns add " + ns(role))) return;
    created_.push_back(ns(role));
    sh("ip -n " + ns(role) + " link set lo up");
  }
  const std::string r = "ip -n " + ns("router") + " ";
  sh(r + "link add wan0 type bridge && " + r + "addr add 10.19.0.1/24 dev wan0 && " + r + "link set wan0 up");
  const struct { const char* role; const char* address; } wan[] = {
      {"server", "10.19.0.10"}, {"host", "10.19.0.11"}, {"listener", "10.19.0.12"}};
  for (const auto& w : wan) {
    const std::string port = std::string("to-") + w.role;
    const std::string n = "ip -n " + ns(w.role) + " ";
    sh(r + "link add " + port + " type veth peer name eth0 netns " + ns(w.role) + " && " + r + "link set " + port +
       " master wan0 up && " + n + "addr add " + w.address + "/24 dev eth0 && " + n + "link set eth0 up && " + n +
       "route add default via 10.19.0.1");
  }
  const std::string h = "ip -n " + ns("home") + " ";
  sh(r + "link add lan0 type veth peer name eth0 netns " + ns("home") + " && " + r +
     "addr add 192.168.19.1/24 dev lan0 && " + r + "link set lan0 up && " + h +
     "addr add 192.168.19.2/24 dev eth0 && " + h + "link set eth0 up && " + h + "route add default via 192.168.19.1");
  sh("ip netns exec " + ns("router") + " sysctl -qw net.ipv4.ip_forward=1");
  // The home router: masquerade (a NAT like a home gateway's); optionally no UDP out at all.
  std::string router =
      "table ip nat {\n chain postrouting {\n  type nat hook postrouting priority 100\n"
      "  ip saddr 192.168.19.0/24 oifname \"wan0\" masquerade\n }\n}\n";
  // Like a home gateway: nothing from outside reaches home unless home started it; with
  // udpBlocked, no UDP from home leaves at all.
  router += "table inet filter {\n chain forward {\n  type filter hook forward priority 0\n"
            "  iifname \"wan0\" oifname \"lan0\" ct state new drop\n";
  if (udpBlocked) router += "  iifname \"lan0\" meta l4proto udp drop\n";
  router += " }\n}\n";
  // The server's firewall: exactly docs/operating.md's table.
  const std::string server =
      "table inet filter {\n chain input {\n  type filter hook input priority 0; policy drop\n"
      "  ct state established,related accept\n  iifname \"lo\" accept\n  meta l4proto icmp accept\n"
      "  tcp dport { " + std::to_string(ports.web) + ", " + std::to_string(ports.turn) + " } accept\n"
      "  udp dport " + std::to_string(ports.turn) + " accept\n"
      "  udp dport " + std::to_string(ports.iceMin) + "-" + std::to_string(ports.iceMax) + " accept\n" +
      (ports.iceTcpOpen ? "  tcp dport " + std::to_string(ports.iceMin) + "-" + std::to_string(ports.iceMax) + " accept\n"
                        : std::string()) +
      " }\n}\n";
  const std::string dir = makeTempDir("roomcast-lab");
  const std::string routerRules = dir + "/router.nft", serverRules = dir + "/server.nft";
  g_file_set_contents(routerRules.c_str(), router.c_str(), -1, nullptr);
  g_file_set_contents(serverRules.c_str(), server.c_str(), -1, nullptr);
  sh("ip netns exec " + ns("router") + " nft -f " + routerRules);
  sh("ip netns exec " + ns("server") + " nft -f " + serverRules);
  removeTempDir(dir);
}

bool NetworkLab::listening(const std::string& role, int port) const {
  const ProcessResult r = run({"ip", "netns", "exec", ns(role), "ss", "-Hltn", "sport = :" + std::to_string(port)}, 10);
  return r.finished && r.exitStatus == 0 && r.stdoutText.find("LISTEN") != std::string::npos;
}

NetworkLab::~NetworkLab() {
  // Whatever a failed test left running in the lab was started by this test: end it by PID.
  for (const auto& name : created_) {
    const ProcessResult pids = run({"ip", "netns", "pids", name}, 10);
    g_auto(GStrv) lines = g_strsplit(pids.stdoutText.c_str(), "\n", -1);
    for (char** l = lines; *l; l++)
      if (const long pid = strtol(*l, nullptr, 10); pid > 1) ::kill(static_cast<pid_t>(pid), SIGKILL);
  }
  for (const auto& name : created_) run({"ip", "netns", "del", name}, 10);
}

}  // namespace roomcast::testing
