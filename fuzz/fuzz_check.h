// What the harnesses assert beyond "no crash, no sanitizer report": a broken invariant aborts,
// which libFuzzer records as a crash with its input, and which fails the corpus replay.
#pragma once

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond, what)                                                             \
  do {                                                                                     \
    if (!(cond)) {                                                                         \
      std::fprintf(stderr, "FUZZ_CHECK failed at %s:%d: %s (%s)\n", __FILE__, __LINE__, #cond, \
                   what);                                                                  \
      std::abort();                                                                        \
    }                                                                                      \
  } while (0)
