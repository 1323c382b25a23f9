#include "eval/report.h"

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>

namespace vasgd {

namespace {

using nlohmann::json;

json MethodJson(const MethodResult& r) {
  std::set<std::string> names;
  for (const SeedMetrics& m : r.per_seed) {
    for (const auto& [name, value] : m) names.insert(name);
  }
  json out = json::object();
  for (const std::string& name : names) {
    const std::vector<double> values = MetricValues(r, name);
    const MeanStd s = Summarize(values);
    out[name] = {{"mean", s.mean}, {"std", s.std}, {"values", values}};
  }
  return out;
}

json ReportObject(const EvalReport& report) {
  json methods = json::object(), configs = json::object();
  for (const MethodResult& r : report.methods) {
    methods[r.method] = MethodJson(r);
    configs[r.method] = json::parse(r.config_json);
  }
  return {{"dataset", report.dataset}, {"seeds", report.seeds}, {"methods", methods},
          {"method_configs", configs}, {"options", json::parse(report.options_json)},
          {"data", json::parse(report.data_json)}, {"wall_seconds", report.wall_seconds}};
}

std::string Cell(const MethodResult& r, const std::string& metric, const char* format) {
  const std::vector<double> v = MetricValues(r, metric);
  if (v.empty()) return "—";
  const MeanStd s = Summarize(v);
  char buf[64];
  if (v.size() == 1) {
    std::snprintf(buf, sizeof(buf), format, s.mean);
    return buf;
  }
  char fmt[32];
  std::snprintf(fmt, sizeof(fmt), "%s ± %s", format, format);
  std::snprintf(buf, sizeof(buf), fmt, s.mean, s.std);
  return buf;
}

struct Column {
  std::string header;
  std::string metric;
  const char* format;
};

std::vector<Column> Columns(int k, int analogy_k) {
  const std::string K = std::to_string(k), A = std::to_string(analogy_k);
  return {{"Recall@" + K, "recall@" + K, "%.4f"},
          {"NDCG@" + K, "ndcg@" + K, "%.4f"},
          {"Recall@" + K + " warm", "recall@" + K + "_warm", "%.4f"},
          {"Recall@" + K + " cold", "recall@" + K + "_cold", "%.4f"},
          {"AUC warm", "auc_warm", "%.4f"},
          {"AUC cold", "auc_cold", "%.4f"},
          {"AUC cold∩cold", "auc_cold_among_cold", "%.4f"},
          {"relation acc.", "relation_accuracy", "%.3f"},
          {"analogy P@" + A, "analogy_p@" + A, "%.3f"},
          {"cos kurtosis", "cosine_kurtosis", "%.2f"},
          {"train s", "train_seconds", "%.1f"}};
}

std::string Table(const std::vector<std::string>& first_headers, const std::vector<std::vector<std::string>>& first_cells,
                  const std::vector<const MethodResult*>& rows, const std::vector<Column>& columns) {
  std::string out = "|";
  for (const std::string& h : first_headers) out += " " + h + " |";
  for (const Column& c : columns) out += " " + c.header + " |";
  out += "\n|";
  for (size_t i = 0; i < first_headers.size() + columns.size(); ++i) out += "---|";
  out += "\n";
  for (size_t i = 0; i < rows.size(); ++i) {
    out += "|";
    for (const std::string& c : first_cells[i]) out += " " + c + " |";
    for (const Column& c : columns) out += " " + Cell(*rows[i], c.metric, c.format) + " |";
    out += "\n";
  }
  return out;
}

int AnalogyK(const EvalReport& r) {
  const json o = json::parse(r.options_json);
  return o.contains("analogy") ? o["analogy"].value("k", 5) : 5;
}

}  // namespace

MeanStd Summarize(const std::vector<double>& values) {
  MeanStd s;
  s.n = static_cast<int>(values.size());
  if (values.empty()) return s;
  for (double v : values) s.mean += v;
  s.mean /= values.size();
  if (values.size() > 1) {
    double ss = 0;
    for (double v : values) ss += (v - s.mean) * (v - s.mean);
    s.std = std::sqrt(ss / (values.size() - 1));
  }
  return s;
}

std::vector<double> MetricValues(const MethodResult& result, const std::string& metric) {
  std::vector<double> v;
  for (const SeedMetrics& m : result.per_seed) {
    auto it = m.find(metric);
    if (it != m.end()) v.push_back(it->second);
  }
  return v;
}

std::string ReportJson(const EvalReport& report) { return ReportObject(report).dump(2) + "\n"; }

std::string ReportMarkdown(const EvalReport& report) {
  std::vector<const MethodResult*> rows;
  std::vector<std::vector<std::string>> names;
  for (const MethodResult& r : report.methods) {
    rows.push_back(&r);
    names.push_back({r.method});
  }
  char head[256];
  std::snprintf(head, sizeof(head), "%s, %d seed%s (mean ± std over seeds), wall %.0f s\n\n", report.dataset.c_str(),
                report.seeds, report.seeds == 1 ? "" : "s", report.wall_seconds);
  return head + Table({"method"}, names, rows, Columns(report.k, AnalogyK(report)));
}

std::string SweepJson(const SweepReport& sweep) {
  json runs = json::array();
  for (size_t i = 0; i < sweep.runs.size(); ++i) {
    json r = ReportObject(sweep.runs[i]);
    r["value"] = sweep.values[i];
    runs.push_back(r);
  }
  return json({{"sweep", {{"key", sweep.key}, {"values", sweep.values}, {"runs", runs}}}}).dump(2) + "\n";
}

std::string SweepMarkdown(const SweepReport& sweep) {
  if (sweep.runs.empty()) return "";
  std::vector<const MethodResult*> rows;
  std::vector<std::vector<std::string>> cells;
  for (size_t i = 0; i < sweep.runs.size(); ++i) {
    for (const MethodResult& r : sweep.runs[i].methods) {
      rows.push_back(&r);
      cells.push_back({sweep.values[i], r.method});
    }
  }
  const EvalReport& first = sweep.runs.front();
  return "sweep of " + sweep.key + " on " + first.dataset + ", " + std::to_string(first.seeds) + " seed(s)\n\n" +
         Table({sweep.key, "method"}, cells, rows, Columns(first.k, AnalogyK(first)));
}

}  // namespace vasgd
