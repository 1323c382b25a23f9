// The default static membership id (stream/group_instance_id.h): stable for one host and data
// directory, distinct otherwise, and always an id a broker accepts.
#include "stream/group_instance_id.h"

#include <gtest/gtest.h>

#include <cctype>
#include <string>

namespace vasgd {
namespace {

bool LegalForBroker(const std::string& id) {
  if (id.empty() || id.size() > 249) return false;
  for (char c : id) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) return false;
  }
  return true;
}

TEST(GroupInstanceId, SameHostAndDirectoryGiveTheSameId) {
  EXPECT_EQ(DerivedGroupInstanceId("shop-db-1", "/var/lib/vasgd"), DerivedGroupInstanceId("shop-db-1", "/var/lib/vasgd"));
  // The same directory written differently is the same daemon.
  EXPECT_EQ(DerivedGroupInstanceId("shop-db-1", "/var/lib/vasgd"), DerivedGroupInstanceId("shop-db-1", "/var/lib//vasgd/"));
}

TEST(GroupInstanceId, OtherHostOrDirectoryGivesAnotherId) {
  const std::string id = DerivedGroupInstanceId("shop-db-1", "/var/lib/vasgd");
  EXPECT_NE(id, DerivedGroupInstanceId("shop-db-2", "/var/lib/vasgd"));
  EXPECT_NE(id, DerivedGroupInstanceId("shop-db-1", "/srv/vasgd"));
  // Same last component, other parent: the hash tells them apart.
  EXPECT_NE(DerivedGroupInstanceId("h", "/a/data"), DerivedGroupInstanceId("h", "/b/data"));
}

TEST(GroupInstanceId, IsReadableAndLegalWhateverTheNames) {
  const std::string id = DerivedGroupInstanceId("shop-db-1", "/var/lib/vasgd");
  EXPECT_EQ(id.rfind("vasgd-shop-db-1-vasgd-", 0), 0u) << id;
  EXPECT_TRUE(LegalForBroker(id)) << id;
  const std::string odd = DerivedGroupInstanceId("höst name:1", "/tmp/dir with spaces/ü");
  EXPECT_TRUE(LegalForBroker(odd)) << odd;
  const std::string long_one = DerivedGroupInstanceId(std::string(300, 'h'), "/" + std::string(300, 'd'));
  EXPECT_TRUE(LegalForBroker(long_one)) << long_one.size();
  EXPECT_NE(long_one, DerivedGroupInstanceId(std::string(300, 'h'), "/" + std::string(300, 'e')))
      << "cut names still differ by their hash";
}

TEST(GroupInstanceId, AutoIsDerivedEmptyMeansDynamicOthersAreKept) {
  EXPECT_EQ(ResolveGroupInstanceId("", "/var/lib/vasgd"), "");
  EXPECT_EQ(ResolveGroupInstanceId("shop-1", "/var/lib/vasgd"), "shop-1");
  const std::string derived = ResolveGroupInstanceId(kAutoGroupInstanceId, "/var/lib/vasgd");
  EXPECT_TRUE(LegalForBroker(derived)) << derived;
  EXPECT_EQ(derived, ResolveGroupInstanceId(kAutoGroupInstanceId, "/var/lib/vasgd"));
}

}  // namespace
}  // namespace vasgd
