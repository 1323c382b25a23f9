// make_shop (issue 14 part A): a deterministic synthetic shop at any size, written as a
// ../shared-style split that `vasgd import`, `vasgd eval` and the served-quality bench read
// unchanged:
//   OUT/train.tsv       `user<TAB>item` header, then one distinct training purchase per line
//   OUT/test.tsv        the same format: held-out purchases (all purchases of cold products
//                       and a share of the others)
//   OUT/image_feat.npy  <f2 (products, dim): row j holds the features of product "j"
//   OUT/meta.json       the options and the counts (also printed on stdout)
//
//   make_shop --out DIR --users U --products P --purchases N [--seed 1] [--dim 128]
//             [--categories sqrt(P)] [--in-category 0.8] [--cold-share 0.05] [--test-share 0.1]
//             [--noise 0.5]
//
// The shop: C categories with centres ~ N(0, 1)^dim; each product belongs to one category (uniform)
// and its features are the centre plus N(0, noise²) noise, so features carry taste. Each user has a
// home category. A purchase draws a user by activity (Zipf-like, rank r has weight 1/(r+10),
// ranks scattered over ids), then with probability in-category a product of the user's home
// category, otherwise of a uniformly drawn category, by popularity inside that category (the same
// Zipf-like law). User and product degrees are therefore power-law. Repeated (user, product)
// pairs are merged; draws continue until N distinct purchases exist (or 8 rounds pass).
// The same flags give byte-identical files on every platform (model/rng.h, no std distributions).
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "bench/bench_args.h"
#include "model/rng.h"

namespace vasgd {
namespace {

struct ShopFlags {
  std::string out;
  int64_t users = 10000, products = 10000, purchases = 100000;
  uint64_t seed = 1;
  int dim = 128;
  int64_t categories = 0;  // 0 = round(sqrt(products))
  double in_category = 0.8, cold_share = 0.05, test_share = 0.1, noise = 0.5;
};

const char kUsage[] =
    "usage: make_shop --out DIR --users U --products P --purchases N [--seed 1] [--dim 128] [--categories C] "
    "[--in-category 0.8] [--cold-share 0.05] [--test-share 0.1] [--noise 0.5]";

bool ParseFlags(int argc, char** argv, ShopFlags* f) {
  BenchArgs args("make_shop", argc, argv,
                 {"out", "users", "products", "purchases", "seed", "dim", "categories", "in-category", "cold-share",
                  "test-share", "noise"},
                 kUsage);
  args.Text("out", &f->out);
  args.Number("users", &f->users);
  args.Number("products", &f->products);
  args.Number("purchases", &f->purchases);
  args.Number("seed", &f->seed);
  args.Number("dim", &f->dim);
  args.Number("categories", &f->categories);
  args.Number("in-category", &f->in_category);
  args.Number("cold-share", &f->cold_share);
  args.Number("test-share", &f->test_share);
  args.Number("noise", &f->noise);
  if (!args.ok()) return false;
  const char* problem = nullptr;
  if (f->out.empty()) problem = "--out DIR is required";
  else if (f->users <= 0 || f->products <= 0 || f->purchases <= 0 || f->dim <= 0)
    problem = "--users, --products, --purchases and --dim must be positive";
  else if (f->users > INT32_MAX || f->products > INT32_MAX) problem = "at most 2^31-1 users/products";
  if (problem) {
    std::fprintf(stderr, "make_shop: %s\n%s\n", problem, kUsage);
    return false;
  }
  if (f->categories <= 0) f->categories = std::max<int64_t>(1, std::llround(std::sqrt(double(f->products))));
  return true;
}

// Zipf-like over [0, n): rank r has weight 1/(r + 10); inverse of the continuous CDF.
int64_t Zipf(int64_t n, Rng* rng) {
  const double a = 10;
  const double x = a * std::pow((n + a) / a, rng->Uniform()) - a;
  return std::min<int64_t>(n - 1, static_cast<int64_t>(x));
}

// A permutation of [0, n) (Fisher-Yates on our own generator).
std::vector<int32_t> Permutation(int64_t n, Rng* rng) {
  std::vector<int32_t> p(n);
  for (int64_t i = 0; i < n; ++i) p[i] = static_cast<int32_t>(i);
  for (int64_t i = n - 1; i > 0; --i) std::swap(p[i], p[rng->Next() % static_cast<uint64_t>(i + 1)]);
  return p;
}

// IEEE 754 binary32 -> binary16, round to nearest even; overflow to infinity (not reached here).
uint16_t FloatToHalf(float value) {
  uint32_t x;
  std::memcpy(&x, &value, 4);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const int32_t exp = static_cast<int32_t>((x >> 23) & 0xff) - 127 + 15;
  uint32_t mant = x & 0x7fffffu;
  if (((x >> 23) & 0xff) == 0xff) return static_cast<uint16_t>(sign | 0x7c00u | (mant ? 0x200u : 0));
  if (exp >= 31) return static_cast<uint16_t>(sign | 0x7c00u);
  if (exp <= 0) {  // subnormal or zero
    if (exp < -10) return static_cast<uint16_t>(sign);
    mant |= 0x800000u;
    const int shift = 14 - exp;
    uint32_t half = mant >> shift;
    const uint32_t rest = mant & ((1u << shift) - 1), mid = 1u << (shift - 1);
    if (rest > mid || (rest == mid && (half & 1))) ++half;
    return static_cast<uint16_t>(sign | half);
  }
  uint32_t half = (static_cast<uint32_t>(exp) << 10) | (mant >> 13);
  const uint32_t rest = mant & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (half & 1))) ++half;  // may carry into the exponent: correct
  return static_cast<uint16_t>(sign | half);
}

