// Runs a fuzz target's entry point over files: its seed corpus and the crash inputs found so
// far (each committed and replayed here, in the normal test suite, under the sanitizers too).
// Usage: replay DIR...   (every regular file in each directory is one input)
#include <dirent.h>
#include <sys/stat.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  int inputs = 0;
  for (int i = 1; i < argc; i++) {
    DIR* dir = opendir(argv[i]);
    if (!dir) {
      std::fprintf(stderr, "replay: cannot open %s\n", argv[i]);
      return 1;
    }
    while (dirent* entry = readdir(dir)) {
      const std::string path = std::string(argv[i]) + "/" + entry->d_name;
      struct stat st {};
      if (entry->d_name[0] == '.' || stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
      std::ifstream in(path, std::ios::binary);
      std::stringstream bytes;
      bytes << in.rdbuf();
      const std::string input = bytes.str();
      LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
      inputs++;
    }
    closedir(dir);
  }
  std::printf("replayed %d inputs\n", inputs);
  return inputs > 0 ? 0 : 1;
}
