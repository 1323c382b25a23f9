// The RocksDB options of the graph store, in one place: GraphStore opens its database with them,
// and bench/ingest_bench.cc measures "RocksDB alone" with exactly the same configuration.
#pragma once

#include <rocksdb/cache.h>
#include <rocksdb/options.h>

#include <memory>

#include "common/options.h"

namespace vasgd {

// The store's RocksDB options for `options`: memtables of store.write_buffer_mb (three at most),
// two background jobs, a block-based table with `block_cache` and a 10-bit Bloom filter (index and
// filter blocks outside the cache), RocksDB's diagnostics in vasgd's log. create_if_missing is
// left false: the caller decides.
rocksdb::Options GraphDbOptions(const StoreOptions& options, std::shared_ptr<rocksdb::Cache> block_cache);

}  // namespace vasgd
