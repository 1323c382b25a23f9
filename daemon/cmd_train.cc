// Placeholder until the owning part lands; see docs/ARCHITECTURE.md.
#include <cstdio>

#include "daemon/commands.h"

namespace vasgd {

int RunTrain(const Args&) {
  std::fprintf(stderr, "vasgd train: not built yet\n");
  return 1;
}

}  // namespace vasgd
