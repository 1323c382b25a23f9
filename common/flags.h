// Command-line flags of the `vasgd` subcommands: parsing, and the overrides of DESIGN.md that
// every subcommand shares (--config, --data-dir, --listen, --kafka-brokers, --kafka-group, --topics).
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/options.h"
#include "common/status.h"

namespace vasgd {

class Flags {
 public:
  // Parses "--name value", "--name=value" and bare switches listed in `switches`. Every flag must
  // be in `known` or `switches` (the shared config flags are always known); anything else is an
  // InvalidArgument naming it, and so is a flag given twice (the second would silently replace
  // the first: `vasgd eval --set a=1 --set b=2` applied only b).
  static Result<Flags> Parse(const std::vector<std::string>& args, const std::set<std::string>& known,
                             const std::set<std::string>& switches = {});
  // The same without the shared config flags: for programs that load no config (bench/).
  static Result<Flags> ParseOnly(const std::vector<std::string>& args, const std::set<std::string>& known,
                                 const std::set<std::string>& switches = {});

  bool Has(const std::string& name) const { return values_.count(name) > 0; }
  std::string Get(const std::string& name, const std::string& fallback = "") const;
  // InvalidArgument when present but not an integer.
  Result<int64_t> GetInt(const std::string& name, int64_t fallback) const;

 private:
  static Result<Flags> ParseWith(const std::vector<std::string>& args, const std::set<std::string>& known,
                                 const std::set<std::string>& switches, bool shared_config_flags);

  std::map<std::string, std::string> values_;
};

// Defaults, then --config FILE (if given), then the environment's secrets, then the override flags.
Status LoadConfig(const Flags& flags, Config* config);

}  // namespace vasgd
