#include "model/npy.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>

namespace vasgd {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;

// Value text of `key` in the header dict, e.g. "'<f2'" or "(6710, 128)"; empty if absent.
std::string DictValue(const std::string& header, const std::string& key) {
  size_t k = header.find("'" + key + "'");
  if (k == std::string::npos) k = header.find("\"" + key + "\"");
  if (k == std::string::npos) return "";
  size_t colon = header.find(':', k);
  if (colon == std::string::npos) return "";
  size_t start = header.find_first_not_of(" ", colon + 1);
  if (start == std::string::npos) return "";
  size_t end;
  if (header[start] == '(') {
    end = header.find(')', start);
    if (end == std::string::npos) return "";
    ++end;
  } else if (header[start] == '\'' || header[start] == '"') {
    end = header.find(header[start], start + 1);
    if (end == std::string::npos) return "";
    ++end;
  } else {
    end = header.find_first_of(",}", start);
    if (end == std::string::npos) end = header.size();
  }
  std::string v = header.substr(start, end - start);
  while (!v.empty() && v.back() == ' ') v.pop_back();
  return v;
}

// "(6710, 128)" -> {6710, 128}; "(5,)" -> {5}; false when not a tuple of non-negative integers.
bool ParseShape(const std::string& text, std::vector<int64_t>* dims) {
  if (text.size() < 2 || text.front() != '(' || text.back() != ')') return false;
  std::string inner = text.substr(1, text.size() - 2);
  size_t pos = 0;
  while (pos < inner.size()) {
    while (pos < inner.size() && (inner[pos] == ' ' || inner[pos] == ',')) ++pos;
    if (pos >= inner.size()) break;
    size_t end = pos;
    while (end < inner.size() && inner[end] >= '0' && inner[end] <= '9') ++end;
    if (end == pos || end - pos > 15) return false;
    dims->push_back(std::stoll(inner.substr(pos, end - pos)));
    pos = end;
    while (pos < inner.size() && inner[pos] == ' ') ++pos;
    if (pos < inner.size() && inner[pos] != ',') return false;
  }
  return true;
}

uint32_t ReadLe(const unsigned char* p, int bytes) {
  uint32_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

float HalfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu;
  uint32_t mantissa = h & 0x3ffu;
  uint32_t bits;
  if (exponent == 0x1f) {  // infinity or NaN
    bits = sign | 0x7f800000u | (mantissa << 13);
  } else if (exponent != 0) {  // normal
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {  // signed zero
    bits = sign;
  } else {  // subnormal: renormalise
    int e = -1;
    do {
      ++e;
      mantissa <<= 1;
    } while ((mantissa & 0x400u) == 0);
    bits = sign | (static_cast<uint32_t>(112 - e) << 23) | ((mantissa & 0x3ffu) << 13);
  }
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

Result<NpyMatrix> ParseNpy(const char* data, size_t size) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(data);
  if (size < kMagicLen + 4 || std::memcmp(data, kMagic, kMagicLen) != 0)
    return Status::InvalidArgument("npy: not a .npy file (bad magic)");
  const int major = bytes[6];
  size_t header_len, header_start;
  if (major == 1) {
    header_len = ReadLe(bytes + 8, 2);
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (size < 12) return Status::Corruption("npy: truncated header");
    header_len = ReadLe(bytes + 8, 4);
    header_start = 12;
  } else {
    return Status::InvalidArgument("npy: unsupported format version " + std::to_string(major));
  }
  if (header_start + header_len > size) return Status::Corruption("npy: truncated header");
  const std::string header(data + header_start, header_len);

  const std::string descr = DictValue(header, "descr");
  int item_bytes;
  if (descr == "'<f2'" || descr == "'=f2'") {
    item_bytes = 2;
  } else if (descr == "'<f4'" || descr == "'=f4'") {
    item_bytes = 4;
  } else {
    return Status::InvalidArgument("npy: dtype " + (descr.empty() ? std::string("(missing)") : descr) +
                                   " not supported; expected little-endian float16 '<f2' or float32 '<f4'");
  }
  const std::string fortran = DictValue(header, "fortran_order");
  if (fortran != "False")
    return Status::InvalidArgument("npy: only C-order arrays are supported (fortran_order " +
                                   (fortran.empty() ? std::string("missing") : fortran) + ")");
  std::vector<int64_t> dims;
  if (!ParseShape(DictValue(header, "shape"), &dims) || dims.empty() || dims.size() > 2)
    return Status::InvalidArgument("npy: expected a 1-D or 2-D shape, header says " +
                                   DictValue(header, "shape"));
  NpyMatrix m;
  m.rows = dims[0];
  m.cols = dims.size() == 2 ? dims[1] : 1;
  // Rows of no values hold no features; their count would be trusted without a byte to back it.
  if (m.cols == 0 && m.rows > 0) return Status::InvalidArgument("npy: shape has rows of 0 columns");
  const size_t count = static_cast<size_t>(m.rows) * static_cast<size_t>(m.cols);
  const size_t body = header_start + header_len;
  if (m.cols != 0 && count / static_cast<size_t>(m.cols) != static_cast<size_t>(m.rows))
    return Status::InvalidArgument("npy: shape too large");
  if (size - body < count * item_bytes)
    return Status::Corruption("npy: file holds " + std::to_string((size - body) / item_bytes) +
                              " values, shape needs " + std::to_string(count));
  m.values.resize(count);
  const unsigned char* src = bytes + body;
  if (item_bytes == 4) {
    // The host is little-endian (x86-64, aarch64); an empty vector's data() may be null.
    if (count > 0) std::memcpy(m.values.data(), src, count * 4);
  } else {
    for (size_t i = 0; i < count; ++i)
      m.values[i] = HalfToFloat(static_cast<uint16_t>(src[2 * i] | (src[2 * i + 1] << 8)));
  }
  return m;
}

Result<NpyMatrix> ReadNpy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IoError("npy: cannot open " + path);
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return Status::IoError("npy: cannot read " + path);
  Result<NpyMatrix> m = ParseNpy(content.data(), content.size());
  if (!m.ok()) return Status(m.status().code(), m.status().message() + " (" + path + ")");
  return m;
}

Status WriteNpy(const std::string& path, const float* values, int64_t rows, int64_t cols) {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(rows) +
                       ", " + std::to_string(cols) + "), }";
  // Magic (6) + version (2) + length (2) + header + '\n' is padded to a multiple of 64.
  const size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header.push_back('\n');
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return Status::IoError("npy: cannot create " + path);
  const unsigned char len[2] = {static_cast<unsigned char>(header.size() & 0xff),
                                static_cast<unsigned char>(header.size() >> 8)};
  out.write(kMagic, kMagicLen);
  out.put(1);
  out.put(0);
  out.write(reinterpret_cast<const char*>(len), 2);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  out.write(reinterpret_cast<const char*>(values), static_cast<std::streamsize>(rows * cols * 4));
  out.close();
  if (!out) return Status::IoError("npy: cannot write " + path);
  return Status::Ok();
}

Result<FeatureMatrix> ReadFeatureMatrix(const std::string& path, int64_t* non_finite_rows) {
  Result<NpyMatrix> m = ReadNpy(path);
  if (!m.ok()) return m.status();
  if (m->rows > INT32_MAX || m->cols > INT32_MAX)
    return Status::InvalidArgument("npy: feature matrix too large (" + path + ")");
  FeatureMatrix f;
  f.dim = static_cast<int32_t>(m->cols);
  f.values = std::move(m->values);
  f.present.assign(static_cast<size_t>(m->rows), 1);
  int64_t bad = 0;
  for (int64_t r = 0; r < m->rows; ++r) {
    float* row = f.values.data() + r * f.dim;
    for (int32_t c = 0; c < f.dim; ++c) {
      if (!std::isfinite(row[c])) {
        std::fill(row, row + f.dim, 0.0f);
        f.present[r] = 0;
        ++bad;
        break;
      }
    }
  }
  if (non_finite_rows) *non_finite_rows = bad;
  return f;
}

}  // namespace vasgd
