// The serving side of the hybrid (rank/hybrid_ranker.h) on a real ProductIndex: the candidate
// mode that catalogues above index.exact_below use against the exhaustive formula.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <random>
#include <set>

#include "index/product_index.h"
#include "rank/hybrid.h"
#include "rank/hybrid_ranker.h"
#include "model/neighbour_lists.h"

namespace vasgd {
namespace {

constexpr int kProducts = 3000, kUsers = 40, kDim = 8;

// Random vectors, popularity and arrival order that disagree with each other, so each candidate
// source (V, the prior) must bring its own products.
std::shared_ptr<ModelVersion> RandomShop() {
  auto m = std::make_shared<ModelVersion>();
  m->version = "shop";
  m->dim = kDim;
  std::mt19937 rng(7);
  std::normal_distribution<float> gauss;
  std::uniform_real_distribution<float> bought(0, 200);
  for (int p = 0; p < kProducts; ++p) {
    m->product_ids.push_back("p" + std::to_string(p));
    for (int d = 0; d < kDim; ++d) m->product_vectors.push_back(gauss(rng));
    m->product_kind.push_back(static_cast<uint8_t>(ProductKind::kWarm));
    m->popularity.push_back(bought(rng) * bought(rng) / 200);
  }
  for (int u = 0; u < kUsers; ++u) {
    m->user_ids.push_back("u" + std::to_string(u));
    for (int d = 0; d < kDim; ++d) m->user_vectors.push_back(gauss(rng));
  }
  return m;
}

HybridWeights PriorHeavy() {  // the weights TikTok's served model chose (docs/BENCHMARKS.md)
  HybridWeights w;
  w.neighbours = 1;
  w.vasg = 2;
  w.popularity = 1.6f;
  w.freshness = 1.6f;
  return w;
}

HybridWeights VAlone() {  // the page is V's order
  HybridWeights w;
  w.neighbours = 0;
  w.vasg = 1;
  return w;
}

std::unique_ptr<ProductIndex> IndexOf(const ModelVersion& m, int64_t exact_below) {
  IndexOptions options;
  options.exact_below = exact_below;
  Result<std::unique_ptr<ProductIndex>> index = ProductIndex::Build(m, options);
  EXPECT_TRUE(index.ok()) << index.status().ToString();
  return std::move(*index);
}

std::vector<int32_t> Page(const ProductIndex& index, const HybridTables& tables, const ModelVersion& m, int u,
                          const std::vector<int32_t>& purchased, int candidates, HybridStats* stats,
                          const UserCandidates* nearest = nullptr) {
  HybridScorer scorer(&tables);
  SearchFilter filter;
  filter.excluded = purchased;
  HybridRequest r;
  r.purchased = purchased.data();
  r.num_purchased = static_cast<int64_t>(purchased.size());
  r.user_vector = u >= 0 ? m.user(u) : nullptr;  // -1: a user without a vector
  r.k = 20;
  r.candidates = candidates;
  r.nearest = nearest;
  r.user_row = u;
  Result<std::vector<RankedProduct>> page = RankHybrid(index, tables, &scorer, filter, r, stats);
  EXPECT_TRUE(page.ok()) << page.status().ToString();
  std::vector<int32_t> labels;
  for (const RankedProduct& p : *page) labels.push_back(p.label);
  return labels;
}

TEST(HybridTables, ByPriorOrdersTheModelsProductsByPopularityAndFreshness) {
  auto m = RandomShop();
  HybridTables tables(m, PriorHeavy());
  const std::vector<int32_t>& order = tables.ByPrior();
  ASSERT_EQ(order.size(), static_cast<size_t>(kProducts));
  HybridScorer scorer(&tables);
  scorer.Prepare({nullptr, 0, nullptr});  // no lists, no profile: the score is the prior alone
  for (size_t i = 1; i < order.size(); ++i) ASSERT_GE(scorer.Score(order[i - 1], 0), scorer.Score(order[i], 0)) << i;
  HybridWeights popular_only = PriorHeavy();
  popular_only.freshness = 0;
  tables.set_weights(popular_only);
  EXPECT_EQ(tables.ByPrior().front(), std::max_element(m->popularity.begin(), m->popularity.end()) - m->popularity.begin());
}

// With the user's purchases excluded, the candidate page is the exhaustive page: the products
// the prior puts first (whatever their V) and those V puts first (whatever their prior) are all
// candidates. Before the prior became a candidate source (popularity and the newest products
// separately), products good on both counts but first on neither were missed.
TEST(RankHybrid, CandidateModeReturnsTheExhaustivePage) {
  auto m = RandomShop();
  HybridTables tables(m, PriorHeavy());
  auto exhaustive = IndexOf(*m, kProducts + 1);
  auto candidates = IndexOf(*m, 1);
  std::mt19937 rng(11);
  std::uniform_int_distribution<int32_t> any(0, kProducts - 1);
  int64_t same = 0, total = 0;
  for (int u = 0; u < kUsers; ++u) {
    std::set<int32_t> bought;
    while (bought.size() < 10) bought.insert(any(rng));
    // A purchase among the prior's best, so exclusion is exercised where it matters.
    bought.insert(tables.ByPrior()[u % 5]);
    const std::vector<int32_t> purchased(bought.begin(), bought.end());
    HybridStats e_stats, c_stats;
    const std::vector<int32_t> want = Page(*exhaustive, tables, *m, u, purchased, 100, &e_stats);
    const std::vector<int32_t> got = Page(*candidates, tables, *m, u, purchased, 100, &c_stats);
    ASSERT_TRUE(e_stats.exhaustive);
    ASSERT_FALSE(c_stats.exhaustive);
    EXPECT_LT(c_stats.scored, kProducts / 5) << "candidate mode scores a few hundred products, not the catalogue";
    ASSERT_EQ(got.size(), 20u);
    for (int32_t p : got) EXPECT_FALSE(bought.count(p)) << "user " << u << " was offered purchased product " << p;
    for (int32_t p : got) same += std::count(want.begin(), want.end(), p);
    total += static_cast<int64_t>(want.size());
    EXPECT_EQ(got, want) << "user " << u;
  }
  EXPECT_EQ(same, total);
}

// With lists (20 random neighbours a product), a user of 30 purchases reaches hundreds of
// products. Candidate mode walks that reach best first by lists term plus prior, only as far as
// it can matter: the pages agree with the exhaustive ones as when the whole reach was scored,
// and fewer products are scored than reached.
TEST(RankHybrid, TheReachIsWalkedAsFarAsItCanMatter) {
  auto m = RandomShop();
  std::mt19937 rng(13);
  std::uniform_int_distribution<int32_t> any(0, kProducts - 1);
  std::uniform_real_distribution<float> weight(0.01f, 1.f);
  NeighbourLists& lists = m->neighbour_lists;
  lists.family = "rp3b";
  lists.num_products = kProducts;
  lists.offsets.push_back(0);
  for (int p = 0; p < kProducts; ++p) {
    for (int e = 0; e < 20; ++e) {
      lists.neighbours.push_back(any(rng));
      lists.weights.push_back(weight(rng));
    }
    lists.offsets.push_back(static_cast<int64_t>(lists.neighbours.size()));
  }
  HybridTables tables(m, PriorHeavy());
  auto exhaustive = IndexOf(*m, kProducts + 1);
  auto candidates = IndexOf(*m, 1);
  int pruned = 0;
  int64_t same = 0, total = 0, scored = 0, reached = 0;
  for (int u = 0; u < kUsers; ++u) {
    std::set<int32_t> bought;
    while (bought.size() < 30) bought.insert(any(rng));
    const std::vector<int32_t> purchased(bought.begin(), bought.end());
    HybridScorer scorer(&tables);
    scorer.Prepare({purchased.data(), static_cast<int64_t>(purchased.size()), m->user(u)});
    const int64_t reach = static_cast<int64_t>(scorer.Reached().size());
    HybridStats e_stats, c_stats;
    const std::vector<int32_t> want = Page(*exhaustive, tables, *m, u, purchased, 50, &e_stats);
    const std::vector<int32_t> got = Page(*candidates, tables, *m, u, purchased, 50, &c_stats);
    ASSERT_FALSE(c_stats.exhaustive);
    for (int32_t p : got) same += std::count(want.begin(), want.end(), p);
    total += static_cast<int64_t>(want.size());
    scored += c_stats.scored;
    reached += reach;
    pruned += c_stats.scored < reach ? 1 : 0;
  }
  // 783 of 800 here, the same as when every reached product was scored (29,526 scored then,
  // 14,943 now): the misses are the prior walk's, cut at kPriorDepth.
  EXPECT_GE(same, total * 97 / 100);
  EXPECT_LT(scored, reached) << "the reach was scored whole";
  EXPECT_GT(pruned, kUsers / 2) << "the walk stopped early for too few users: the test checks nothing";
}

// The nearest by V found once per user (what the daemon does when a version loads) serve the
// page the graph walk serves, for every user; the found lists are the graph's own answers.
TEST(UserCandidates, ServeThePageTheGraphWalkServes) {
  auto m = RandomShop();
  HybridTables tables(m, PriorHeavy());
  auto index = IndexOf(*m, 1);
  const UserCandidates nearest = UserCandidates::Find(*index, m->user_vectors.data(), kUsers, 50, 2);
  ASSERT_EQ(nearest.users(), kUsers);
  int count = 0;
  float floor = 0;
  EXPECT_EQ(nearest.Of(kUsers, &count, &floor), nullptr);
  EXPECT_EQ(nearest.Of(-1, &count, &floor), nullptr);
  std::mt19937 rng(5);
  std::uniform_int_distribution<int32_t> any(0, kProducts - 1);
  for (int u = 0; u < kUsers; ++u) {
    const int32_t* labels = nearest.Of(u, &count, &floor);
    ASSERT_NE(labels, nullptr);
    ASSERT_EQ(count, 50);
    Result<std::vector<ScoredProduct>> walk = index->Search(m->user(u), Metric::kCosine, SearchFilter(), 50, 0);
    ASSERT_TRUE(walk.ok());
    for (int i = 0; i < count; ++i) EXPECT_EQ(labels[i], (*walk)[i].label) << "user " << u << " rank " << i;
    EXPECT_FLOAT_EQ(floor, walk->back().score);
    std::set<int32_t> bought;
    while (bought.size() < 10) bought.insert(any(rng));
    bought.insert(labels[u % 3]);  // one of its own nearest: it must drop out when scored
    const std::vector<int32_t> purchased(bought.begin(), bought.end());
    HybridStats walked, found;
    const std::vector<int32_t> want = Page(*index, tables, *m, u, purchased, 50, &walked);
    const std::vector<int32_t> got = Page(*index, tables, *m, u, purchased, 50, &found, &nearest);
    EXPECT_TRUE(walked.walked);
    EXPECT_FALSE(found.walked) << "the nearest found at load replace the walk";
    EXPECT_EQ(got, want) << "user " << u;
    for (int32_t p : got) EXPECT_FALSE(bought.count(p)) << "user " << u << " was offered purchased product " << p;
  }
  // Found 50 at a time, they cannot stand in for a query that wants 100: it walks.
  HybridStats wider;
  Page(*index, tables, *m, 0, {}, 100, &wider, &nearest);
  EXPECT_TRUE(wider.walked);
}

// A product made unavailable after the nearest were found is never served from them.
TEST(UserCandidates, AProductMadeUnavailableLaterIsNotServed) {
  auto m = RandomShop();
  HybridTables tables(m, VAlone());
  auto index = IndexOf(*m, 1);
  const UserCandidates nearest = UserCandidates::Find(*index, m->user_vectors.data(), kUsers, 50, 1);
  int count = 0;
  float floor = 0;
  const int32_t first = nearest.Of(0, &count, &floor)[0];
  HybridStats stats;
  ASSERT_EQ(Page(*index, tables, *m, 0, {}, 50, &stats, &nearest).front(), first);
  ASSERT_TRUE(index->SetAvailable(m->product_ids[first], false).ok());
  const std::vector<int32_t> page = Page(*index, tables, *m, 0, {}, 50, &stats, &nearest);
  EXPECT_FALSE(stats.walked);
  ASSERT_EQ(page.size(), 20u);
  EXPECT_EQ(std::count(page.begin(), page.end(), first), 0);
  EXPECT_EQ(page, Page(*index, tables, *m, 0, {}, 50, &stats)) << "the walk's page, without the product";
}

// Extend gives each user the nearest over every product indexed now: the brute-force top 50 by
// cosine, where the lists it extends were the brute-force top 50 of the products then.
TEST(UserCandidates, ExtendEqualsTheNearestOverEveryProductIndexedNow) {
  auto m = RandomShop();
  auto index = IndexOf(*m, 1);
  auto brute = [&](int u, int64_t products) {
    std::vector<float> v(products);
    const int64_t n = index->CosineRange(m->user(u), SearchFilter(), 0, products, v.data());
    std::vector<std::pair<float, int32_t>> all;
    for (int64_t i = 0; i < n; ++i) all.push_back({-v[i], static_cast<int32_t>(i)});
    std::sort(all.begin(), all.end());
    std::vector<int32_t> top;
    for (int i = 0; i < 50; ++i) top.push_back(all[i].second);
    return top;
  };
  const UserCandidates found = UserCandidates::Find(*index, m->user_vectors.data(), kUsers, 50, 1);
  int count = 0;
  float floor = 0;
  for (int u = 0; u < kUsers; ++u) {
    const int32_t* labels = found.Of(u, &count, &floor);
    ASSERT_EQ(std::vector<int32_t>(labels, labels + count), brute(u, kProducts)) << "the graph's answer is exact here";
  }
  std::mt19937 rng(21);
  std::normal_distribution<float> gauss;
  for (int i = 0; i < 500; ++i) {
    std::vector<float> v(kDim);
    for (float& x : v) x = gauss(rng);
    ASSERT_TRUE(index->AddProduct("more-" + std::to_string(i), v).ok());
  }
  const UserCandidates extended = found.Extend(*index, m->user_vectors.data());
  EXPECT_EQ(extended.indexed_before(), kProducts + 500);
  int from_new = 0;
  for (int u = 0; u < kUsers; ++u) {
    const int32_t* labels = extended.Of(u, &count, &floor);
    const std::vector<int32_t> want = brute(u, kProducts + 500);
    EXPECT_EQ(std::vector<int32_t>(labels, labels + count), want) << "user " << u;
    from_new += static_cast<int>(std::count_if(want.begin(), want.end(), [](int32_t l) { return l >= kProducts; }));
  }
  EXPECT_GT(from_new, 0) << "no new product reached a list: the test checks nothing";
  // A product made unavailable leaves the lists it was in.
  const int32_t gone = extended.Of(0, &count, &floor)[0];
  ASSERT_TRUE(index->SetAvailable(gone >= kProducts ? "more-" + std::to_string(gone - kProducts) : m->product_ids[gone],
                                  false).ok());
  const UserCandidates again = extended.Extend(*index, m->user_vectors.data());
  const int32_t* labels = again.Of(0, &count, &floor);
  EXPECT_EQ(std::count(labels, labels + count, gone), 0);
  // Nothing new was indexed: the users whose list did not hold it keep theirs, still the
  // brute-force top 50; those whose list held it keep the other 49 (what lies below their floor
  // is not searched again: the floor still bounds it).
  int kept = 0;
  for (int u = 0; u < kUsers; ++u) {
    int before_count = 0;
    const int32_t* before = extended.Of(u, &before_count, &floor);
    const bool held = std::count(before, before + before_count, gone) > 0;
    const int32_t* now = again.Of(u, &count, &floor);
    std::vector<int32_t> want = brute(u, kProducts + 500);
    want.resize(held ? 49 : 50);
    EXPECT_EQ(std::vector<int32_t>(now, now + count), want) << "user " << u;
    kept += held ? 0 : 1;
  }
  EXPECT_GT(kept, 0);
  EXPECT_LT(kept, kUsers);
  // Asked to stop (a daemon shutting down), it returns nothing.
  const std::atomic<bool> stop{true};
  EXPECT_EQ(extended.Extend(*index, m->user_vectors.data(), &stop).per_user(), 0);
}

// Every user's list in `a` equals the one in `b` (and their floors, with `with_floors`).
void ExpectSameLists(const UserCandidates& a, const UserCandidates& b, int64_t users, bool with_floors) {
  int count_a = 0, count_b = 0;
  float floor_a = 0, floor_b = 0;
  for (int64_t u = 0; u < users; ++u) {
    const int32_t* la = a.Of(u, &count_a, &floor_a);
    const int32_t* lb = b.Of(u, &count_b, &floor_b);
    ASSERT_EQ(std::vector<int32_t>(la, la + count_a), std::vector<int32_t>(lb, lb + count_b)) << "user " << u;
    if (with_floors) {
      EXPECT_EQ(floor_a, floor_b) << "user " << u;
    }
  }
}

// The daemon rests in `pace` (serving_state.cc): it is called after every kPaceUsers users, and
// a paced finding or extension gives the same lists as an unpaced one.
TEST(UserCandidates, APacedFindingOrExtensionIsCalledBackEveryFewUsersAndGivesTheSameLists) {
  auto m = RandomShop();
  auto index = IndexOf(*m, 1);
  const int64_t users = 2 * UserCandidates::kPaceUsers + 10;  // the shop's users, over and over
  std::vector<float> rows;
  for (int64_t u = 0; u < users; ++u)
    rows.insert(rows.end(), m->user_vectors.begin() + (u % kUsers) * kDim, m->user_vectors.begin() + (u % kUsers + 1) * kDim);
  int paced_finding = 0;
  const std::function<void()> count_finding = [&] { ++paced_finding; };
  const UserCandidates found = UserCandidates::Find(*index, rows.data(), users, 20, 1, &count_finding);
  const UserCandidates found_unpaced = UserCandidates::Find(*index, rows.data(), users, 20, 1);
  EXPECT_EQ(paced_finding, 2);
  ExpectSameLists(found, found_unpaced, users, /*with_floors=*/false);
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(index->AddProduct("more-" + std::to_string(i), std::vector<float>(kDim, i - 25.f)).ok());
  int paced = 0;
  const std::function<void()> pace = [&] { ++paced; };
  const UserCandidates with = found.Extend(*index, rows.data(), nullptr, &pace);
  const UserCandidates without = found.Extend(*index, rows.data());
  EXPECT_EQ(paced, 2);
  ExpectSameLists(with, without, users, /*with_floors=*/true);
}

// A product indexed after the nearest were found, V's best for the user, is on the user's page
// without a graph walk (the ranker scans the products indexed since); past the scan's limit the
// ranker walks the graph, and the page is the walk's.
TEST(UserCandidates, ProductsIndexedLaterAreScannedThenWalked) {
  auto m = RandomShop();
  HybridTables tables(m, VAlone());
  auto index = IndexOf(*m, 1);
  const UserCandidates nearest = UserCandidates::Find(*index, m->user_vectors.data(), kUsers, 50, 1);
  const std::vector<float> like_user0(m->user(0), m->user(0) + kDim);
  ASSERT_TRUE(index->AddProduct("new-best", like_user0).ok());
  const int32_t best = index->Find("new-best");
  ASSERT_GE(best, nearest.indexed_before());
  HybridStats stats;
  std::vector<int32_t> page = Page(*index, tables, *m, 0, {}, 50, &stats, &nearest);
  EXPECT_FALSE(stats.walked);
  ASSERT_FALSE(page.empty());
  EXPECT_EQ(page.front(), best) << "cos 1 with the user";
  EXPECT_EQ(page, Page(*index, tables, *m, 0, {}, 50, &stats));
  std::mt19937 rng(3);
  std::normal_distribution<float> gauss;
  for (int64_t i = 0; i < UserCandidates::kScanLimit; ++i) {
    std::vector<float> v(kDim);
    for (float& x : v) x = gauss(rng);
    ASSERT_TRUE(index->AddProduct("later-" + std::to_string(i), v).ok());
  }
  page = Page(*index, tables, *m, 0, {}, 50, &stats, &nearest);
  EXPECT_TRUE(stats.walked) << "kScanLimit + 1 products indexed since: past the scan's limit";
  EXPECT_EQ(page.front(), best);
}

// Products indexed after the nearest were found, many of them, fresh and cold, with a cold visual
// term that V does not see: the ranker walks them by their bound (no lists term, popularity 0, fresh 1, V
// known from its scan) and serves the exhaustive page. Taking the `want` best by V and the `want`
// newest, as it did before, missed some the look lifts on every one of these 40 users' pages.
TEST(UserCandidates, ProductsIndexedLaterAreWalkedAsFarAsTheyCanMatter) {
  auto m = RandomShop();
  std::mt19937 rng(17);
  std::normal_distribution<float> gauss;
  m->visual_dim = 4;
  m->visual_mean.assign(4, 0.f);
  m->visual_scale.assign(4, 1.f);
  for (int p = 0; p < kProducts; ++p) {  // unit rows, as the model stores them
    float look[4], norm = 0;
    for (float& x : look) {
      x = gauss(rng);
      norm += x * x;
    }
    for (float x : look) m->visual.push_back(x / std::sqrt(norm));
  }
  HybridWeights w = PriorHeavy();
  w.popularity = 0;
  w.freshness = 3;       // the new products fill most of a page,
  w.cold_visual = 2;     // ordered by their look as much as by V
  HybridTables tables(m, w);
  auto exhaustive = IndexOf(*m, kProducts + 400);
  auto candidates = IndexOf(*m, 1);
  const UserCandidates nearest = UserCandidates::Find(*candidates, m->user_vectors.data(), kUsers, 50, 1);
  for (int i = 0; i < 300; ++i) {
    std::vector<float> v(kDim), look(4);
    for (float& x : v) x = gauss(rng);
    for (float& x : look) x = gauss(rng);
    const std::string id = "later-" + std::to_string(i);
    ASSERT_TRUE(exhaustive->AddProduct(id, v).ok());
    ASSERT_TRUE(candidates->AddProduct(id, v).ok());
    ASSERT_EQ(candidates->Find(id), exhaustive->Find(id));
    tables.AddProduct(candidates->Find(id), look.data());
  }
  std::uniform_int_distribution<int32_t> any(0, kProducts - 1);
  int64_t scored = 0, new_on_pages = 0;
  for (int u = 0; u < kUsers; ++u) {
    std::vector<int32_t> purchased;
    while (purchased.size() < 5) purchased.push_back(any(rng));
    std::sort(purchased.begin(), purchased.end());
    purchased.erase(std::unique(purchased.begin(), purchased.end()), purchased.end());
    HybridStats e_stats, c_stats;
    const std::vector<int32_t> want = Page(*exhaustive, tables, *m, u, purchased, 50, &e_stats);
    const std::vector<int32_t> got = Page(*candidates, tables, *m, u, purchased, 50, &c_stats, &nearest);
    ASSERT_TRUE(e_stats.exhaustive);
    ASSERT_FALSE(c_stats.walked) << "the scan stands in for the graph walk";
    EXPECT_EQ(got, want) << "user " << u;
    scored += c_stats.scored;
    new_on_pages += std::count_if(want.begin(), want.end(), [](int32_t l) { return l >= kProducts; });
  }
  EXPECT_GT(new_on_pages, kUsers * 10) << "the new products must matter for the test to check anything";
  EXPECT_LT(scored, kUsers * 600) << "candidate mode scores hundreds of products, not the catalogue";
}

// The cold order on a served page: with cold_share 3, the cold products the page shows are the
// three eligible cold products best by C (the formula alone would pick others: C here leans on
// the look, the formula on V).
TEST(RankHybrid, TheColdOrderPicksWhichColdProductsAPageShows) {
  auto m = RandomShop();
  std::mt19937 rng(5);
  std::normal_distribution<float> gauss;
  m->visual_dim = 4;
  m->visual_mean.assign(4, 0.f);
  m->visual_scale.assign(4, 1.f);
  for (int p = 0; p < kProducts; ++p) {
    for (int d = 0; d < 4; ++d) m->visual.push_back(gauss(rng));
    if (p % 10 == 3) {
      m->product_kind[p] = static_cast<uint8_t>(ProductKind::kCold);
      m->popularity[p] = 0;
    }
  }
  HybridWeights w = PriorHeavy();
  w.cold_order = true;
  w.cold_order_visual = 8;
  w.cold_order_freshness = 0.2f;
  w.cold_query_idf = 0;
  w.cold_query_lists = 0;
  HybridTables tables(m, w);
  auto index = IndexOf(*m, kProducts + 1);
  int differs = 0;
  for (int u = 0; u < 10; ++u) {
    std::vector<int32_t> purchased = {u * 7, u * 7 + 1};
    HybridScorer scorer(&tables);
    SearchFilter filter;
    filter.excluded = purchased;
    HybridRequest r;
    r.purchased = purchased.data();
    r.num_purchased = 2;
    r.user_vector = m->user(u);
    r.cold_share = 3;
    Result<std::vector<RankedProduct>> page = RankHybrid(*index, tables, &scorer, filter, r);
    ASSERT_TRUE(page.ok());
    std::set<int32_t> shown;
    for (const RankedProduct& p : *page)
      if (tables.IsCold(p.label)) shown.insert(p.label);
    // The three best by C, and by the formula, over every cold product (none was bought).
    std::vector<float> v(kProducts);
    ASSERT_EQ(index->CosineRange(m->user(u), filter, 0, kProducts, v.data()), kProducts);
    std::vector<std::pair<float, int32_t>> by_c, by_formula;
    for (int32_t p = 3; p < kProducts; p += 10) {
      by_c.push_back({-scorer.ColdOrder(p, v[p]), p});
      by_formula.push_back({-scorer.Score(p, v[p]), p});
    }
    std::sort(by_c.begin(), by_c.end());
    std::sort(by_formula.begin(), by_formula.end());
    const std::set<int32_t> want = {by_c[0].second, by_c[1].second, by_c[2].second};
    EXPECT_EQ(shown, want) << "user " << u;
    differs += want != std::set<int32_t>{by_formula[0].second, by_formula[1].second, by_formula[2].second};
  }
  EXPECT_GT(differs, 5) << "the test must tell the cold order from the formula's own";
}

// A product that arrived after the model has pop 0 and fresh 1: with freshness in the formula it
// is a candidate although nothing else brings it (here a user without a vector or lists, ranked
// by freshness alone: the model's newest product and then the new one, ties by label).
TEST(RankHybrid, AProductAddedSinceTheModelIsACandidateWhenFreshnessWeighs) {
  auto m = RandomShop();
  HybridWeights w;
  w.neighbours = 0;
  w.freshness = 1;
  HybridTables tables(m, w);
  auto index = IndexOf(*m, 1);
  ASSERT_TRUE(index->AddProduct("new", std::vector<float>(m->user(0), m->user(0) + kDim)).ok());
  const int32_t label = index->Find("new");
  ASSERT_EQ(label, kProducts);
  tables.AddProduct(label, nullptr);
  HybridStats stats;
  const std::vector<int32_t> page = Page(*index, tables, *m, -1, {}, 50, &stats);
  ASSERT_FALSE(stats.exhaustive);
  ASSERT_GE(page.size(), 2u);
  EXPECT_EQ(page[0], kProducts - 1);
  EXPECT_EQ(page[1], label);
}

}  // namespace
}  // namespace vasgd
