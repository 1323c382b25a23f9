// Placeholder until the owning part lands; see docs/ARCHITECTURE.md.
#include <cstdio>

#include "daemon/commands.h"

namespace vasgd {

int RunImport(const Args&) {
  std::fprintf(stderr, "vasgd import: not built yet\n");
  return 1;
}

}  // namespace vasgd

namespace vasgd {
int RunCheckpoint(const Args&) {
  std::fprintf(stderr, "vasgd checkpoint: not built yet\n");
  return 1;
}
}  // namespace vasgd
