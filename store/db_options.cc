#include "store/db_options.h"

#include <rocksdb/env.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>

#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "common/log.h"

namespace vasgd {
namespace {

// RocksDB's own diagnostics go to vasgd's structured log instead of a LOG file in the store:
// one stream to watch, and no second file that a full disk can break (RocksDB asserts on
// appending to its info log after a failed append).
class RocksLogger : public rocksdb::Logger {
 public:
  RocksLogger() : rocksdb::Logger(rocksdb::InfoLogLevel::WARN_LEVEL) {}
  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override { Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap); }
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    if (level < GetInfoLogLevel()) return;
    char buf[1024];
    std::vsnprintf(buf, sizeof(buf), format, ap);
    // Creating a new store probes for a directory that is not there yet: not an error.
    if (std::strstr(buf, "Error when reading") && std::strstr(buf, "NotFound")) return;
    // Checkpoints pause file deletions re-entrantly; RocksDB warns about its own counter.
    if (std::strstr(buf, "File Deletions")) return;
    Log(level >= rocksdb::InfoLogLevel::ERROR_LEVEL ? LogLevel::kError : LogLevel::kWarn, "rocksdb",
        {{"message", buf}});
  }
};

}  // namespace

rocksdb::Options GraphDbOptions(const StoreOptions& options, std::shared_ptr<rocksdb::Cache> block_cache) {
  rocksdb::Options db_options;
  db_options.write_buffer_size = static_cast<size_t>(options.write_buffer_mb) << 20;
  db_options.max_write_buffer_number = 3;
  db_options.max_background_jobs = 2;
  db_options.bytes_per_sync = 1 << 20;
  db_options.info_log = std::make_shared<RocksLogger>();
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = std::move(block_cache);
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  // Index and filter blocks stay in the table readers, outside the cache: a 128 MiB LRU cache
  // has 64 shards of 2 MiB, and a filter block of a large table (3.2 MB after the 30-minute
  // soak's 1.5 M edges) never fits one, so every point lookup on the query path re-read it.
  table.cache_index_and_filter_blocks = false;
  db_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return db_options;
}

}  // namespace vasgd
