// Flag reading shared by the bench/ programs (BenchArgs): the product's own parser (common/flags.h) without
// the config flags, so an unknown, repeated or value-less flag is refused by name instead of
// silently leaving a default in place (a benchmark run with a mistyped flag measures the wrong
// thing and says nothing).
#pragma once

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "common/flags.h"

namespace vasgd {

class BenchArgs {
 public:
  // Parses argv[first..argc). On a bad flag it prints "<program>: <why>" and `usage` (unless "")
  // to stderr and ok() is false.
  BenchArgs(const char* program, int argc, char** argv, const std::set<std::string>& known, const char* usage,
             int first = 1)
      : program_(program), usage_(usage) {
    Result<Flags> f = Flags::ParseOnly(std::vector<std::string>(argv + first, argv + argc), known);
    if (f.ok()) flags_ = std::move(f).value();
    else Fail(f.status().message());
  }

  bool ok() const { return ok_; }

  // Sets *out from --name when given; a value that is not wholly a number fails the parse.
  template <typename T>
  void Number(const char* name, T* out) {
    if (!ok_ || !flags_.Has(name)) return;
    const std::string v = flags_.Get(name);
    char* end = nullptr;
    errno = 0;
    const double x = std::strtod(v.c_str(), &end);
    if (v.empty() || *end != '\0' || errno != 0) return Fail("--" + std::string(name) + " needs a number, not '" + v + "'");
    *out = static_cast<T>(x);
  }
  // Sets *out from --name when given ("64,128,256").
  void IntList(const char* name, std::vector<int>* out) {
    if (!ok_ || !flags_.Has(name)) return;
    out->clear();
    std::stringstream in(flags_.Get(name));
    for (std::string item; std::getline(in, item, ',');) {
      char* end = nullptr;
      const long x = std::strtol(item.c_str(), &end, 10);
      if (item.empty() || *end != '\0') return Fail("--" + std::string(name) + " needs integers joined by ',', not '" + item + "'");
      out->push_back(static_cast<int>(x));
    }
  }
  void Text(const char* name, std::string* out) {
    if (ok_ && flags_.Has(name)) *out = flags_.Get(name);
  }

 private:
  void Fail(const std::string& why) {
    if (!ok_) return;
    ok_ = false;
    std::fprintf(stderr, "%s: %s\n", program_, why.c_str());
    if (*usage_) std::fprintf(stderr, "%s\n", usage_);
  }

  const char* program_;
  const char* usage_;
  Flags flags_;
  bool ok_ = true;
};

}  // namespace vasgd
