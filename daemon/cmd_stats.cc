// Placeholder until the owning part lands; see docs/ARCHITECTURE.md.
#include <cstdio>

#include "daemon/commands.h"

namespace vasgd {

int RunStats(const Args&) {
  std::fprintf(stderr, "vasgd stats: not built yet\n");
  return 1;
}

}  // namespace vasgd
