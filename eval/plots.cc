#include "eval/plots.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>

namespace vasgd {

namespace {

Status WriteText(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::trunc);
  f << text;
  f.close();
  if (!f) return Status::IoError("cannot write " + path);
  return Status::Ok();
}

Status RunGnuplot(const std::string& script) {
  const std::string command = "gnuplot '" + script + "' 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) return Status::Unavailable("cannot start gnuplot");
  std::string output;
  char buf[512];
  while (std::fgets(buf, sizeof(buf), pipe)) output += buf;
  const int rc = ::pclose(pipe);
  if (rc != 0) return Status::Unavailable("gnuplot " + script + " failed (status " + std::to_string(rc) + "): " + output);
  return Status::Ok();
}

std::string Quote(const std::string& s) { return "'" + s + "'"; }

// "recall@20" -> "Recall@20", "auc_cold_among_cold" -> "AUC cold among cold", ...
std::string MetricLabel(std::string metric) {
  if (metric.compare(0, 4, "auc_") == 0) metric = "AUC " + metric.substr(4);
  if (metric.compare(0, 6, "recall") == 0) metric[0] = 'R';
  if (metric.compare(0, 4, "ndcg") == 0) metric.replace(0, 4, "NDCG");
  for (char& c : metric) c = c == '_' ? ' ' : c;
  return metric;
}

// Power iteration for the top eigenvector of a symmetric dim × dim matrix.
std::vector<double> TopEigenvector(const std::vector<double>& c, int32_t dim, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  std::vector<double> v(dim), w(dim);
  for (double& x : v) x = normal(rng);
  for (int iter = 0; iter < 500; ++iter) {
    double norm = 0;
    for (int32_t i = 0; i < dim; ++i) {
      double s = 0;
      for (int32_t j = 0; j < dim; ++j) s += c[static_cast<size_t>(i) * dim + j] * v[j];
      w[i] = s;
      norm += s * s;
    }
    norm = std::sqrt(norm);
    if (norm == 0) break;
    for (int32_t i = 0; i < dim; ++i) v[i] = w[i] / norm;
  }
  return v;
}

}  // namespace

std::vector<float> PrincipalComponents2(const std::vector<float>& values, int64_t rows, int32_t dim) {
  std::vector<double> mean(dim, 0.0), cov(static_cast<size_t>(dim) * dim, 0.0);
  for (int64_t r = 0; r < rows; ++r)
    for (int32_t d = 0; d < dim; ++d) mean[d] += values[r * dim + d];
  for (double& m : mean) m /= std::max<int64_t>(1, rows);
  std::vector<double> x(dim);
  for (int64_t r = 0; r < rows; ++r) {
    for (int32_t d = 0; d < dim; ++d) x[d] = values[r * dim + d] - mean[d];
    for (int32_t i = 0; i < dim; ++i)
      for (int32_t j = 0; j < dim; ++j) cov[static_cast<size_t>(i) * dim + j] += x[i] * x[j];
  }
  const std::vector<double> pc1 = TopEigenvector(cov, dim, 1);
  // Deflate: C - λ v vᵀ.
  double lambda = 0;
  for (int32_t i = 0; i < dim; ++i)
    for (int32_t j = 0; j < dim; ++j) lambda += pc1[i] * cov[static_cast<size_t>(i) * dim + j] * pc1[j];
  for (int32_t i = 0; i < dim; ++i)
    for (int32_t j = 0; j < dim; ++j) cov[static_cast<size_t>(i) * dim + j] -= lambda * pc1[i] * pc1[j];
  const std::vector<double> pc2 = TopEigenvector(cov, dim, 2);
  std::vector<float> out(rows * 2);
  for (int64_t r = 0; r < rows; ++r) {
    double a = 0, b = 0;
    for (int32_t d = 0; d < dim; ++d) {
      const double c = values[r * dim + d] - mean[d];
      a += c * pc1[d];
      b += c * pc2[d];
    }
    out[r * 2] = static_cast<float>(a);
    out[r * 2 + 1] = static_cast<float>(b);
  }
  return out;
}

