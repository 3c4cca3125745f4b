// Prints docs/protocol.md's generated field limits (message_reference.h), or with
// `--update FILE` rewrites that block in FILE: what `ninja -C build protocol-doc` runs.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "protocol/message_reference.h"

int main(int argc, char** argv) {
  using namespace roomcast::protocol;
  if (argc == 1) {
    std::cout << fieldLimitsReference();
    return 0;
  }
  if (argc != 3 || std::string(argv[1]) != "--update") {
    std::cerr << "usage: " << argv[0] << " [--update docs/protocol.md]\n";
    return 2;
  }
  std::stringstream text;
  text << std::ifstream(argv[2], std::ios::binary).rdbuf();
  const auto updated = withFieldLimitsReference(text.str());
  if (!updated) {
    std::cerr << argv[2] << " lacks the generated block's marker lines:\n"
              << kReferenceBegin << "\n"
              << kReferenceEnd << "\n";
    return 1;
  }
  if (*updated == text.str()) return 0;
  std::ofstream(argv[2], std::ios::binary | std::ios::trunc) << *updated;
  std::cout << "updated " << argv[2] << "\n";
  return 0;
}
