// The consumer's static group membership id (KIP-345, librdkafka `group.instance.id`).
//
// A static member that restarts with the same id takes its partitions back from the broker at
// once instead of waiting for the group to notice that its old member is gone (a session
// timeout) and rebalancing. The id must be stable across restarts of one daemon and distinct
// between daemons: by default it is derived from the host name and the data directory, which
// together name one daemon (two daemons cannot share a data directory: RocksDB locks it).
#pragma once

#include <string>

namespace vasgd {

// kafka.group_instance_id's value that asks for the derived id.
inline constexpr char kAutoGroupInstanceId[] = "auto";

// "vasgd-<host>-<data dir's last component>-<8 hex digits of a hash of host and absolute data
// dir>", with every character outside [A-Za-z0-9._-] replaced by '_' (the broker accepts only
// those) and at most 249 characters (the broker's limit). The same host and directory always give
// the same id.
std::string DerivedGroupInstanceId(const std::string& host, const std::string& data_dir);

// `configured` when it is not kAutoGroupInstanceId ("" = dynamic membership, any other text
// used as given); else DerivedGroupInstanceId(this host's name, data_dir).
std::string ResolveGroupInstanceId(const std::string& configured, const std::string& data_dir);

}  // namespace vasgd
