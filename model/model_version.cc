#include "model/model_version.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>

#include "model/crc32c.h"

namespace vasgd {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr char kFormat[] = "vasgd-model/1";
constexpr char kManifest[] = "manifest.json";
constexpr char kEncoderMagic[8] = {'V', 'A', 'S', 'G', 'M', 'L', 'P', '1'};
// Manifest keys owned by this file; manifest_extra_json may not redefine them.
const char* const kReservedKeys[] = {"format", "version", "trained_at", "score", "cold_profile_weight",
                                     "dim", "visual_dim", "num_users", "num_products", "files"};

std::string Hex(uint32_t v) {
  char buf[11];
  std::snprintf(buf, sizeof buf, "%08x", v);
  return buf;
}

// Writes `bytes` to dir/name and fsyncs it, so a version that is renamed into place is on disk.
Status WriteDurably(const std::string& path, const std::string& bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IoError("model: cannot create " + path + ": " + std::strerror(errno));
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const std::string err = std::strerror(errno);
      ::close(fd);
      return Status::IoError("model: cannot write " + path + ": " + err);
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0)
    return Status::IoError("model: cannot sync " + path + ": " + std::strerror(errno));
  return Status::Ok();
}

Status SyncDirectory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::IoError("model: cannot open directory " + dir);
  const int rc = ::fsync(fd);
  ::close(fd);
  return rc == 0 ? Status::Ok() : Status::IoError("model: cannot sync directory " + dir);
}

Result<std::string> ReadWhole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Corruption("model: missing file " + path);
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return Status::IoError("model: cannot read " + path);
  return s;
}

template <typename T>
std::string Bytes(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

template <typename T>
std::vector<T> FromBytes(const std::string& s) {
  std::vector<T> v(s.size() / sizeof(T));
  if (!v.empty()) std::memcpy(v.data(), s.data(), v.size() * sizeof(T));  // data() may be null when empty
  return v;
}

std::string JoinLines(const std::vector<std::string>& ids) {
  std::string s;
  for (const std::string& id : ids) {
    s += id;
    s += '\n';
  }
  return s;
}

std::vector<std::string> SplitLines(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < s.size()) {
    size_t nl = s.find('\n', start);
    if (nl == std::string::npos) nl = s.size();
    out.emplace_back(s, start, nl - start);
    start = nl + 1;
  }
  return out;
}

void PutU32(std::string* s, uint32_t v) { s->append(reinterpret_cast<const char*>(&v), 4); }
void PutFloats(std::string* s, const std::vector<float>& v) {
  PutU32(s, static_cast<uint32_t>(v.size()));
  s->append(reinterpret_cast<const char*>(v.data()), v.size() * 4);
}

// encoder.bin: magic, input mean and scale, layer count, then per layer in, out, weights, bias
// (u32 counts and little-endian float32 arrays).
std::string EncodeMlp(const Mlp& m) {
  std::string s(kEncoderMagic, sizeof kEncoderMagic);
  PutFloats(&s, m.input_mean);
  PutFloats(&s, m.input_scale);
  PutU32(&s, static_cast<uint32_t>(m.layers.size()));
  for (const DenseLayer& l : m.layers) {
    PutU32(&s, static_cast<uint32_t>(l.in));
    PutU32(&s, static_cast<uint32_t>(l.out));
    PutFloats(&s, l.weight);
    PutFloats(&s, l.bias);
  }
  return s;
}

class Reader {
 public:
  explicit Reader(const std::string& s) : s_(s) {}
  bool U32(uint32_t* v) {
    if (s_.size() - pos_ < 4) return false;
    std::memcpy(v, s_.data() + pos_, 4);
    pos_ += 4;
    return true;
  }
  bool Floats(std::vector<float>* v) {
    uint32_t n;
    if (!U32(&n) || (s_.size() - pos_) / 4 < n) return false;
    v->resize(n);
    if (n > 0) std::memcpy(v->data(), s_.data() + pos_, static_cast<size_t>(n) * 4);  // data() may be null when empty
    pos_ += static_cast<size_t>(n) * 4;
    return true;
  }
  bool Skip(size_t n) {
    if (s_.size() - pos_ < n) return false;
    pos_ += n;
    return true;
  }
  bool done() const { return pos_ == s_.size(); }

