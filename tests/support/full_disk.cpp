#include "full_disk.h"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <unistd.h>

#include "processes.h"

namespace roomcast::testing {

bool canMountPrivately() {
  const auto r = run({"unshare", "--mount", "--propagation", "private", "sh", "-c",
                      "mount -t tmpfs -o size=1m t /mnt && echo ok"}, 20);
  return r.exitStatus == 0 && r.stdoutText.find("ok") != std::string::npos;
}

size_t fillUp(const std::string& path) {
  const int fd = g_open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return 0;
  const std::string chunk(64 * 1024, 'x');
  size_t written = 0;
  for (;;) {
    const ssize_t n = write(fd, chunk.data(), chunk.size());
    if (n <= 0) break;  // ENOSPC
    written += static_cast<size_t>(n);
  }
  close(fd);
  return written;
}

}  // namespace roomcast::testing
