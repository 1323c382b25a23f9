// `vasgd eval`: the paper's experiments on a dataset directory, beside the baselines.
//
//   vasgd eval --data DIR --out report.json [--seeds 5] [--methods a,b] [--device cpu|cuda]
//              [--config F] [--set 'train.dim=64;train.window=3'] [--sweep train.dim=16,32,64]
//              [--plots DIR] [--markdown FILE] [--k 20] [--threads N] [--first-seed 1]
//              [--analogy-queries N] [--cosine-pairs N] [--dump-embeddings DIR]
//
// --dump-embeddings writes the first seed's user and product vectors of every method with a
// shared space as DIR/<method>_users.npy and DIR/<method>_products.npy (float32), for analysis.
// --split val scores the validation pairs instead of the test pairs (for choosing settings
// without looking at test); the validation pairs then also serve where validation is used.
// --data synthetic evaluates on the planted shop of model/synthetic.h instead of a directory.
// Prints the markdown table on stdout and writes the JSON report to --out.
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

#include "eval/cli.h"

#include "common/config_file.h"
#include "common/flags.h"
#include "common/log.h"
#include "eval/plots.h"
#include "eval/report.h"
#include "eval/runner.h"
#include "model/npy.h"
#include "model/synthetic.h"

namespace vasgd {

namespace {

constexpr const char* kUsage =
    "usage: vasgd eval --data DIR|synthetic [--out report.json] [--seeds 5] [--methods a,b]\n"
    "                  [--device cpu|cuda] [--config F] [--set 'train.key=value;vbpr.key=value;...']\n"
    "                  [--sweep KEY=v1,v2,...] [--plots DIR] [--plot-prefix NAME]\n"
    "                  [--markdown FILE] [--k 20] [--threads N] [--first-seed 1]\n"
    "                  [--analogy-queries N] [--cosine-pairs N] [--dump-embeddings DIR]\n"
    "                  [--split test|val]\n"
    "methods: RAND, POP, WBOI, WBOI-z, VBPR, SkipGram, VASG-paper, VASG, VASG+pop, RP3b, ItemKNN, EASE,\n"
    "         Hybrid (default: all)\n";

int BadUsage(const std::string& message) {
  std::fprintf(stderr, "vasgd eval: %s\n%s", message.c_str(), kUsage);
  return 2;
}

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in(s);
  while (std::getline(in, item, sep)) {
    const size_t a = item.find_first_not_of(" \t"), b = item.find_last_not_of(" \t");
    if (a != std::string::npos) out.push_back(item.substr(a, b - a + 1));
  }
  return out;
}

// A command-line value as TOML: numbers, booleans, arrays and quoted strings as they are, any
// other word quoted (so --set train.score=dot works).
std::string TomlValue(const std::string& v) {
  if (v == "true" || v == "false" || v.empty() || v[0] == '[' || v[0] == '"') return v;
  char* end = nullptr;
  std::strtod(v.c_str(), &end);
  return (end != v.c_str() && *end == '\0') ? v : "\"" + v + "\"";
}

// One "vbpr.key=value" setting over *o.
Status ApplyVbprSetting(const std::string& key, const std::string& value, VbprOptions* o) {
  char* end = nullptr;
  const double v = std::strtod(value.c_str(), &end);
  if (end == value.c_str() || *end != '\0') return Status::InvalidArgument(key + " needs a number, got '" + value + "'");
  if (key == "vbpr.latent_dim") o->latent_dim = static_cast<int32_t>(v);
  else if (key == "vbpr.visual_dim") o->visual_dim = static_cast<int32_t>(v);
  else if (key == "vbpr.epochs") o->epochs = static_cast<int32_t>(v);
  else if (key == "vbpr.batch_size") o->batch_size = static_cast<int32_t>(v);
  else if (key == "vbpr.learning_rate") o->learning_rate = v;
  else if (key == "vbpr.l2") o->l2 = v;
  else if (key == "vbpr.validate_every") o->validate_every = static_cast<int32_t>(v);
  else return Status::InvalidArgument("unknown setting " + key);
  if (o->latent_dim < 0 || o->visual_dim < 0 || o->epochs < 1 || o->batch_size < 1 || o->learning_rate <= 0 || o->l2 < 0) {
    return Status::InvalidArgument(key + "=" + value + " is out of range");
  }
  return Status::Ok();
}

// "train.dim=64;train.window=3;vbpr.l2=0.01": train.* over *config as TOML dotted keys (so the
// config loader checks names and types), vbpr.* over *vbpr.
// A key given twice takes its last value.
Status ApplySettings(const std::string& settings, Config* config, VbprOptions* vbpr) {
  std::map<std::string, std::string> train;
  for (const std::string& kv : Split(settings, ';')) {
    const size_t eq = kv.find('=');
    if (eq == std::string::npos) return Status::InvalidArgument("settings take key=value, got '" + kv + "'");
    const std::string key = kv.substr(0, eq), value = kv.substr(eq + 1);
    if (key.compare(0, 5, "vbpr.") == 0) {
      VASGD_RETURN_IF_ERROR(ApplyVbprSetting(key, value, vbpr));
    } else if (key.compare(0, 6, "train.") == 0 || key.compare(0, 11, "neighbours.") == 0 ||
               key.compare(0, 7, "hybrid.") == 0 || key.compare(0, 8, "retrain.") == 0) {
      train[key] = value;
    } else {
      return Status::InvalidArgument("settings are train.*, neighbours.*, hybrid.*, retrain.* or vbpr.* key=value, got '" +
                                     kv + "'");
    }
  }
  std::string toml;
  for (const auto& [key, value] : train) toml += key + " = " + TomlValue(value) + "\n";
  return LoadConfigText(toml, config);
}

Status WriteFile(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::trunc);
  f << text;
  f.close();
  return f ? Status::Ok() : Status::IoError("cannot write " + path);
}

