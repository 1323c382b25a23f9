#include "common/config_file.h"

#include <gtest/gtest.h>

namespace vasgd {
namespace {

TEST(ConfigFile, ShippedFileEqualsCompiledDefaults) {
  // config/vasgd.toml documents every knob with its default: it must load and change nothing.
  Config from_file;
  Status st = LoadConfigFile(std::string(VASGD_SOURCE_DIR) + "/config/vasgd.toml", &from_file);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(DescribeConfig(from_file), DescribeConfig(Config{}));
}

TEST(ConfigFile, ShippedFileNamesEveryKnob) {
  std::string described = DescribeConfig(Config{});
  FILE* f = std::fopen((std::string(VASGD_SOURCE_DIR) + "/config/vasgd.toml").c_str(), "r");
  ASSERT_NE(f, nullptr);
  std::string text;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) text.append(buf, n);
  std::fclose(f);
  size_t pos = 0;
  while (pos < described.size()) {
    size_t eol = described.find('\n', pos);
    std::string line = described.substr(pos, eol - pos);
    std::string key = line.substr(line.find('.') + 1, line.find(' ') - line.find('.') - 1);
    EXPECT_NE(text.find("\n" + key + " ="), std::string::npos) << "vasgd.toml lacks " << line;
    pos = eol + 1;
  }
}

// The example deployment's configs (docs/deploy/) stay loadable as the knobs change.
TEST(ConfigFile, DeploymentExamplesLoad) {
  for (const char* role : {"trainer", "replica"}) {
    Config c;
    Status st = LoadConfigFile(std::string(VASGD_SOURCE_DIR) + "/docs/deploy/" + role + ".toml", &c);
    ASSERT_TRUE(st.ok()) << role << ": " << st.ToString();
    EXPECT_EQ(c.cluster.role, role);
    EXPECT_EQ(c.cluster.shared_models, "/mnt/vasgd-models");
    EXPECT_FALSE(c.kafka.brokers.empty());
  }
}

TEST(ConfigFile, ClusterRoleIsChecked) {
  Config c;
  Status st = LoadConfigText("[cluster]\nrole = \"leader\"\n", &c);
  EXPECT_EQ(st.code(), Code::kInvalidArgument);
  EXPECT_NE(st.message().find("cluster.role"), std::string::npos);
  Config d;
  EXPECT_EQ(LoadConfigText("[cluster]\npoll_interval_ms = 0\n", &d).code(), Code::kInvalidArgument);
}

TEST(ConfigFile, UnknownKeyIsAnError) {
  Config c;
  Status st = LoadConfigText("[train]\ndimm = 3\n", &c);
  EXPECT_EQ(st.code(), Code::kInvalidArgument);
  EXPECT_NE(st.message().find("train.dimm"), std::string::npos);
}

TEST(ConfigFile, WrongTypeIsAnError) {
  Config c;
  Status st = LoadConfigText("[http]\nthreads = \"two\"\n", &c);
  EXPECT_EQ(st.code(), Code::kInvalidArgument);
  EXPECT_NE(st.message().find("http.threads"), std::string::npos);
}

TEST(ConfigFile, ValuesOverrideDefaults) {
  Config c;
  ASSERT_TRUE(LoadConfigText("[train]\ndim = 32\ndecoder_widths = [64, 128]\n[kafka]\ntopics=[\"a\",\"b\"]\n", &c).ok());
  EXPECT_EQ(c.train.dim, 32);
  EXPECT_EQ(c.train.decoder_widths, (std::vector<int>{64, 128}));
  EXPECT_EQ(c.kafka.topics, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(c.http.threads, Config{}.http.threads);
}

TEST(ConfigFile, InvalidValueIsRejected) {
  Config c;
  EXPECT_FALSE(LoadConfigText("[train]\ndevice = \"tpu\"\n", &c).ok());
  Config d;
  EXPECT_FALSE(LoadConfigText("[train]\ndim = 0\n", &d).ok());
}

TEST(ConfigFile, KafkaGroupInstanceIdIsAutoEmptyOrALegalBrokerId) {
  for (const char* ok : {"auto", "", "shop-1.eu_west"}) {
    Config c;
    EXPECT_TRUE(LoadConfigText(std::string("[kafka]\ngroup_instance_id = \"") + ok + "\"\n", &c).ok()) << ok;
    EXPECT_EQ(c.kafka.group_instance_id, ok);
  }
  for (const std::string& bad : {std::string("shop 1"), std::string("a/b"), std::string(250, 'x')}) {
    Config c;
    Status st = LoadConfigText("[kafka]\ngroup_instance_id = \"" + bad + "\"\n", &c);
    EXPECT_EQ(st.code(), Code::kInvalidArgument) << bad;
    EXPECT_NE(st.message().find("kafka.group_instance_id"), std::string::npos) << st.message();
  }
}

TEST(ConfigFile, KafkaPartitionsIsAllOrGroup) {
  for (const char* ok : {"all", "group"}) {
    Config c;
    EXPECT_TRUE(LoadConfigText(std::string("[kafka]\npartitions = \"") + ok + "\"\n", &c).ok()) << ok;
    EXPECT_EQ(c.kafka.partitions, ok);
  }
  Config c;
  Status st = LoadConfigText("[kafka]\npartitions = \"some\"\n", &c);
  EXPECT_EQ(st.code(), Code::kInvalidArgument);
  EXPECT_NE(st.message().find("kafka.partitions"), std::string::npos) << st.message();
  Config d;
  EXPECT_FALSE(LoadConfigText("[kafka]\npartition_refresh_ms = 0\n", &d).ok());
}

TEST(ConfigFile, SecretsComeFromEnvironmentAndAreRedacted) {
  Config c;
  setenv("VASGD_ADMIN_TOKEN", "s3cret-admin", 1);
  ApplyEnvironment(&c);
  unsetenv("VASGD_ADMIN_TOKEN");
  EXPECT_EQ(c.http.admin_token, "s3cret-admin");
  EXPECT_EQ(DescribeConfig(c).find("s3cret-admin"), std::string::npos);
}

}  // namespace
}  // namespace vasgd
