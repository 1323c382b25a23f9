// Test helper: a reproducible stream of Kafka messages (valid events of every kind interleaved
// with bad ones), the reference graph computed directly from the valid events (not through the
// parser or the store), and a comparison of a GraphStore against it.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "store/graph_store.h"
#include "stream/base64.h"

namespace vasgd {
namespace testing_stream {

struct Message {
  std::string key;
  std::string value;
  std::string reason;  // "" for a valid event, else the RejectReasonName it must get
};

struct RefProduct {
  std::vector<float> features;  // empty = none
  std::vector<std::string> categories;
  std::string meta;  // "" = none
  bool hidden = false;
};

struct RefGraph {
  std::map<std::string, std::map<std::string, float>> edges;  // user -> product -> weight
  std::map<std::string, RefProduct> products;
  std::set<std::string> users;
};

inline std::string Num(float v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.9g", v);
  return buf;
}

// `n` messages over `users` × `products`; features have dimension `dim` (the store's fixed one).
// About 78% purchases, 14% product events, 8% bad messages of every kind. Products with ids at
// or above products*3/4 get their product events only in the last tenth of the stream, after
// purchases of them (a purchase before its product). Weights and feature values are exact in
// binary, so sums and parses compare exactly.
inline std::vector<Message> GenerateStream(int n, int users, int products, int dim, uint64_t seed,
                                           RefGraph* ref, int64_t max_message_bytes = 4096) {
  std::mt19937_64 rng(seed);
  auto pick = [&](int m) { return static_cast<int>(rng() % static_cast<uint64_t>(m)); };
  const float weights[] = {1.0f, 2.0f, 0.5f};
  std::vector<Message> out;
  out.reserve(n);
  const int late_products = products * 3 / 4;
  static const char* kBadKinds[] = {"bad_json", "unknown_type", "missing_field", "bad_field", "id_too_long",
                                    "bad_weight", "bad_features", "non_finite_feature", "bad_base64",
                                    "feature_dim_mismatch", "message_too_large", "bad_ts"};
  for (int i = 0; i < n; ++i) {
    Message m;
    const int roll = pick(100);
    const bool late = i >= n - n / 10;
    if (roll < 8) {  // a bad message
      const std::string kind = kBadKinds[pick(sizeof(kBadKinds) / sizeof(kBadKinds[0]))];
      m.reason = kind;
      m.key = "bad" + std::to_string(i);
      if (kind == "bad_json") m.value = R"({"type":"purchase","user":"u1",)";
      if (kind == "unknown_type") m.value = R"({"type":"refund","user":"u1","product":"p1"})";
      if (kind == "missing_field") m.value = R"({"type":"purchase","product":"p1"})";
      if (kind == "bad_field") m.value = R"({"type":"purchase","user":17,"product":"p1"})";
      if (kind == "id_too_long") m.value = R"({"type":"purchase","user":")" + std::string(300, 'x') + R"(","product":"p1"})";
      if (kind == "bad_weight") m.value = R"({"type":"purchase","user":"u1","product":"p1","weight":-2})";
      if (kind == "bad_features") m.value = R"({"type":"product","product":"p1","features":["a"]})";
      if (kind == "non_finite_feature") {
        std::vector<float> f(dim, 1.0f);
        f[0] = std::nanf("");
        m.value = R"({"type":"product","product":"p1","features_b64":")" +
                  Base64Encode(std::string(reinterpret_cast<const char*>(f.data()), f.size() * 4)) + "\"}";
      }
      if (kind == "bad_base64") m.value = R"({"type":"product","product":"p1","features_b64":"@@@@"})";
      if (kind == "feature_dim_mismatch") m.value = R"({"type":"product","product":"p1","features":[1]})";
      if (kind == "message_too_large") {
        m.value = R"({"type":"purchase","user":"u1","product":"p1","pad":")" +
                  std::string(static_cast<size_t>(max_message_bytes), 'x') + "\"}";
      }
      if (kind == "bad_ts") m.value = R"({"type":"purchase","user":"u1","product":"p1","ts":"soon"})";
    } else if (roll < 86) {  // a purchase
      const std::string u = "u" + std::to_string(pick(users));
      int p = pick(products);
      if (!late && p >= late_products && pick(2) == 0) p -= late_products / 2;  // mostly early ones
      const std::string prod = "p" + std::to_string(p);
      const float w = weights[pick(3)];
      m.key = u;
      m.value = R"({"type":"purchase","user":")" + u + R"(","product":")" + prod + "\"" +
                (w == 1.0f && pick(2) ? "" : ",\"weight\":" + Num(w)) + ",\"ts\":" + std::to_string(1700000000 + i) +
                ",\"event_id\":\"e" + std::to_string(i) + "\"}";
      ref->edges[u][prod] += w;
      ref->users.insert(u);
      ref->products[prod];
    } else {  // a product event
      int p = pick(products);
      if (p >= late_products && !late) p -= late_products / 2;
      const std::string prod = "p" + std::to_string(p);
      RefProduct& rp = ref->products[prod];
      m.key = prod;
      std::string v = R"({"type":"product","product":")" + prod + "\"";
      const int what = pick(5);
      if (what <= 1) {
        std::vector<float> f(dim);
        for (float& x : f) x = static_cast<float>(pick(64) - 32) * 0.25f;
        if (what == 0) {
          v += ",\"features\":[";
          for (int d = 0; d < dim; ++d) v += (d ? "," : "") + Num(f[d]);
          v += "]";
        } else {
          v += ",\"features_b64\":\"" + Base64Encode(std::string(reinterpret_cast<const char*>(f.data()), f.size() * 4)) + "\"";
        }
        rp.features = f;
      } else if (what == 2) {
        rp.categories = {"c" + std::to_string(pick(5)), "c" + std::to_string(5 + pick(5))};
        v += ",\"categories\":[\"" + rp.categories[0] + "\",\"" + rp.categories[1] + "\"]";
        rp.meta = "{\"title\":\"t" + std::to_string(i) + "\"}";
        v += ",\"meta\":" + rp.meta;
      } else {
        rp.hidden = what == 3;
        v += rp.hidden ? ",\"available\":false" : ",\"available\":true";
      }
      m.value = v + "}";
    }
    out.push_back(std::move(m));
  }
  return out;
}

