// CRC-32C (Castagnoli), the checksum of every file in a model version (model_version.h).
#pragma once

#include <cstddef>
#include <cstdint>

namespace vasgd {

// Extends `crc` (0 to start) over size bytes; Crc32c(Crc32c(0, a), b) == Crc32c(0, a+b).
uint32_t Crc32c(uint32_t crc, const void* data, size_t size);

}  // namespace vasgd
