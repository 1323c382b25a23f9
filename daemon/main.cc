// vasgd: the streaming VASG recommender. Dispatches to one subcommand (daemon/commands.h).
#include <cstdio>
#include <cstring>
#include <string>

#include "daemon/commands.h"

namespace {

struct Subcommand {
  const char* name;
  int (*run)(const vasgd::Args&);
  const char* summary;
};

const Subcommand kSubcommands[] = {
#ifndef VASGD_MODEL_ONLY
    {"serve", vasgd::RunServe, "run the daemon (Kafka/HTTP ingestion, retraining, HTTP API)"},
    {"import", vasgd::RunImport, "bulk load TSV interactions + .npy features, or JSON Lines events"},
    {"stats", vasgd::RunStats, "print store and model counts as JSON"},
    {"checkpoint", vasgd::RunCheckpoint, "write a consistent RocksDB checkpoint of the store"},
    {"train", vasgd::RunTrainStore, "one retraining from the store (or --interactions): write a model version"},
#else
    {"train", vasgd::RunTrain, "one retraining: write a model version"},
#endif
    {"eval", vasgd::RunEval, "reproduce the paper's experiments on a dataset directory"},
};

void PrintUsage() {
  std::fprintf(stderr, "usage: vasgd <command> [flags]\n\ncommands:\n");
  for (const Subcommand& s : kSubcommands) std::fprintf(stderr, "  %-11s %s\n", s.name, s.summary);
  std::fprintf(stderr,
               "\nshared flags: --config F --data-dir DIR --listen HOST:PORT --kafka-brokers H:P[,..]\n"
               "              --kafka-group NAME --topics a,b\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    PrintUsage();
    return argc < 2 ? 2 : 0;
  }
  for (const Subcommand& s : kSubcommands) {
    if (std::strcmp(argv[1], s.name) == 0) return s.run(vasgd::Args(argv + 2, argv + argc));
  }
  std::fprintf(stderr, "vasgd: unknown command '%s'\n\n", argv[1]);
  PrintUsage();
  return 2;
}