 private:
  const std::string& s_;
  size_t pos_ = 0;
};

bool AllFinite(const std::vector<float>& v) {
  for (float x : v)
    if (!std::isfinite(x)) return false;
  return true;
}

Result<Mlp> DecodeMlp(const std::string& s) {
  const Status bad = Status::Corruption("model: encoder.bin or decoder.bin is malformed");
  if (s.size() < sizeof kEncoderMagic || std::memcmp(s.data(), kEncoderMagic, sizeof kEncoderMagic))
    return bad;
  Reader r(s);
  r.Skip(sizeof kEncoderMagic);
  Mlp m;
  uint32_t layers;
  if (!r.Floats(&m.input_mean) || !r.Floats(&m.input_scale) || !r.U32(&layers) || layers > 64) return bad;
  for (uint32_t k = 0; k < layers; ++k) {
    DenseLayer l;
    uint32_t in, out;
    if (!r.U32(&in) || !r.U32(&out) || !r.Floats(&l.weight) || !r.Floats(&l.bias)) return bad;
    l.in = static_cast<int32_t>(in);
    l.out = static_cast<int32_t>(out);
    if (l.in <= 0 || l.out <= 0 || l.weight.size() != static_cast<size_t>(in) * out || l.bias.size() != out)
      return bad;
    if (!m.layers.empty() && m.layers.back().out != l.in) return bad;
    if (!AllFinite(l.weight) || !AllFinite(l.bias))
      return Status::Corruption("model: encoder.bin holds non-finite weights");
    m.layers.push_back(std::move(l));
  }
  if (!r.done()) return bad;
  const size_t in_dim = static_cast<size_t>(m.input_dim());
  if ((!m.input_mean.empty() && m.input_mean.size() != in_dim) ||
      (!m.input_scale.empty() && m.input_scale.size() != in_dim) || !AllFinite(m.input_mean) ||
      !AllFinite(m.input_scale))
    return bad;
  return m;
}

json FileEntry(const std::string& bytes) {
  return json{{"bytes", bytes.size()}, {"crc32c", Hex(Crc32c(0, bytes.data(), bytes.size()))}};
}

Result<json> ReadManifest(const std::string& dir) {
  Result<std::string> text = ReadWhole(dir + "/" + kManifest);
  if (!text.ok()) return text.status();
  json m = json::parse(text.value(), nullptr, /*allow_exceptions=*/false);
  if (m.is_discarded() || !m.is_object()) return Status::Corruption("model: manifest.json is not a JSON object");
  if (m.value("format", "") != kFormat)
    return Status::Corruption("model: manifest.json format is not " + std::string(kFormat));
  if (!m.contains("files") || !m["files"].is_object())
    return Status::Corruption("model: manifest.json lists no files");
  return m;
}

Status WriteManifest(const std::string& dir, const json& manifest) {
  const std::string tmp = dir + "/" + kManifest + ".tmp";
  VASGD_RETURN_IF_ERROR(WriteDurably(tmp, manifest.dump(2) + "\n"));
  std::error_code ec;
  fs::rename(tmp, dir + "/" + kManifest, ec);
  if (ec) return Status::IoError("model: cannot rename manifest in " + dir + ": " + ec.message());
  return SyncDirectory(dir);
}

// Checks one listed file against its manifest entry; returns its bytes.
Result<std::string> ReadVerified(const std::string& dir, const json& files, const std::string& name) {
  if (!files.contains(name)) return Status::Corruption("model: manifest does not list " + name);
  const json& entry = files[name];
  Result<std::string> bytes = ReadWhole(dir + "/" + name);
  if (!bytes.ok()) return bytes.status();
  if (!entry.is_object() || !entry.contains("bytes") || !entry.contains("crc32c"))
    return Status::Corruption("model: manifest entry of " + name + " is malformed");
  if (entry["bytes"] != bytes->size())
    return Status::Corruption("model: " + name + " has " + std::to_string(bytes->size()) +
                              " bytes, manifest says " + entry["bytes"].dump());
  if (entry["crc32c"] != Hex(Crc32c(0, bytes->data(), bytes->size())))
    return Status::Corruption("model: " + name + " fails its CRC-32C checksum");
  return bytes;
}