Status WriteEvalPlots(const EvalReport& report, const EvalData& data, const std::string& dir,
                      const std::string& prefix, const std::string& pca_method) {
  const std::string base = dir + "/" + prefix;
  Status first_error;
  auto note = [&first_error](Status s) {
    if (!s.ok() && first_error.ok()) first_error = s;
  };

  // PCA of one learned space (products with a vector only).
  std::string method = pca_method;
  if (method.empty()) {
    for (const char* m : {"VASG", "VASG-paper", "SkipGram", "WBOI"}) {
      if (report.first_seed_spaces.count(m)) {
        method = m;
        break;
      }
    }
  }
  auto it = report.first_seed_spaces.find(method);
  if (it != report.first_seed_spaces.end()) {
    const Embeddings& e = it->second;
    const std::vector<float> pcs = PrincipalComponents2(e.products, e.num_products, e.dim);
    const std::vector<float> degree = ProductDegrees(data.train.graph);
    std::ostringstream warm, cold;
    warm << "# pc1 pc2 log10(1+degree) product\n";
    cold << "# pc1 pc2 product (cold: no training edge)\n";
    for (int32_t p = 0; p < e.num_products; ++p) {
      if (!e.HasProduct(p)) continue;
      if (degree[p] > 0) warm << pcs[p * 2] << ' ' << pcs[p * 2 + 1] << ' ' << std::log10(1 + degree[p]) << ' ' << p << '\n';
      else cold << pcs[p * 2] << ' ' << pcs[p * 2 + 1] << ' ' << p << '\n';
    }
    note(WriteText(base + "_pca_warm.dat", warm.str()));
    note(WriteText(base + "_pca_cold.dat", cold.str()));
    std::ostringstream gp;
    gp << "set terminal pngcairo noenhanced size 900,750 font 'sans,10'\n"
       << "set output " << Quote(base + "_pca.png") << "\n"
       << "set title " << Quote(method + " product embeddings on " + report.dataset + ": first two principal components") << "\n"
       << "set xlabel 'PC 1'\nset ylabel 'PC 2'\nset key top right\n"
       << "set cblabel 'log10(1 + training purchases)'\nset palette defined (0 '#c6dbef', 1 '#2171b5', 2 '#08306b')\n"
       << "plot " << Quote(base + "_pca_warm.dat") << " using 1:2:3 with points pt 7 ps 0.35 lc palette title 'warm products', \\\n"
       << "     " << Quote(base + "_pca_cold.dat") << " using 1:2 with points pt 2 ps 0.6 lc rgb '#d62728' title 'cold products (embedded by the encoder)'\n";
    note(WriteText(base + "_pca.gp", gp.str()));
    note(RunGnuplot(base + "_pca.gp"));
  }

  // Histograms of random-pair cosines, one line per space.
  if (!report.first_seed_spaces.empty()) {
    constexpr int kBins = 100;
    std::ostringstream dat, gp;
    dat << "# cosine bin centre, then the share of pairs per space:";
    std::vector<std::string> names;
    std::vector<std::vector<double>> hist;
    for (const auto& [name, space] : report.first_seed_spaces) {
      const CosineSpread s = RandomPairCosines(space, 100000, 1);
      std::vector<double> h(kBins, 0.0);
      for (float c : s.samples) h[std::min(kBins - 1, std::max(0, static_cast<int>((c + 1.0) / 2.0 * kBins)))] += 1.0 / s.samples.size();
      char label[160];
      std::snprintf(label, sizeof(label), "%s (kurtosis %.2f)", name == "WBOI" ? "raw image features" : name.c_str(), s.excess_kurtosis);
      names.push_back(label);
      hist.push_back(h);
      dat << ' ' << name;
    }
    dat << '\n';
    for (int b = 0; b < kBins; ++b) {
      dat << (-1.0 + (b + 0.5) * 2.0 / kBins);
      for (const auto& h : hist) dat << ' ' << h[b];
      dat << '\n';
    }
    note(WriteText(base + "_cosines.dat", dat.str()));
    gp << "set terminal pngcairo noenhanced size 900,550 font 'sans,10'\n"
       << "set output " << Quote(base + "_cosines.png") << "\n"
       << "set title " << Quote("Cosine similarity of 100,000 random product pairs on " + report.dataset) << "\n"
       << "set xlabel 'cosine'\nset ylabel 'share of pairs'\nset xrange [-1:1]\nset key top left\nplot ";
    for (size_t i = 0; i < names.size(); ++i) {
      gp << (i ? ", \\\n     " : "") << Quote(base + "_cosines.dat") << " using 1:" << i + 2
         << " with lines lw 2 title " << Quote(names[i]);
    }
    gp << "\n";
    note(WriteText(base + "_cosines.gp", gp.str()));
    note(RunGnuplot(base + "_cosines.gp"));
  }
  return first_error;
}

