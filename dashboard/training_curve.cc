#include "dashboard/training_curve.h"

#include <nlohmann/json.hpp>

#include "dashboard/json_number.h"

namespace vasgd {

TrainingCurve::TrainingCurve(size_t capacity) : points_(capacity) {}

void TrainingCurve::Record(double now, const TrainingProgress& progress, const TrainingFigures& figures) {
  std::lock_guard<std::mutex> lock(mu_);
  if (progress.job_id.empty()) return;
  if (progress.job_id != job_) {
    if (!progress.running) return;  // a job that ended before we saw it run: nothing to draw
    job_ = progress.job_id;
    started_ = now;
    stages_.clear();
    points_.Clear();
  }
  running_ = progress.running;
  if ((stages_.empty() || stages_.back().first != progress.stage) && stages_.size() < kMaxStages) {
    stages_.emplace_back(progress.stage, now);
  }
  if (!progress.running || (progress.stage != "stage1" && progress.stage != "stage2")) return;
  points_.Push({now, progress.stage, progress.epoch, progress.epochs, figures});
}

std::string TrainingCurve::Json(double since) const {
  using json = nlohmann::json;
  std::lock_guard<std::mutex> lock(mu_);
  if (job_.empty()) return json{{"job", nullptr}}.dump();
  json stages = json::array();
  for (const auto& [stage, t] : stages_) stages.push_back({{"stage", stage}, {"t", RoundedNumber(t, 13)}});
  json t = json::array(), elapsed = json::array(), stage = json::array(), epoch = json::array(),
       epochs = json::array(), skipgram = json::array(), reconstruction = json::array(), encoder = json::array(),
       pairs = json::array();
  for (size_t i = 0; i < points_.size(); ++i) {
    const Point& p = points_.at(i);
    if (p.t <= since) continue;
    t.push_back(RoundedNumber(p.t, 13));
    elapsed.push_back(RoundedNumber(p.t - started_, 4));
    stage.push_back(p.stage);
    epoch.push_back(p.epoch);
    epochs.push_back(p.epochs);
    skipgram.push_back(RoundedNumber(p.figures.loss_skipgram));
    reconstruction.push_back(RoundedNumber(p.figures.loss_reconstruction));
    encoder.push_back(RoundedNumber(p.figures.loss_encoder));
    pairs.push_back(p.figures.pairs_per_second > 0 ? RoundedNumber(p.figures.pairs_per_second) : json(nullptr));
  }
  return json{{"job", job_},
              {"running", running_},
              {"started", RoundedNumber(started_, 13)},
              {"stages", std::move(stages)},
              {"points",
               {{"t", std::move(t)},
                {"elapsed", std::move(elapsed)},
                {"stage", std::move(stage)},
                {"epoch", std::move(epoch)},
                {"epochs", std::move(epochs)},
                {"skipgram", std::move(skipgram)},
                {"reconstruction", std::move(reconstruction)},
                {"encoder", std::move(encoder)},
                {"pairs_per_second", std::move(pairs)}}}}
      .dump();
}

}  // namespace vasgd
