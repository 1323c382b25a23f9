#!/usr/bin/env bash
# RocksDB built with -fsanitize=thread, for scripts/sanitize.sh tsan (issue 6).
#
# Why: Debian's librocksdb.a is not instrumented. Its memtable is a lock-free skiplist whose
# entries are published with atomics TSan cannot see, so every test that reads a value another
# thread just wrote (the Kafka ingestion tests, the crash and end-to-end drills) reports a race
# between RocksDB's own memcpy in MemTable::Add and the reader's copy. The writer's stack is
# usually lost, so no suppression can name it; an instrumented RocksDB makes the atomics visible.
#
# It builds the same source Debian ships (apt-get source of the installed librocksdb-dev version,
# Debian's patches applied; the source list lives in $WORK, the system's is not touched), with
# Debian's compression options, the static library only, and installs it under $PREFIX.
# Then: cmake -DVASGD_SANITIZE=thread -DRocksDB_DIR=$PREFIX/lib/cmake/rocksdb ... (sanitize.sh
# does this when $PREFIX exists). About 310 files: 5 min on 2 cores (-O1).
#   scripts/build-rocksdb-tsan.sh     (env: PREFIX (/var/tmp/vasgd-rocksdb-tsan/install),
#                                            WORK (/var/tmp/vasgd-rocksdb-tsan/src), JOBS (2))
set -euo pipefail
PREFIX="${PREFIX:-/var/tmp/vasgd-rocksdb-tsan/install}"
WORK="${WORK:-/var/tmp/vasgd-rocksdb-tsan/src}"
JOBS="${JOBS:-2}"
VERSION=$(dpkg-query -W -f='${Version}' librocksdb-dev)  # e.g. 7.8.3-2
UPSTREAM=${VERSION%-*}
SRC="$WORK/rocksdb-$UPSTREAM"

mkdir -p "$WORK/apt/lists/partial" "$WORK/apt/cache"
if [ ! -d "$SRC" ]; then
  codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
  echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $codename main" \
    >"$WORK/apt/sources.list"
  apt_opts=(-o "Dir::Etc::SourceList=$WORK/apt/sources.list" -o Dir::Etc::SourceParts=/nonexistent
            -o "Dir::State::Lists=$WORK/apt/lists" -o "Dir::Cache=$WORK/apt/cache")
  apt-get "${apt_opts[@]}" update -q
  (cd "$WORK" && apt-get "${apt_opts[@]}" source -q "rocksdb=$VERSION")
fi

# -O1 -g1: TSan needs line tables for its reports, not full debug info, and -O1 halves the build.
cmake -S "$SRC" -B "$WORK/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" \
  -DCMAKE_INSTALL_PREFIX="$PREFIX" -DWITH_TSAN=ON \
  -DWITH_BZ2=ON -DWITH_LZ4=ON -DWITH_ZLIB=ON -DWITH_ZSTD=ON -DWITH_SNAPPY=ON -DWITH_GFLAGS=OFF \
  -DWITH_LIBURING=OFF -DROCKSDB_BUILD_SHARED=OFF -DWITH_TESTS=OFF -DWITH_TOOLS=OFF -DWITH_CORE_TOOLS=OFF \
  -DWITH_BENCHMARK_TOOLS=OFF -DWITH_TRACE_TOOLS=OFF -DPORTABLE=ON -DFAIL_ON_WARNINGS=OFF >/dev/null
nice -n 5 ninja -C "$WORK/build" -j "$JOBS" rocksdb
ninja -C "$WORK/build" install >/dev/null
echo "instrumented RocksDB $VERSION installed in $PREFIX"
