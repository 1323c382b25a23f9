#include "common/config_file.h"

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <map>
#include <sstream>
#include <toml++/toml.h>

namespace vasgd {
namespace {

// One place lists every knob; loading, describing and the file check all walk this list.
struct Knob {
  const char* section;
  const char* key;
  std::function<bool(const toml::node&)> set;  // false = wrong type
  std::function<std::string()> show;
  bool secret = false;
};

template <typename T>
Knob Int(const char* s, const char* k, T* field) {
  return {s, k,
          [field](const toml::node& n) {
            auto v = n.value<int64_t>();
            if (!v) return false;
            *field = static_cast<T>(*v);
            return true;
          },
          [field] { return std::to_string(*field); }};
}
Knob Real(const char* s, const char* k, double* field) {
  return {s, k,
          [field](const toml::node& n) {
            auto v = n.value<double>();
            if (!v) return false;
            *field = *v;
            return true;
          },
          [field] { std::ostringstream o; o << *field; return o.str(); }};
}
Knob Bool(const char* s, const char* k, bool* field) {
  return {s, k,
          [field](const toml::node& n) {
            auto v = n.value<bool>();
            if (!v) return false;
            *field = *v;
            return true;
          },
          [field] { return std::string(*field ? "true" : "false"); }};
}
Knob Str(const char* s, const char* k, std::string* field, bool secret = false) {
  return {s, k,
          [field](const toml::node& n) {
            auto v = n.value<std::string>();
            if (!v) return false;
            *field = *v;
            return true;
          },
          [field, secret] {
            if (secret) return std::string(field->empty() ? "\"\"" : "\"<redacted>\"");
            return "\"" + *field + "\"";
          },
          secret};
}
template <typename T>
Knob List(const char* s, const char* k, std::vector<T>* field) {
  return {s, k,
          [field](const toml::node& n) {
            const toml::array* a = n.as_array();
            if (!a) return false;
            std::vector<T> out;
            for (const toml::node& e : *a) {
              auto v = e.value<T>();
              if (!v) return false;
              out.push_back(*v);
            }
            *field = std::move(out);
            return true;
          },
          [field] {
            std::ostringstream o;
            o << "[";
            for (size_t i = 0; i < field->size(); ++i) {
              if (i) o << ", ";
              if constexpr (std::is_same_v<T, std::string>) o << "\"" << (*field)[i] << "\"";
              else o << (*field)[i];
            }
            o << "]";
            return o.str();
          }};
}

std::vector<Knob> Knobs(Config* c) {
  StoreOptions& st = c->store;
  KafkaOptions& kf = c->kafka;
  TrainOptions& tr = c->train;
  IndexOptions& ix = c->index;
  HttpOptions& ht = c->http;
  RetrainOptions& rt = c->retrain;
  NeighbourOptions& nb = c->neighbours;
  HybridOptions& hy = c->hybrid;
  LogOptions& lg = c->log;
  DashboardOptions& db = c->dashboard;
  ClusterOptions& cl = c->cluster;
  return {
      Str("store", "data_dir", &st.data_dir),
      Bool("store", "sync_writes", &st.sync_writes),
      Int("store", "block_cache_mb", &st.block_cache_mb),
      Int("store", "write_buffer_mb", &st.write_buffer_mb),
      Int("store", "read_cache_mb", &st.read_cache_mb),
      Int("store", "feature_dim", &st.feature_dim),
      Int("store", "max_id_bytes", &st.max_id_bytes),

      Str("kafka", "brokers", &kf.brokers),
      Str("kafka", "partitions", &kf.partitions),
      Int("kafka", "partition_refresh_ms", &kf.partition_refresh_ms),
      Str("kafka", "group", &kf.group),
      List("kafka", "topics", &kf.topics),
      Str("kafka", "dead_letter_topic", &kf.dead_letter_topic),
      Int("kafka", "batch_max_events", &kf.batch_max_events),
      Int("kafka", "batch_max_wait_ms", &kf.batch_max_wait_ms),
      Int("kafka", "session_timeout_ms", &kf.session_timeout_ms),
      Str("kafka", "assignment_strategy", &kf.assignment_strategy),
      Str("kafka", "group_instance_id", &kf.group_instance_id),
      Int("kafka", "max_message_bytes", &kf.max_message_bytes),
      Int("kafka", "prefetch_max_kb", &kf.prefetch_max_kb),
      Int("kafka", "prefetch_max_batches", &kf.prefetch_max_batches),
      Int("kafka", "fetch_max_kb", &kf.fetch_max_kb),
      Int("kafka", "partition_fetch_max_kb", &kf.partition_fetch_max_kb),

      Int("train", "dim", &tr.dim),
      Int("train", "walks_per_node", &tr.walks_per_node),
      Int("train", "walk_length", &tr.walk_length),
      Int("train", "max_walk_tokens", &tr.max_walk_tokens),
      Int("train", "window", &tr.window),
      Int("train", "negatives", &tr.negatives),
      Real("train", "negative_power", &tr.negative_power),
      Int("train", "epochs", &tr.epochs),
      Real("train", "learning_rate", &tr.learning_rate),
      Str("train", "optimizer", &tr.optimizer),
      Real("train", "embedding_learning_rate", &tr.embedding_learning_rate),
      Bool("train", "typed_negatives", &tr.typed_negatives),
      Bool("train", "shrink_window", &tr.shrink_window),
      Str("train", "contexts", &tr.contexts),
      Str("train", "kernel", &tr.kernel),
      Real("train", "decoder_sample_rate", &tr.decoder_sample_rate),
      Real("train", "encoder_anchor_weight", &tr.encoder_anchor_weight),
      Real("train", "encoder_rank_weight", &tr.encoder_rank_weight),
      Real("train", "cold_profile_weight", &tr.cold_profile_weight),
      Int("train", "batch_size", &tr.batch_size),
      List("train", "decoder_widths", &tr.decoder_widths),
      Real("train", "dropout", &tr.dropout),
      Bool("train", "use_decoder", &tr.use_decoder),
      Int("train", "encoder_epochs", &tr.encoder_epochs),
      Int("train", "encoder_max_examples", &tr.encoder_max_examples),
      Real("train", "encoder_noise_std", &tr.encoder_noise_std),
      Str("train", "score", &tr.score),
      Str("train", "device", &tr.device),
      Bool("train", "mixed_precision", &tr.mixed_precision),
      Int("train", "threads", &tr.threads),
      Int("train", "seed", &tr.seed),
      Bool("train", "warm_start", &tr.warm_start),
      Real("train", "warm_start_epoch_fraction", &tr.warm_start_epoch_fraction),

      Int("index", "hnsw_m", &ix.hnsw_m),
      Int("index", "ef_construction", &ix.ef_construction),
      Int("index", "ef_search", &ix.ef_search),
      Int("index", "exact_below", &ix.exact_below),
      Bool("index", "walk_fp16", &ix.walk_fp16),

      Int("neighbours", "top_k", &nb.top_k),
      Int("neighbours", "max_user_degree", &nb.max_user_degree),
      List("neighbours", "rp3b_alphas", &nb.rp3b_alphas),
      List("neighbours", "rp3b_betas", &nb.rp3b_betas),
      List("neighbours", "itemknn_shrinks", &nb.itemknn_shrinks),
      List("neighbours", "ease_lambdas", &nb.ease_lambdas),
      Int("neighbours", "ease_max_products", &nb.ease_max_products),

      Str("hybrid", "ranking", &hy.ranking),
      Int("hybrid", "cold_share", &hy.cold_share),
      List("hybrid", "neighbour_weights", &hy.neighbour_weights),
      List("hybrid", "ease_weights", &hy.ease_weights),
      List("hybrid", "vasg_weights", &hy.vasg_weights),
      List("hybrid", "popularity_weights", &hy.popularity_weights),
      List("hybrid", "freshness_weights", &hy.freshness_weights),
      List("hybrid", "visual_weights", &hy.visual_weights),
      List("hybrid", "cold_visual_weights", &hy.cold_visual_weights),
      Bool("hybrid", "cold_order", &hy.cold_order),
      List("hybrid", "cold_order_visual_weights", &hy.cold_order_visual_weights),
      List("hybrid", "cold_order_freshness_weights", &hy.cold_order_freshness_weights),
      Int("hybrid", "cold_order_min_pairs", &hy.cold_order_min_pairs),
      Real("hybrid", "cold_query_idf", &hy.cold_query_idf),
      Real("hybrid", "cold_query_list_weight", &hy.cold_query_list_weight),
      Int("hybrid", "cold_query_list_top", &hy.cold_query_list_top),
      List("hybrid", "similar_list_weights", &hy.similar_list_weights),
      Int("hybrid", "choice_candidates", &hy.choice_candidates),
      Int("hybrid", "serve_candidates", &hy.serve_candidates),
      Bool("hybrid", "nearest_at_load", &hy.nearest_at_load),

      Str("http", "listen", &ht.listen),
      Int("http", "threads", &ht.threads),
      Int("http", "max_body_bytes", &ht.max_body_bytes),
      Int("http", "max_header_bytes", &ht.max_header_bytes),
      Int("http", "request_timeout_ms", &ht.request_timeout_ms),
      Int("http", "idle_timeout_ms", &ht.idle_timeout_ms),
      Int("http", "max_connections", &ht.max_connections),
      Int("http", "max_k", &ht.max_k),
      Int("http", "max_events_per_request", &ht.max_events_per_request),
      Int("http", "worker_nice", &ht.worker_nice),
      Str("http", "admin_token", &ht.admin_token, /*secret=*/true),
      Str("http", "read_token", &ht.read_token, /*secret=*/true),

      Int("retrain", "interval_s", &rt.interval_s),
      Int("retrain", "after_events", &rt.after_events),
      Int("retrain", "keep_versions", &rt.keep_versions),
      Real("retrain", "min_holdout_auc", &rt.min_holdout_auc),
      Real("retrain", "holdout_fraction", &rt.holdout_fraction),
      Int("retrain", "holdout_max_users", &rt.holdout_max_users),
      Str("retrain", "holdout_pick", &rt.holdout_pick),
      Bool("retrain", "refit_vasg", &rt.refit_vasg),
      Bool("retrain", "refit_from_holdout", &rt.refit_from_holdout),
      Str("retrain", "refit_walks", &rt.refit_walks),
      Int("retrain", "timeout_s", &rt.timeout_s),
      Int("retrain", "child_nice", &rt.child_nice),

      Bool("dashboard", "enabled", &db.enabled),
      Int("dashboard", "history_interval_s", &db.history_interval_s),
      Int("dashboard", "history_samples", &db.history_samples),
      Int("dashboard", "training_points", &db.training_points),
      Int("dashboard", "map_points", &db.map_points),
      Int("dashboard", "rejections_kept", &db.rejections_kept),

      Str("cluster", "role", &cl.role),
      Str("cluster", "shared_models", &cl.shared_models),
      Int("cluster", "poll_interval_ms", &cl.poll_interval_ms),
      Int("cluster", "shared_keep_versions", &cl.shared_keep_versions),

      Str("log", "level", &lg.level),
      Bool("log", "json", &lg.json),
  };
}

Status LoadTable(const toml::table& root, Config* config) {
  std::vector<Knob> knobs = Knobs(config);
  std::map<std::string, std::map<std::string, Knob*>> by_section;
  for (Knob& k : knobs) by_section[k.section][k.key] = &k;

  for (const auto& [section_key, section_node] : root) {
    std::string section(section_key.str());
    auto sit = by_section.find(section);
    const toml::table* table = section_node.as_table();
    if (sit == by_section.end() || table == nullptr) {
      return Status::InvalidArgument("config: unknown section [" + section + "]");
    }
    for (const auto& [key, node] : *table) {
      std::string name(key.str());
      auto kit = sit->second.find(name);
      if (kit == sit->second.end()) {
        return Status::InvalidArgument("config: unknown key " + section + "." + name);
      }
      if (!kit->second->set(node)) {
        return Status::InvalidArgument("config: wrong type for " + section + "." + name);
      }
    }
  }
  return ValidateConfig(*config);
}

}  // namespace

Status LoadConfigText(const std::string& toml_text, Config* config) {
  try {
    toml::table root = toml::parse(toml_text);
    return LoadTable(root, config);
  } catch (const toml::parse_error& e) {
    std::ostringstream o;
    o << "config: " << e.description() << " at line " << e.source().begin.line;
    return Status::InvalidArgument(o.str());
  }
}

Status LoadConfigFile(const std::string& path, Config* config) {
  try {
    toml::table root = toml::parse_file(path);
    return LoadTable(root, config);
  } catch (const toml::parse_error& e) {
    std::ostringstream o;
    o << "config " << path << ": " << e.description() << " at line " << e.source().begin.line;
    return Status::InvalidArgument(o.str());
  }
}

void ApplyEnvironment(Config* config) {
  if (const char* v = std::getenv("VASGD_ADMIN_TOKEN"); v && *v) config->http.admin_token = v;
  if (const char* v = std::getenv("VASGD_READ_TOKEN"); v && *v) config->http.read_token = v;
}

std::string DescribeConfig(const Config& config) {
  Config copy = config;
  std::ostringstream o;
  for (const Knob& k : Knobs(&copy)) o << k.section << "." << k.key << " = " << k.show() << "\n";
  return o.str();
}

namespace {

// kafka.group_instance_id: "auto", "" (dynamic membership) or an id the broker accepts.
Status GroupInstanceIdValid(const std::string& id) {
  if (id == "auto" || id.empty()) return Status::Ok();
  const bool legal_length = id.size() <= 249;
  const bool legal_chars = std::all_of(id.begin(), id.end(), [](char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
           ch == '-';
  });
  if (legal_length && legal_chars) return Status::Ok();
  return Status::InvalidArgument("config: kafka.group_instance_id \"" + id +
                                 "\" must be \"auto\", \"\" or at most 249 of [A-Za-z0-9._-]");
}

// [neighbours] and [hybrid]: every grid value must be usable as it stands.
Status ValidateRanking(const NeighbourOptions& n, const HybridOptions& h) {
  auto bad = [](const std::string& what) { return Status::InvalidArgument("config: " + what); };
  if (n.top_k < 1) return bad("neighbours.top_k must be >= 1");
  if (n.max_user_degree < 1) return bad("neighbours.max_user_degree must be >= 1");
  if (n.rp3b_alphas.empty() || n.rp3b_betas.empty()) return bad("neighbours.rp3b_alphas and rp3b_betas need a value each");
  for (double a : n.rp3b_alphas) if (!(a > 0 && a <= 4)) return bad("neighbours.rp3b_alphas must be in (0, 4]");
  for (double b : n.rp3b_betas) if (!(b >= -2 && b <= 2)) return bad("neighbours.rp3b_betas must be in [-2, 2]");
  for (double s : n.itemknn_shrinks) if (!(s >= 0)) return bad("neighbours.itemknn_shrinks must be >= 0");
  for (double l : n.ease_lambdas) if (!(l > 0)) return bad("neighbours.ease_lambdas must be > 0");
  if (n.ease_max_products < 0) return bad("neighbours.ease_max_products must be >= 0");
  if (h.ranking != "hybrid" && h.ranking != "vasg") return bad("hybrid.ranking has unknown value \"" + h.ranking + "\"");
  if (h.cold_share < 0) return bad("hybrid.cold_share must be >= 0");
  if (h.choice_candidates < 1) return bad("hybrid.choice_candidates must be >= 1");
  if (h.serve_candidates < 1) return bad("hybrid.serve_candidates must be >= 1");
  for (const auto* grid : {&h.neighbour_weights, &h.ease_weights, &h.vasg_weights, &h.popularity_weights, &h.visual_weights,
                           &h.freshness_weights, &h.cold_visual_weights, &h.similar_list_weights,
                           &h.cold_order_visual_weights, &h.cold_order_freshness_weights})
    for (double w : *grid) if (!(w >= 0 && w <= 1000)) return bad("hybrid weights must be in [0, 1000]");
  if (h.cold_order_min_pairs < 1) return bad("hybrid.cold_order_min_pairs must be >= 1");
  if (!(h.cold_query_idf >= 0 && h.cold_query_idf <= 4)) return bad("hybrid.cold_query_idf must be in [0, 4]");
  if (!(h.cold_query_list_weight >= 0 && h.cold_query_list_weight <= 100))
    return bad("hybrid.cold_query_list_weight must be in [0, 100]");
  if (h.cold_query_list_top < 0 || h.cold_query_list_top > 100000)
    return bad("hybrid.cold_query_list_top must be in [0, 100000]");
  return Status::Ok();
}

}  // namespace

Status ValidateConfig(const Config& c) {
  auto positive = [](int64_t v, const char* name) {
    return v > 0 ? Status::Ok() : Status::InvalidArgument(std::string("config: ") + name + " must be > 0");
  };
  auto one_of = [](const std::string& v, std::initializer_list<const char*> allowed, const char* name) {
    for (const char* a : allowed) if (v == a) return Status::Ok();
    return Status::InvalidArgument(std::string("config: ") + name + " has unknown value \"" + v + "\"");
  };
  VASGD_RETURN_IF_ERROR(positive(c.train.dim, "train.dim"));
  VASGD_RETURN_IF_ERROR(positive(c.train.walks_per_node, "train.walks_per_node"));
  VASGD_RETURN_IF_ERROR(positive(c.train.walk_length, "train.walk_length"));
  VASGD_RETURN_IF_ERROR(positive(c.train.window, "train.window"));
  VASGD_RETURN_IF_ERROR(positive(c.train.epochs, "train.epochs"));
  VASGD_RETURN_IF_ERROR(positive(c.train.batch_size, "train.batch_size"));
  if (c.train.negatives < 0) return Status::InvalidArgument("config: train.negatives must be >= 0");
  if (c.train.max_walk_tokens < 0 || c.train.encoder_max_examples < 0)
    return Status::InvalidArgument("config: train.max_walk_tokens and train.encoder_max_examples must be >= 0 (0 = no cap)");
  if (c.train.dropout < 0 || c.train.dropout >= 1)
    return Status::InvalidArgument("config: train.dropout must be in [0, 1)");
  VASGD_RETURN_IF_ERROR(one_of(c.train.optimizer, {"adam", "sgd"}, "train.optimizer"));
  VASGD_RETURN_IF_ERROR(one_of(c.train.score, {"auto", "cosine", "dot"}, "train.score"));
  VASGD_RETURN_IF_ERROR(one_of(c.train.device, {"auto", "cpu", "cuda"}, "train.device"));
  VASGD_RETURN_IF_ERROR(one_of(c.train.kernel, {"auto", "hogwild", "torch"}, "train.kernel"));
  if (c.train.window < 3 || c.train.window % 2 == 0)
    return Status::InvalidArgument("config: train.window must be odd and >= 3 (centre included)");
  if (!(c.train.decoder_sample_rate > 0 && c.train.decoder_sample_rate <= 1))
    return Status::InvalidArgument("config: train.decoder_sample_rate must be in (0, 1]");
  if (!(c.train.embedding_learning_rate > 0) || !(c.train.learning_rate > 0))
    return Status::InvalidArgument("config: train learning rates must be > 0");
  if (c.train.encoder_anchor_weight < 0 || c.train.encoder_rank_weight < 0 || c.train.encoder_noise_std < 0)
    return Status::InvalidArgument("config: train.encoder_anchor_weight, encoder_rank_weight and encoder_noise_std must be >= 0");
  if (!(c.train.cold_profile_weight >= 0 && c.train.cold_profile_weight <= 1))
    return Status::InvalidArgument("config: train.cold_profile_weight must be in [0, 1]");
  VASGD_RETURN_IF_ERROR(one_of(c.train.contexts, {"all", "cross"}, "train.contexts"));
  VASGD_RETURN_IF_ERROR(one_of(c.retrain.holdout_pick, {"last", "newest", "random"}, "retrain.holdout_pick"));
  VASGD_RETURN_IF_ERROR(one_of(c.retrain.refit_walks, {"all", "held_out", "auto"}, "retrain.refit_walks"));
  VASGD_RETURN_IF_ERROR(ValidateRanking(c.neighbours, c.hybrid));
  VASGD_RETURN_IF_ERROR(positive(c.index.hnsw_m, "index.hnsw_m"));
  VASGD_RETURN_IF_ERROR(positive(c.index.ef_construction, "index.ef_construction"));
  VASGD_RETURN_IF_ERROR(positive(c.index.ef_search, "index.ef_search"));
  VASGD_RETURN_IF_ERROR(positive(c.http.threads, "http.threads"));
  VASGD_RETURN_IF_ERROR(positive(c.http.max_body_bytes, "http.max_body_bytes"));
  VASGD_RETURN_IF_ERROR(positive(c.http.max_connections, "http.max_connections"));
  VASGD_RETURN_IF_ERROR(positive(c.http.max_k, "http.max_k"));
  if (c.http.worker_nice < 0 || c.http.worker_nice > 19) {
    return Status::InvalidArgument("config: http.worker_nice must be in [0, 19]");
  }
  if (c.retrain.child_nice < 0 || c.retrain.child_nice > 19) {
    return Status::InvalidArgument("config: retrain.child_nice must be in [0, 19]");
  }
  VASGD_RETURN_IF_ERROR(positive(c.kafka.batch_max_events, "kafka.batch_max_events"));
  VASGD_RETURN_IF_ERROR(positive(c.kafka.prefetch_max_kb, "kafka.prefetch_max_kb"));
  VASGD_RETURN_IF_ERROR(positive(c.kafka.prefetch_max_batches, "kafka.prefetch_max_batches"));
  VASGD_RETURN_IF_ERROR(positive(c.kafka.partition_fetch_max_kb, "kafka.partition_fetch_max_kb"));
  // librdkafka refuses a fetch.max.bytes below its message.max.bytes (1,000,000) or above its
  // receive.message.max.bytes (100,000,000) less a header.
  if (c.kafka.fetch_max_kb < 977 || c.kafka.fetch_max_kb > 97000 || c.kafka.partition_fetch_max_kb > c.kafka.fetch_max_kb) {
    return Status::InvalidArgument("config: kafka.fetch_max_kb must be in [977, 97000] and >= kafka.partition_fetch_max_kb");
  }
  VASGD_RETURN_IF_ERROR(one_of(c.kafka.partitions, {"all", "group"}, "kafka.partitions"));
  VASGD_RETURN_IF_ERROR(positive(c.kafka.partition_refresh_ms, "kafka.partition_refresh_ms"));
  VASGD_RETURN_IF_ERROR(one_of(c.kafka.assignment_strategy, {"range", "roundrobin", "cooperative-sticky"},
                               "kafka.assignment_strategy"));
  VASGD_RETURN_IF_ERROR(GroupInstanceIdValid(c.kafka.group_instance_id));
  VASGD_RETURN_IF_ERROR(positive(c.retrain.keep_versions, "retrain.keep_versions"));
  VASGD_RETURN_IF_ERROR(positive(c.store.max_id_bytes, "store.max_id_bytes"));
  if (c.store.feature_dim < 0) return Status::InvalidArgument("config: store.feature_dim must be >= 0");
  VASGD_RETURN_IF_ERROR(positive(c.dashboard.history_interval_s, "dashboard.history_interval_s"));
  VASGD_RETURN_IF_ERROR(positive(c.dashboard.history_samples, "dashboard.history_samples"));
  VASGD_RETURN_IF_ERROR(positive(c.dashboard.training_points, "dashboard.training_points"));
  VASGD_RETURN_IF_ERROR(positive(c.dashboard.map_points, "dashboard.map_points"));
  if (c.dashboard.rejections_kept < 0) return Status::InvalidArgument("config: dashboard.rejections_kept must be >= 0");
  VASGD_RETURN_IF_ERROR(one_of(c.cluster.role, {"all", "trainer", "replica"}, "cluster.role"));
  VASGD_RETURN_IF_ERROR(positive(c.cluster.poll_interval_ms, "cluster.poll_interval_ms"));
  VASGD_RETURN_IF_ERROR(positive(c.cluster.shared_keep_versions, "cluster.shared_keep_versions"));
  VASGD_RETURN_IF_ERROR(one_of(c.log.level, {"debug", "info", "warn", "error"}, "log.level"));
  return Status::Ok();
}

}  // namespace vasgd
