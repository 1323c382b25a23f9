// Copying a model version directory between file systems: the trainer's data_dir/models/ to the
// shared directory every node mounts, and the shared directory to a replica's data_dir/models/.
// A version's files never change once written (daemon/model_registry.h), so a copy is a plain
// copy; what a reader may rely on comes from the order and the fsyncs here, and from the
// manifest's sizes and CRC-32C, which every loader verifies (model/model_version.h).
#pragma once

#include <string>

#include "common/status.h"

namespace vasgd {

// Copies every regular file of the version directory `from` into `to` (created; must not exist):
// every file but manifest.json first, each written and fsynced, then manifest.json, then `to`
// itself is fsynced. So whoever finds the copy's manifest finds every file it lists, whole, also
// after a crash of this machine. NotFound when `from` has no manifest.json; IoError naming the
// file otherwise (a partial `to` is left for the caller to remove).
Status CopyVersionFiles(const std::string& from, const std::string& to);

// fsync(2) of a directory, so that a rename or a symlink switch inside it is durable.
void SyncDirectory(const std::string& dir);

}  // namespace vasgd