inline int CountValid(const std::vector<Message>& messages) {
  int n = 0;
  for (const Message& m : messages) n += m.reason.empty();
  return n;
}

// Asserts the store holds exactly the reference graph (compared by string ids: dense ids depend
// on arrival order, which differs between partitions and runs).
inline void ExpectStoreEquals(const GraphStore& store, const RefGraph& ref) {
  std::map<std::string, std::map<std::string, float>> edges;
  int64_t n_edges = 0;
  Status s = store.ForEachEdge([&](int32_t u, int32_t p, float w) {
    std::string un, pn;
    EXPECT_TRUE(store.UserName(u, &un));
    EXPECT_TRUE(store.ProductName(p, &pn));
    edges[un][pn] = w;
    ++n_edges;
    return true;
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(edges == ref.edges) << "stored graph differs from the reference";
  if (edges != ref.edges) {
    int shown = 0;
    for (auto& [u, row] : ref.edges) {
      for (auto& [p, w] : row) {
        auto it = edges.find(u);
        float got = (it == edges.end() || !it->second.count(p)) ? -1.0f : it->second.at(p);
        if (got != w && shown++ < 10) ADD_FAILURE() << u << "->" << p << " expected " << w << " got " << got;
      }
    }
  }
  GraphCounters c = store.counters();
  int64_t ref_edges = 0, with_features = 0, hidden = 0;
  for (auto& [u, row] : ref.edges) ref_edges += static_cast<int64_t>(row.size());
  EXPECT_EQ(n_edges, ref_edges);
  EXPECT_EQ(c.edges, ref_edges);
  EXPECT_EQ(c.users, static_cast<int64_t>(ref.users.size()));
  EXPECT_EQ(c.products, static_cast<int64_t>(ref.products.size()));
  for (auto& [id, rp] : ref.products) {
    int32_t dense;
    ASSERT_TRUE(store.FindProduct(id, &dense)) << id;
    std::vector<float> f;
    Status fs = store.ProductFeatures(dense, &f);
    if (rp.features.empty()) {
      EXPECT_EQ(fs.code(), Code::kNotFound) << id;
    } else {
      ++with_features;
      EXPECT_EQ(f, rp.features) << id;
    }
    std::vector<std::string> cats;
    EXPECT_TRUE(store.ProductCategories(dense, &cats).ok());
    EXPECT_EQ(cats, rp.categories) << id;
    std::string meta;
    Status ms = store.ProductMeta(dense, &meta);
    EXPECT_EQ(ms.ok() ? meta : "", rp.meta) << id;
    EXPECT_EQ(store.ProductAvailable(dense), !rp.hidden) << id;
    hidden += rp.hidden;
  }
  EXPECT_EQ(c.products_with_features, with_features);
  EXPECT_EQ(c.unavailable_products, hidden);
}

}  // namespace testing_stream
}  // namespace vasgd