Result<EvalData> LoadData(const std::string& data) {
  if (data == "synthetic") return EvalDataFromShop(MakeSyntheticShop(SyntheticShopOptions()));
  int64_t rejected = 0;
  return LoadEvalData(data, &rejected);
}

}  // namespace

int RunEval(const std::vector<std::string>& args) {
  const std::set<std::string> known = {"data", "out", "seeds", "methods", "device", "set", "sweep", "plots",
                                       "plot-prefix", "markdown", "k", "threads", "first-seed",
                                       "analogy-queries", "cosine-pairs", "dump-embeddings", "split"};
  Result<Flags> parsed = Flags::Parse(args, known, {"help"});
  if (!parsed.ok()) return BadUsage(parsed.status().message());
  const Flags& flags = *parsed;
  if (flags.Has("help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (!flags.Has("data")) return BadUsage("--data is required");
  Config config;
  EvalOptions options;
  Status st = LoadConfig(flags, &config);
  if (st.ok() && flags.Has("set")) st = ApplySettings(flags.Get("set"), &config, &options.vbpr);
  if (!st.ok()) return BadUsage(st.message());
  ConfigureLogging(config.log);
  options.train = config.train;
  options.neighbours = config.neighbours;
  options.hybrid = config.hybrid;
  options.retrain = config.retrain;
  struct IntFlag {
    const char* name;
    int64_t min;
    int64_t* out;
  };
  int64_t seeds = options.seeds, k = options.ranking.k, threads = options.threads, first_seed = options.first_seed,
          queries = options.analogy.queries, pairs = options.cosine_pairs;
  for (const IntFlag& f : {IntFlag{"seeds", 1, &seeds}, IntFlag{"k", 1, &k}, IntFlag{"threads", 0, &threads},
                           IntFlag{"first-seed", 0, &first_seed},
                           IntFlag{"analogy-queries", 0, &queries}, IntFlag{"cosine-pairs", 0, &pairs}}) {
    Result<int64_t> v = flags.GetInt(f.name, *f.out);
    if (!v.ok()) return BadUsage(v.status().message());
    if (*v < f.min) return BadUsage("--" + std::string(f.name) + " must be >= " + std::to_string(f.min));
    *f.out = *v;
  }
  options.seeds = static_cast<int32_t>(seeds);
  options.ranking.k = static_cast<int32_t>(k);
  options.threads = options.ranking.threads = static_cast<int32_t>(threads);
  options.first_seed = static_cast<uint64_t>(first_seed);
  options.analogy.queries = static_cast<int32_t>(queries);
  options.cosine_pairs = pairs;
  options.device = flags.Get("device", "cpu");
  if (options.device != "cpu" && options.device != "cuda") return BadUsage("--device must be cpu or cuda");
  if (flags.Has("methods")) options.methods = Split(flags.Get("methods"), ',');
  st = CheckMethodNames(options.methods);
  if (!st.ok()) return BadUsage(st.message());

  std::string sweep_key;
  std::vector<std::string> sweep_values;
  if (flags.Has("sweep")) {
    const std::string sweep = flags.Get("sweep");
    const size_t eq = sweep.find('=');
    if (eq == std::string::npos) return BadUsage("--sweep takes KEY=v1,v2,... (KEY: train.* or vbpr.*)");
    sweep_key = sweep.substr(0, eq);
    sweep_values = Split(sweep.substr(eq + 1), ',');
    for (const std::string& v : sweep_values) {  // fail on a bad value before hours of training
      Config probe = config;
      VbprOptions vbpr_probe = options.vbpr;
      st = ApplySettings(sweep_key + "=" + v, &probe, &vbpr_probe);
      if (!st.ok()) return BadUsage(st.message());
    }
    if (sweep_values.empty()) return BadUsage("--sweep has no values");
  }

  Result<EvalData> data = LoadData(flags.Get("data"));
  if (!data.ok()) {
    std::fprintf(stderr, "vasgd eval: %s\n", data.status().ToString().c_str());
    return data.status().code() == Code::kNotFound || data.status().code() == Code::kInvalidArgument ? 2 : 1;
  }
  const std::string plots_dir = flags.Get("plots");
  const std::string prefix = flags.Get("plot-prefix", data->name);
  const std::string split = flags.Get("split", "test");
  if (split == "val") {
    if (data->val.empty()) return BadUsage("--split val: the dataset has no val.tsv");
    data->test = data->val;
    data->name += " (validation split)";
  } else if (split != "test") {
    return BadUsage("--split must be test or val");
  }

  std::string markdown, json;
  if (sweep_values.empty()) {
    Result<EvalReport> report = RunEvaluation(*data, options);
    if (!report.ok()) {
      std::fprintf(stderr, "vasgd eval: %s\n", report.status().ToString().c_str());
      return report.status().code() == Code::kInvalidArgument ? 2 : 1;
    }
    markdown = ReportMarkdown(*report);
    json = ReportJson(*report);
    if (flags.Has("dump-embeddings")) {
      const std::string dir = flags.Get("dump-embeddings");
      for (const auto& [method, e] : report->first_seed_spaces) {
        st = WriteNpy(dir + "/" + method + "_users.npy", e.users.data(), e.num_users, e.dim);
        if (st.ok()) st = WriteNpy(dir + "/" + method + "_products.npy", e.products.data(), e.num_products, e.dim);
        if (!st.ok()) std::fprintf(stderr, "vasgd eval: dump: %s\n", st.ToString().c_str());
      }
    }
    if (!plots_dir.empty()) {
      st = WriteEvalPlots(*report, *data, plots_dir, prefix);
      if (!st.ok()) std::fprintf(stderr, "vasgd eval: plots: %s\n", st.ToString().c_str());
    }
  } else {
    SweepReport sweep;
    sweep.key = sweep_key;
    sweep.values = sweep_values;
    for (const std::string& v : sweep_values) {
      Config c = config;
      EvalOptions o = options;
      (void)ApplySettings(sweep_key + "=" + v, &c, &o.vbpr);  // checked above
      o.train = c.train;
      o.neighbours = c.neighbours;
      o.hybrid = c.hybrid;
      o.retrain = c.retrain;
      Result<EvalReport> report = RunEvaluation(*data, o);
      if (!report.ok()) {
        std::fprintf(stderr, "vasgd eval: %s=%s: %s\n", sweep_key.c_str(), v.c_str(), report.status().ToString().c_str());
        return report.status().code() == Code::kInvalidArgument ? 2 : 1;
      }
      sweep.runs.push_back(std::move(report.value()));
    }
    markdown = SweepMarkdown(sweep);
    json = SweepJson(sweep);
    if (!plots_dir.empty()) {
      const std::string K = std::to_string(options.ranking.k);
      st = WriteSweepPlot(sweep, {"recall@" + K, "auc_warm", "auc_cold_among_cold"}, plots_dir, prefix);
      if (!st.ok()) std::fprintf(stderr, "vasgd eval: plots: %s\n", st.ToString().c_str());
    }
  }
  std::fputs(markdown.c_str(), stdout);
  std::fflush(stdout);
  st = Status::Ok();  // a failed plot is reported above and does not fail the evaluation
  if (flags.Has("markdown")) st = WriteFile(flags.Get("markdown"), markdown);
  if (st.ok() && flags.Has("out")) st = WriteFile(flags.Get("out"), json);
  if (!st.ok()) {
    std::fprintf(stderr, "vasgd eval: %s\n", st.ToString().c_str());
    return 1;
  }
  return 0;
}

}  // namespace vasgd