struct Shop {
  std::vector<int32_t> product_category, user_category;
  std::vector<uint8_t> cold;
  std::vector<std::vector<int32_t>> category_products;  // products of each category, by popularity rank
  std::vector<uint64_t> pairs;                          // user * products + product, sorted, distinct
};

void AssignCategories(const ShopFlags& f, Rng* rng, Shop* shop) {
  shop->product_category.resize(f.products);
  shop->cold.resize(f.products);
  shop->category_products.assign(f.categories, {});
  for (int64_t j = 0; j < f.products; ++j) {
    shop->product_category[j] = static_cast<int32_t>(rng->Next() % static_cast<uint64_t>(f.categories));
    shop->cold[j] = rng->Uniform() < f.cold_share ? 1 : 0;
  }
  // Popularity rank inside a category: a random order, so hubs are spread over ids.
  const std::vector<int32_t> order = Permutation(f.products, rng);
  for (int32_t j : order) shop->category_products[shop->product_category[j]].push_back(j);
  shop->user_category.resize(f.users);
  for (int64_t u = 0; u < f.users; ++u) {
    shop->user_category[u] = static_cast<int32_t>(rng->Next() % static_cast<uint64_t>(f.categories));
  }
}

// Draws purchases until `purchases` distinct pairs exist (at most 8 rounds), then keeps a
// seeded random subset of exactly that many when there are more.
void DrawPurchases(const ShopFlags& f, Rng* rng, Shop* shop) {
  const std::vector<int32_t> user_of_rank = Permutation(f.users, rng);
  std::vector<uint64_t>& pairs = shop->pairs;
  for (int round = 0; round < 8 && static_cast<int64_t>(pairs.size()) < f.purchases; ++round) {
    const int64_t want = (f.purchases - static_cast<int64_t>(pairs.size())) * 12 / 10 + 16;
    for (int64_t i = 0; i < want; ++i) {
      const int32_t u = user_of_rank[Zipf(f.users, rng)];
      int32_t c = shop->user_category[u];
      if (rng->Uniform() >= f.in_category) c = static_cast<int32_t>(rng->Next() % static_cast<uint64_t>(f.categories));
      const std::vector<int32_t>& in_c = shop->category_products[c];
      if (in_c.empty()) continue;
      const int32_t p = in_c[Zipf(static_cast<int64_t>(in_c.size()), rng)];
      pairs.push_back(static_cast<uint64_t>(u) * static_cast<uint64_t>(f.products) + static_cast<uint64_t>(p));
    }
    std::sort(pairs.begin(), pairs.end());
    pairs.erase(std::unique(pairs.begin(), pairs.end()), pairs.end());
  }
  if (static_cast<int64_t>(pairs.size()) > f.purchases) {
    for (int64_t i = 0; i < f.purchases; ++i) {  // partial Fisher-Yates: the first N are a uniform subset
      const uint64_t k = static_cast<uint64_t>(i) + rng->Next() % (pairs.size() - static_cast<uint64_t>(i));
      std::swap(pairs[i], pairs[k]);
    }
    pairs.resize(f.purchases);
    std::sort(pairs.begin(), pairs.end());
  }
}