// visual.f32 and visual_norm.f32 (absent in versions written before the hybrid, and without features).
Status ReadVisual(const json& m, std::map<std::string, std::string>* contents, ModelVersion* v) {
  if (!contents->count("visual.f32")) return Status::Ok();
  if (!m.contains("visual_dim") || !m["visual_dim"].is_number_integer() || m["visual_dim"].get<int64_t>() <= 0 ||
      m["visual_dim"].get<int64_t>() > 1 << 20 || !contents->count("visual_norm.f32"))
    return Status::Corruption("model: visual.f32 without a valid visual_dim or visual_norm.f32");
  const size_t vd = m["visual_dim"].get<size_t>();
  const std::string& rows = (*contents)["visual.f32"];
  const std::string& norm = (*contents)["visual_norm.f32"];
  if (rows.size() != v->product_ids.size() * vd * 4 || norm.size() != 2 * vd * 4)
    return Status::Corruption("model: visual.f32 or visual_norm.f32 has the wrong size for the manifest's shape");
  v->visual_dim = static_cast<int32_t>(vd);
  v->visual = FromBytes<float>(rows);
  const std::vector<float> both = FromBytes<float>(norm);
  v->visual_mean.assign(both.begin(), both.begin() + vd);
  v->visual_scale.assign(both.begin() + vd, both.end());
  if (!AllFinite(v->visual) || !AllFinite(both)) return Status::Corruption("model: visual features hold non-finite values");
  return Status::Ok();
}

}  // namespace

Status WriteModelVersion(const std::string& dir, const ModelVersion& model) {
  const size_t nu = model.user_ids.size(), np = model.product_ids.size(), d = static_cast<size_t>(model.dim);
  if (model.dim <= 0 || model.user_vectors.size() != nu * d || model.product_vectors.size() != np * d ||
      model.product_kind.size() != np || model.popularity.size() != np)
    return Status::InvalidArgument("model: arrays do not agree with the id lists and dim");
  if (!model.encoder.empty() && model.encoder.output_dim() != model.dim)
    return Status::InvalidArgument("model: encoder output dimension differs from dim");
  if (model.score != "cosine" && model.score != "dot")
    return Status::InvalidArgument("model: score must be cosine or dot");
  if (!(model.cold_profile_weight >= 0 && model.cold_profile_weight <= 1))
    return Status::InvalidArgument("model: cold_profile_weight must be in [0, 1]");
  const size_t vd = static_cast<size_t>(std::max(0, model.visual_dim));
  if (model.visual_dim < 0 || (vd > 0 && (model.visual.size() != np * vd || model.visual_mean.size() != vd ||
                                          model.visual_scale.size() != vd)))
    return Status::InvalidArgument("model: visual arrays do not agree with visual_dim");
  for (const NeighbourLists* l : {&model.neighbour_lists, &model.ease_lists}) {
    if (l->empty()) continue;
    if (l->num_products != static_cast<int32_t>(np))
      return Status::InvalidArgument("model: neighbour lists do not cover the products");
    VASGD_RETURN_IF_ERROR(CheckNeighbourLists(*l));
  }
  json extra = json::parse(model.manifest_extra_json, nullptr, false);
  if (extra.is_discarded() || !extra.is_object())
    return Status::InvalidArgument("model: manifest_extra_json is not a JSON object");
  for (const char* key : kReservedKeys)
    if (extra.contains(key)) return Status::InvalidArgument(std::string("model: extra key '") + key + "' is reserved");

  for (const auto& ids : {&model.user_ids, &model.product_ids})
    for (const std::string& id : *ids)
      if (id.empty() || id.find('\n') != std::string::npos)
        return Status::InvalidArgument("model: ids must be non-empty and free of newlines");

  std::error_code ec;
  if (fs::exists(dir, ec)) return Status::AlreadyExists("model: " + dir + " already exists");
  fs::create_directories(dir, ec);
  if (ec) return Status::IoError("model: cannot create " + dir + ": " + ec.message());

  std::vector<std::pair<std::string, std::string>> files = {
      {"users.f32", Bytes(model.user_vectors)},   {"products.f32", Bytes(model.product_vectors)},
      {"users.ids", JoinLines(model.user_ids)},   {"products.ids", JoinLines(model.product_ids)},
      {"product_kind.u8", Bytes(model.product_kind)}, {"popularity.f32", Bytes(model.popularity)}};
  if (!model.encoder.empty()) files.emplace_back("encoder.bin", EncodeMlp(model.encoder));
  if (!model.decoder.empty()) files.emplace_back("decoder.bin", EncodeMlp(model.decoder));
  if (!model.neighbour_lists.empty()) files.emplace_back("neighbours.bin", EncodeNeighbourLists(model.neighbour_lists));
  if (!model.ease_lists.empty()) files.emplace_back("ease.bin", EncodeNeighbourLists(model.ease_lists));
  if (vd > 0) {
    std::vector<float> norm = model.visual_mean;
    norm.insert(norm.end(), model.visual_scale.begin(), model.visual_scale.end());
    files.emplace_back("visual.f32", Bytes(model.visual));
    files.emplace_back("visual_norm.f32", Bytes(norm));
  }

  json manifest = extra;
  manifest["format"] = kFormat;
  manifest["version"] = model.version;
  manifest["trained_at"] = model.trained_at;
  manifest["score"] = model.score;
  manifest["cold_profile_weight"] = model.cold_profile_weight;
  manifest["dim"] = model.dim;
  manifest["visual_dim"] = model.visual_dim;
  manifest["num_users"] = nu;
  manifest["num_products"] = np;
  manifest["files"] = json::object();
  for (const auto& [name, bytes] : files) {
    VASGD_RETURN_IF_ERROR(WriteDurably(dir + "/" + name, bytes));
    manifest["files"][name] = FileEntry(bytes);
  }
  return WriteManifest(dir, manifest);
}