Status WriteSweepPlot(const SweepReport& sweep, const std::vector<std::string>& requested, const std::string& dir,
                      const std::string& prefix) {
  if (sweep.runs.empty()) return Status::InvalidArgument("empty sweep");
  std::vector<std::string> metrics;  // those some method produced
  for (const std::string& metric : requested) {
    bool produced = false;
    for (const EvalReport& run : sweep.runs)
      for (const MethodResult& r : run.methods) produced |= !MetricValues(r, metric).empty();
    if (produced) metrics.push_back(metric);
  }
  if (metrics.empty()) return Status::InvalidArgument("no method produced any of the sweep plot's metrics");
  for (const std::string& v : sweep.values) {
    char* end = nullptr;
    std::strtod(v.c_str(), &end);
    if (end == v.c_str() || *end != '\0') return Status::InvalidArgument("sweep value '" + v + "' is not a number: no plot");
  }
  const std::string base = dir + "/" + prefix;
  std::ostringstream dat;
  dat << "# value, then mean and std per metric, one block per method\n";
  std::vector<std::string> methods;
  for (const MethodResult& r : sweep.runs.front().methods) methods.push_back(r.method);
  for (const std::string& method : methods) {
    dat << "# " << method << "\n";
    for (size_t i = 0; i < sweep.runs.size(); ++i) {
      dat << sweep.values[i];
      for (const std::string& metric : metrics) {
        MeanStd s;
        for (const MethodResult& r : sweep.runs[i].methods) {
          if (r.method == method) s = Summarize(MetricValues(r, metric));
        }
        if (s.n == 0) dat << " NaN NaN";
        else dat << ' ' << s.mean << ' ' << s.std;
      }
      dat << '\n';
    }
    dat << "\n\n";
  }
  Status st = WriteText(base + "_sweep.dat", dat.str());
  if (!st.ok()) return st;
  std::ostringstream gp;
  gp << "set terminal pngcairo noenhanced size " << 450 * metrics.size() + 100 << ",500 font 'sans,10'\n"
     << "set output " << Quote(base + "_sweep.png") << "\n"
     << "set multiplot layout 1," << metrics.size() << " title " << Quote(sweep.runs.front().dataset + ": sensitivity to " + sweep.key) << "\n"
     << "set xlabel " << Quote(sweep.key) << "\nset key bottom right\nset grid\n";
  for (size_t m = 0; m < metrics.size(); ++m) {
    gp << "set ylabel " << Quote(MetricLabel(metrics[m])) << "\nplot ";
    for (size_t i = 0; i < methods.size(); ++i) {
      gp << (i ? ", \\\n     " : "") << Quote(base + "_sweep.dat") << " index " << i << " using 1:" << 2 + 2 * m << ":"
         << 3 + 2 * m << " with yerrorlines lw 2 title " << Quote(methods[i]);
    }
    gp << "\n";
  }
  gp << "unset multiplot\n";
  st = WriteText(base + "_sweep.gp", gp.str());
  if (!st.ok()) return st;
  return RunGnuplot(base + "_sweep.gp");
}

}  // namespace vasgd
