#include "tcp_forwarder.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <utility>
#include <vector>

namespace roomcast::testing {

namespace {

sockaddr_in loopback(int port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

void closeBoth(std::pair<int, int>& link) {
  shutdown(link.first, SHUT_RDWR);
  shutdown(link.second, SHUT_RDWR);
  close(link.first);
  close(link.second);
}

// Everything readable on `from` now, written to `to`; false when `from` ended or failed.
bool pass(int from, int to) {
  char buffer[16384];
  const ssize_t n = read(from, buffer, sizeof buffer);
  if (n <= 0) return false;
  for (ssize_t sent = 0; sent < n;) {
    const ssize_t w = write(to, buffer + sent, static_cast<size_t>(n - sent));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    sent += w;
  }
  return true;
}

}  // namespace

TcpForwarder::TcpForwarder(int targetPort) : targetPort_(targetPort) {
  if (pipe2(wake_, O_CLOEXEC) != 0) return;
  listenFd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address = loopback(0);
  socklen_t length = sizeof address;
  if (listenFd_ < 0 || bind(listenFd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      listen(listenFd_, 64) != 0 || getsockname(listenFd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    if (listenFd_ >= 0) close(listenFd_);
    listenFd_ = -1;
    return;
  }
  port_ = ntohs(address.sin_port);
  thread_ = std::thread([this] { run(); });
}

TcpForwarder::~TcpForwarder() {
  quit_ = true;
  if (wake_[1] >= 0) (void)!write(wake_[1], "q", 1);
  if (thread_.joinable()) thread_.join();
  if (listenFd_ >= 0) close(listenFd_);
  for (int fd : wake_)
    if (fd >= 0) close(fd);
}

int TcpForwarder::cut() { return request(Request::Cut); }
int TcpForwarder::shutDown() { return request(Request::ShutDown); }

int TcpForwarder::request(Request what) {
  if (!thread_.joinable()) return -1;
  std::unique_lock lock(mutex_);
  pending_ = what;
  lastClosed_ = -1;
  (void)!write(wake_[1], "r", 1);
  // The thread answers within one turn of its poll loop.
  done_.wait_for(lock, std::chrono::seconds(5), [this] { return lastClosed_ >= 0; });
  return lastClosed_;
}

void TcpForwarder::run() {
  std::vector<std::pair<int, int>> links;  // (client, target)
  while (!quit_) {
    std::vector<pollfd> fds{{wake_[0], POLLIN, 0}, {listenFd_, static_cast<short>(listenFd_ >= 0 ? POLLIN : 0), 0}};
    for (const auto& [client, target] : links) {
      fds.push_back({client, POLLIN, 0});
      fds.push_back({target, POLLIN, 0});
    }
    if (poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) break;
    if (fds[0].revents) {
      char drained[16];
      (void)!read(wake_[0], drained, sizeof drained);
      std::lock_guard lock(mutex_);
      if (pending_ != Request::None) {
        const int closed = static_cast<int>(links.size());
        for (auto& link : links) closeBoth(link);
        links.clear();
        if (pending_ == Request::ShutDown && listenFd_ >= 0) {
          close(listenFd_);
          listenFd_ = -1;
        }
        pending_ = Request::None;
        lastClosed_ = closed;
        done_.notify_all();
      }
      continue;  // the descriptors polled may be closed now
    }
    std::vector<size_t> ended;
    for (size_t i = 0; i < links.size(); i++) {
      const pollfd& client = fds[2 + 2 * i];
      const pollfd& target = fds[3 + 2 * i];
      bool alive = true;
      if (client.revents) alive = pass(links[i].first, links[i].second);
      if (alive && target.revents) alive = pass(links[i].second, links[i].first);
      if (!alive) ended.push_back(i);
    }
    for (auto it = ended.rbegin(); it != ended.rend(); ++it) {
      closeBoth(links[*it]);
      links.erase(links.begin() + static_cast<long>(*it));
    }
    if (listenFd_ >= 0 && fds[1].revents & POLLIN) {
      const int client = accept4(listenFd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) continue;
      accepted_++;
      const int target = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in address = loopback(targetPort_);
      if (target < 0 || connect(target, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
        close(client);
        if (target >= 0) close(target);
        continue;
      }
      links.emplace_back(client, target);
    }
  }
  for (auto& link : links) closeBoth(link);
}

}  // namespace roomcast::testing