Status WriteModelVersionAtomically(const std::string& dir, const ModelVersion& model) {
  std::error_code ec;
  if (fs::exists(dir, ec)) return Status::AlreadyExists("model: " + dir + " already exists");
  const std::string staging = dir + ".staging-" + std::to_string(::getpid());
  fs::remove_all(staging, ec);
  Status st = WriteModelVersion(staging, model);
  if (st.ok()) {
    fs::rename(staging, dir, ec);
    if (ec) st = Status::IoError("model: cannot rename " + staging + " to " + dir + ": " + ec.message());
  }
  if (!st.ok()) {
    fs::remove_all(staging, ec);
    return st;
  }
  const fs::path parent = fs::absolute(fs::path(dir)).parent_path();
  return SyncDirectory(parent.string());
}

Result<ModelVersion> ReadModelVersion(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return Status::NotFound("model: no model version at " + dir);
  Result<json> manifest = ReadManifest(dir);
  if (!manifest.ok()) return manifest.status();
  json& m = manifest.value();
  const json& files = m["files"];
  // Every listed file is verified, including those added by other writers (the HNSW index).
  std::map<std::string, std::string> contents;
  for (auto it = files.begin(); it != files.end(); ++it) {
    Result<std::string> bytes = ReadVerified(dir, files, it.key());
    if (!bytes.ok()) return bytes.status();
    contents[it.key()] = std::move(bytes.value());
  }
  for (const char* required : {"users.f32", "products.f32", "users.ids", "products.ids", "product_kind.u8",
                               "popularity.f32"})
    if (!contents.count(required)) return Status::Corruption(std::string("model: manifest lacks ") + required);

  ModelVersion v;
  if (!m["version"].is_string() || !m["trained_at"].is_string() || !m["score"].is_string() ||
      !m["dim"].is_number_integer() || !m["num_users"].is_number_integer() ||
      !m["num_products"].is_number_integer())
    return Status::Corruption("model: manifest.json lacks version, trained_at, score, dim or counts");
  v.version = m["version"].get<std::string>();
  v.trained_at = m["trained_at"].get<std::string>();
  v.score = m["score"].get<std::string>();
  v.dim = m["dim"].get<int32_t>();
  if (v.dim <= 0 || (v.score != "cosine" && v.score != "dot"))
    return Status::Corruption("model: manifest.json has a bad dim or score");
  // Absent in versions written before the visual profile existed: the encoder alone.
  if (m.contains("cold_profile_weight")) {
    if (!m["cold_profile_weight"].is_number()) return Status::Corruption("model: cold_profile_weight is not a number");
    v.cold_profile_weight = m["cold_profile_weight"].get<float>();
    if (!(v.cold_profile_weight >= 0 && v.cold_profile_weight <= 1))
      return Status::Corruption("model: cold_profile_weight is outside [0, 1]");
  }
  const int64_t nu = m["num_users"].get<int64_t>(), np = m["num_products"].get<int64_t>();
  if (nu < 0 || np < 0) return Status::Corruption("model: manifest.json has negative counts");
  v.user_ids = SplitLines(contents["users.ids"]);
  v.product_ids = SplitLines(contents["products.ids"]);
  if (static_cast<int64_t>(v.user_ids.size()) != nu || static_cast<int64_t>(v.product_ids.size()) != np)
    return Status::Corruption("model: id files disagree with the manifest counts");
  const size_t d = static_cast<size_t>(v.dim);
  auto check_size = [&](const char* name, size_t want) -> Status {
    if (contents[name].size() != want)
      return Status::Corruption(std::string("model: ") + name + " has the wrong size for the manifest's shape");
    return Status::Ok();
  };
  VASGD_RETURN_IF_ERROR(check_size("users.f32", nu * d * 4));
  VASGD_RETURN_IF_ERROR(check_size("products.f32", np * d * 4));
  VASGD_RETURN_IF_ERROR(check_size("product_kind.u8", np));
  VASGD_RETURN_IF_ERROR(check_size("popularity.f32", np * 4));
  v.user_vectors = FromBytes<float>(contents["users.f32"]);
  v.product_vectors = FromBytes<float>(contents["products.f32"]);
  v.product_kind = FromBytes<uint8_t>(contents["product_kind.u8"]);
  v.popularity = FromBytes<float>(contents["popularity.f32"]);
  if (!AllFinite(v.user_vectors) || !AllFinite(v.product_vectors) || !AllFinite(v.popularity))
    return Status::Corruption("model: embeddings hold non-finite values");
  for (uint8_t k : v.product_kind)
    if (k > static_cast<uint8_t>(ProductKind::kCold)) return Status::Corruption("model: bad product kind");
  if (contents.count("encoder.bin")) {
    Result<Mlp> enc = DecodeMlp(contents["encoder.bin"]);
    if (!enc.ok()) return enc.status();
    if (enc->output_dim() != v.dim) return Status::Corruption("model: encoder output dimension differs from dim");
    v.encoder = std::move(enc.value());
  }
  if (contents.count("decoder.bin")) {
    Result<Mlp> dec = DecodeMlp(contents["decoder.bin"]);
    if (!dec.ok()) return dec.status();
    if (dec->input_dim() != v.dim) return Status::Corruption("model: decoder input dimension differs from dim");
    v.decoder = std::move(dec.value());
  }
  for (const auto& [file, lists] : {std::pair<const char*, NeighbourLists*>{"neighbours.bin", &v.neighbour_lists},
                                    {"ease.bin", &v.ease_lists}}) {
    if (!contents.count(file)) continue;
    Result<NeighbourLists> decoded = DecodeNeighbourLists(contents[file]);
    if (!decoded.ok()) return decoded.status();
    if (decoded->num_products != np) return Status::Corruption(std::string("model: ") + file + " does not cover the products");
    *lists = std::move(decoded.value());
  }
  VASGD_RETURN_IF_ERROR(ReadVisual(m, &contents, &v));
  for (const char* key : kReservedKeys) m.erase(key);
  v.manifest_extra_json = m.dump();
  return v;
}

Status RecordFileChecksum(const std::string& dir, const std::string& file) {
  Result<json> manifest = ReadManifest(dir);
  if (!manifest.ok()) return manifest.status();
  Result<std::string> bytes = ReadWhole(dir + "/" + file);
  if (!bytes.ok()) return Status::NotFound("model: cannot read " + dir + "/" + file);
  manifest.value()["files"][file] = FileEntry(bytes.value());
  return WriteManifest(dir, manifest.value());
}

Status VerifyFileChecksum(const std::string& dir, const std::string& file) {
  Result<json> manifest = ReadManifest(dir);
  if (!manifest.ok()) return manifest.status();
  Result<std::string> bytes = ReadVerified(dir, manifest.value()["files"], file);
  return bytes.ok() ? Status::Ok() : bytes.status();
}

}  // namespace vasgd
