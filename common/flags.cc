#include "common/flags.h"

#include <stdexcept>

#include "common/config_file.h"

namespace vasgd {
namespace {

const std::set<std::string>& SharedFlags() {
  static const std::set<std::string> shared = {"config", "data-dir", "listen", "kafka-brokers",
                                               "kafka-group", "topics"};
  return shared;
}

std::vector<std::string> SplitComma(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(',', start);
    if (end == std::string::npos) end = s.size();
    if (end > start) out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

}  // namespace

Result<Flags> Flags::Parse(const std::vector<std::string>& args, const std::set<std::string>& known,
                           const std::set<std::string>& switches) {
  return ParseWith(args, known, switches, true);
}

Result<Flags> Flags::ParseOnly(const std::vector<std::string>& args, const std::set<std::string>& known,
                               const std::set<std::string>& switches) {
  return ParseWith(args, known, switches, false);
}

Result<Flags> Flags::ParseWith(const std::vector<std::string>& args, const std::set<std::string>& known,
                               const std::set<std::string>& switches, bool shared_config_flags) {
  Flags flags;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.rfind("--", 0) != 0 || a.size() == 2) {
      return Status::InvalidArgument("unexpected argument '" + a + "'");
    }
    std::string name = a.substr(2);
    std::string value;
    bool has_value = false;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    if (flags.values_.count(name)) {
      return Status::InvalidArgument("--" + name + " given twice (give it once" +
                                     (name == "set" ? std::string(": join settings with ';')") : std::string(")")));
    }
    if (switches.count(name)) {
      if (has_value) return Status::InvalidArgument("--" + name + " takes no value");
      flags.values_[name] = "true";
      continue;
    }
    if (!known.count(name) && !(shared_config_flags && SharedFlags().count(name))) {
      return Status::InvalidArgument("unknown flag --" + name);
    }
    if (!has_value) {
      if (i + 1 >= args.size()) return Status::InvalidArgument("--" + name + " needs a value");
      value = args[++i];
    }
    flags.values_[name] = value;
  }
  return flags;
}

std::string Flags::Get(const std::string& name, const std::string& fallback) const {
  auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second;
}

Result<int64_t> Flags::GetInt(const std::string& name, int64_t fallback) const {
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  try {
    size_t used = 0;
    int64_t v = std::stoll(it->second, &used);
    if (used != it->second.size()) throw std::invalid_argument(name);
    return v;
  } catch (const std::exception&) {
    return Status::InvalidArgument("--" + name + " must be an integer, got '" + it->second + "'");
  }
}

Status LoadConfig(const Flags& flags, Config* config) {
  if (flags.Has("config")) VASGD_RETURN_IF_ERROR(LoadConfigFile(flags.Get("config"), config));
  ApplyEnvironment(config);
  if (flags.Has("data-dir")) config->store.data_dir = flags.Get("data-dir");
  if (flags.Has("listen")) config->http.listen = flags.Get("listen");
  if (flags.Has("kafka-brokers")) config->kafka.brokers = flags.Get("kafka-brokers");
  if (flags.Has("kafka-group")) config->kafka.group = flags.Get("kafka-group");
  if (flags.Has("topics")) config->kafka.topics = SplitComma(flags.Get("topics"));
  return ValidateConfig(*config);
}

}  // namespace vasgd
