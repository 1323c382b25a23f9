// The evaluation report: JSON of DESIGN.md's shape and a markdown table.
//   {"dataset": "tiktok", "seeds": 5,
//    "methods": {"VASG": {"recall@20": {"mean": .., "std": .., "values": [..]}, ..}, ..},
//    "method_configs": {"VASG": {..}}, "options": {..}, "data": {..}, "wall_seconds": ..}
// std is the sample standard deviation over seeds (0 for one seed).
#pragma once

#include <string>
#include <vector>

#include "eval/runner.h"

namespace vasgd {

struct MeanStd {
  double mean = 0;
  double std = 0;
  int n = 0;
};

MeanStd Summarize(const std::vector<double>& values);

// Values of `metric` over the seeds where the method produced it.
std::vector<double> MetricValues(const MethodResult& result, const std::string& metric);

std::string ReportJson(const EvalReport& report);

// One row per method: the ranking metrics, the product metrics and the training time, each as
// "mean ± std"; "—" where the method cannot produce the metric.
std::string ReportMarkdown(const EvalReport& report);

// A sweep: the same evaluation with one setting changed, one report per value.
struct SweepReport {
  std::string key;                  // e.g. "train.dim"
  std::vector<std::string> values;  // as given on the command line
  std::vector<EvalReport> runs;     // one per value
};

std::string SweepJson(const SweepReport& sweep);
std::string SweepMarkdown(const SweepReport& sweep);

}  // namespace vasgd
