// Plots of an evaluation as PNG files, drawn by gnuplot (Debian gnuplot-nox) from data files and
// scripts written next to them (so a person can restyle and redraw them by hand):
//   <prefix>_pca.png       the products of one learned space on its first two principal
//                          components, warm products shaded by popularity, cold ones marked
//   <prefix>_cosines.png   the distribution of random-pair cosines per space (learned vs raw
//                          image features, i.e. the WBOI space)
//   <prefix>_sweep.png     a metric against a swept setting (e.g. AUC vs D), one line per method
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "eval/eval_data.h"
#include "eval/report.h"

namespace vasgd {

// Writes the PCA plot of `pca_method` (or of the first learned space when empty) and the cosine
// plot of every space in report.first_seed_spaces. Unavailable when gnuplot cannot be run (the
// data files and scripts are there anyway); IoError when `dir` is not writable.
Status WriteEvalPlots(const EvalReport& report, const EvalData& data, const std::string& dir,
                      const std::string& prefix, const std::string& pca_method = "");

// Plots each metric of `metrics` (mean ± std over seeds) against the sweep's values, which must
// be numbers. One panel per metric, one line per method.
Status WriteSweepPlot(const SweepReport& sweep, const std::vector<std::string>& metrics, const std::string& dir,
                      const std::string& prefix);

// The first two principal components of the rows (centred), as rows × 2 coordinates. Exposed
// for tests. `rows` × `dim` row-major.
std::vector<float> PrincipalComponents2(const std::vector<float>& values, int64_t rows, int32_t dim);

}  // namespace vasgd
