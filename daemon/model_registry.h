// The model versions on disk, data_dir/models/:
//   <version>/          one complete version (model/model_version.h + the HNSW index files)
//   current -> <version>   the version served; switched atomically (a new symlink renamed over it)
//   previous -> <version>  where POST /v1/admin/rollback goes
//   .staging/<job>/     versions being written; renamed into place only when complete, so a
//                       half-written version is never seen under its name
// Version names are UTC timestamps ("20261125T183000Z", "-2" etc. appended on a clash), so their
// byte order is their age order. Checksums and sanity checks are the loader's (serving_state.h):
// the registry only names, switches, orders and prunes.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"

namespace vasgd {

class ModelRegistry {
 public:
  // `keep_versions` (>= 1): versions kept on disk by Prune (current and previous among them).
  ModelRegistry(std::string models_dir, int keep_versions);

  // Creates models/ and models/.staging/ and removes staging left by a crash.
  Status Init();

  const std::string& dir() const { return dir_; }
  std::string VersionDir(const std::string& version) const { return dir_ + "/" + version; }

  // A fresh version name from the clock that no directory uses yet.
  std::string NewVersionName() const;
  // A staging directory path for `job` (not created; removed first if it exists).
  std::string StagingDir(const std::string& job) const;

  // The version `current` (or `previous`) names; "" when there is none.
  std::string Current() const;
  std::string Previous() const;
  // Every version directory that holds a manifest, oldest first.
  std::vector<std::string> Versions() const;

  // Renames the complete `staging_dir` to models/<version> (AlreadyExists if taken), then makes
  // it current with the old current as previous, then prunes.
  Status Publish(const std::string& staging_dir, const std::string& version);

  // Points `current` at an existing version; `previous` becomes the newest version older than
  // it (none when there is none). Used by rollback and by the loader's fallback.
  Status SetCurrent(const std::string& version);

  // Keeps keep_versions versions: current and previous (always), then the newest others;
  // deletes the rest (each renamed into staging first, so a crash never leaves part of one).
  Status Prune();

 private:
  Status PruneLocked();
  Status SwitchLink(const std::string& name, const std::string& version);  // "" removes it
  std::string ReadLink(const std::string& name) const;

  const std::string dir_;
  const int keep_;
  mutable std::mutex mu_;  // one switch at a time
};

}  // namespace vasgd