bool WriteFeatures(const ShopFlags& f, Rng* rng, const Shop& shop, const std::string& path) {
  std::FILE* out = std::fopen(path.c_str(), "wb");
  if (!out) return false;
  std::vector<float> centres(static_cast<size_t>(f.categories) * f.dim);
  for (float& v : centres) v = static_cast<float>(rng->Normal());
  // .npy version 1.0: magic, version, header length, a Python dict padded to 64 bytes with '\n'.
  std::string header = "{'descr': '<f2', 'fortran_order': False, 'shape': (" + std::to_string(f.products) + ", " +
                       std::to_string(f.dim) + "), }";
  while ((10 + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  const uint16_t header_len = static_cast<uint16_t>(header.size());
  std::fwrite("\x93NUMPY\x01\x00", 1, 8, out);
  const unsigned char len_le[2] = {static_cast<unsigned char>(header_len & 0xff), static_cast<unsigned char>(header_len >> 8)};
  std::fwrite(len_le, 1, 2, out);
  std::fwrite(header.data(), 1, header.size(), out);
  std::vector<unsigned char> row(static_cast<size_t>(f.dim) * 2);
  for (int64_t j = 0; j < f.products; ++j) {
    const float* centre = centres.data() + static_cast<size_t>(shop.product_category[j]) * f.dim;
    for (int d = 0; d < f.dim; ++d) {
      const uint16_t h = FloatToHalf(centre[d] + static_cast<float>(f.noise * rng->Normal()));
      row[2 * d] = static_cast<unsigned char>(h & 0xff);  // little-endian, whatever the host
      row[2 * d + 1] = static_cast<unsigned char>(h >> 8);
    }
    std::fwrite(row.data(), 1, row.size(), out);
  }
  return std::fclose(out) == 0;
}

struct SplitCounts {
  int64_t train = 0, test = 0, test_cold = 0, warm_products = 0, train_users = 0;
};

// Purchases of cold products all go to test.tsv; the others with probability test_share.
bool WriteSplit(const ShopFlags& f, Rng* rng, const Shop& shop, SplitCounts* counts) {
  std::FILE* train = std::fopen((f.out + "/train.tsv").c_str(), "w");
  std::FILE* test = std::fopen((f.out + "/test.tsv").c_str(), "w");
  if (!train || !test) return false;
  std::fputs("user\titem\n", train);
  std::fputs("user\titem\n", test);
  std::vector<uint8_t> warm(f.products, 0), user_seen(f.users, 0);
  for (uint64_t key : shop.pairs) {
    const int64_t u = static_cast<int64_t>(key / static_cast<uint64_t>(f.products));
    const int64_t p = static_cast<int64_t>(key % static_cast<uint64_t>(f.products));
    const bool held_out = shop.cold[p] || rng->Uniform() < f.test_share;
    std::fprintf(held_out ? test : train, "%lld\t%lld\n", static_cast<long long>(u), static_cast<long long>(p));
    if (held_out) {
      ++counts->test;
      counts->test_cold += shop.cold[p];
    } else {
      ++counts->train;
      warm[p] = 1;
      user_seen[u] = 1;
    }
  }
  for (uint8_t w : warm) counts->warm_products += w;
  for (uint8_t s : user_seen) counts->train_users += s;
  const bool ok = std::fclose(train) == 0;
  return std::fclose(test) == 0 && ok;
}

}  // namespace
}  // namespace vasgd

int main(int argc, char** argv) {
  using namespace vasgd;
  ShopFlags f;
  if (!ParseFlags(argc, argv, &f)) return 2;
  const auto t0 = std::chrono::steady_clock::now();
  ::mkdir(f.out.c_str(), 0755);
  // Separate streams per part, so that e.g. --test-share does not change the purchases drawn.
  Rng shop_rng(MixSeed(f.seed, 1)), purchase_rng(MixSeed(f.seed, 2)), feature_rng(MixSeed(f.seed, 3)),
      split_rng(MixSeed(f.seed, 4));
  Shop shop;
  AssignCategories(f, &shop_rng, &shop);
  DrawPurchases(f, &purchase_rng, &shop);
  if (!WriteFeatures(f, &feature_rng, shop, f.out + "/image_feat.npy")) {
    std::fprintf(stderr, "make_shop: cannot write %s/image_feat.npy\n", f.out.c_str());
    return 1;
  }
  SplitCounts counts;
  if (!WriteSplit(f, &split_rng, shop, &counts)) {
    std::fprintf(stderr, "make_shop: cannot write %s/train.tsv or test.tsv\n", f.out.c_str());
    return 1;
  }
  int64_t cold = 0;
  for (uint8_t c : shop.cold) cold += c;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  char json[1024];
  std::snprintf(json, sizeof json,
                "{\"users\":%lld,\"products\":%lld,\"purchases_asked\":%lld,\"purchases\":%zu,\"seed\":%llu,"
                "\"dim\":%d,\"categories\":%lld,\"in_category\":%g,\"cold_share\":%g,\"test_share\":%g,"
                "\"noise\":%g,\"cold_products\":%lld,\"warm_products\":%lld,\"train_users\":%lld,"
                "\"train_rows\":%lld,\"test_rows\":%lld,\"test_rows_cold\":%lld,\"seconds\":%.2f}",
                static_cast<long long>(f.users), static_cast<long long>(f.products),
                static_cast<long long>(f.purchases), shop.pairs.size(), static_cast<unsigned long long>(f.seed), f.dim,
                static_cast<long long>(f.categories), f.in_category, f.cold_share, f.test_share, f.noise,
                static_cast<long long>(cold), static_cast<long long>(counts.warm_products),
                static_cast<long long>(counts.train_users), static_cast<long long>(counts.train),
                static_cast<long long>(counts.test), static_cast<long long>(counts.test_cold), seconds);
  std::printf("%s\n", json);
  if (std::FILE* meta = std::fopen((f.out + "/meta.json").c_str(), "w")) {
    std::fprintf(meta, "%s\n", json);
    std::fclose(meta);
  }
  return 0;
}
