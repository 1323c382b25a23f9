// The subcommands of `vasgd`. Each takes the arguments after its name and returns the process
// exit status: 0 on success, 2 for a bad flag or config (after printing what is wrong), 1 otherwise.
#pragma once

#include <string>
#include <vector>

#include "eval/cli.h"  // RunEval: eval/

namespace vasgd {

using Args = std::vector<std::string>;

int RunTrain(const Args& args);   // daemon/cmd_train.cc: one retraining -> a model version
#ifndef VASGD_MODEL_ONLY
int RunServe(const Args& args);   // daemon/cmd_serve.cc: the long-running daemon
int RunImport(const Args& args);  // daemon/cmd_import.cc: bulk load TSV + .npy or JSON Lines
int RunStats(const Args& args);   // daemon/cmd_stats.cc: JSON counts of the store and models
int RunCheckpoint(const Args& args);  // daemon/cmd_import.cc: RocksDB checkpoint of the store
// daemon/cmd_train_store.cc: `vasgd train` of the full build, from the store (RunTrain's
// --interactions path still works through it).
int RunTrainStore(const Args& args);
#endif

}  // namespace vasgd
