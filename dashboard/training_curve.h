// The running (or last) retraining's course for the dashboard's Training panel: where it stood
// at each sample (stage, epoch, the loss parts, pairs/s), kept from the job's first sample to its
// end, so the loss chart shows the whole run. A new job id starts a new curve. Bounded: at most
// `capacity` points (the oldest go first) and kMaxStages stage changes.
// Thread-safe: one writer (the sampler) and many readers.
#pragma once

#include <cstddef>
#include <mutex>
#include <string>
#include <vector>

#include "dashboard/ring.h"
#include "http/api.h"

namespace vasgd {

// The loss parts and speed the training child last reported (the vasgd_train_* gauges).
struct TrainingFigures {
  double loss_skipgram = 0;
  double loss_reconstruction = 0;
  double loss_encoder = 0;
  double pairs_per_second = 0;  // 0 = not reported
};

class TrainingCurve {
 public:
  static constexpr size_t kMaxStages = 64;

  explicit TrainingCurve(size_t capacity);

  // Records where `progress` stands at `now` (seconds since the epoch). A job that is not running
  // only closes its curve (its final stage is kept). Losses are recorded only in the trainer's
  // own stages ("stage1", "stage2"): before them the figures are still the previous job's.
  void Record(double now, const TrainingProgress& progress, const TrainingFigures& figures);

  // {"job":"job-2","running":true,"started":T,"stages":[{"stage":"snapshot","t":T},...],
  //  "points":{"t":[..],"elapsed":[..],"stage":[..],"epoch":[..],"epochs":[..],"skipgram":[..],
  //  "reconstruction":[..],"encoder":[..],"pairs_per_second":[..]}} with the points taken after
  // `since` (seconds since the epoch; a reader that saw another job asks with 0); {"job":null}
  // before any job.
  std::string Json(double since) const;

 private:
  struct Point {
    double t = 0;
    std::string stage;
    int epoch = 0;
    int epochs = 0;
    TrainingFigures figures;
  };

  mutable std::mutex mu_;
  std::string job_;
  bool running_ = false;
  double started_ = 0;
  std::vector<std::pair<std::string, double>> stages_;  // each stage change and when
  Ring<Point> points_;
};

}  // namespace vasgd
