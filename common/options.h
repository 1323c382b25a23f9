// Every configuration knob of vasgd, in one typed struct, with its default and its unit.
// config/vasgd.toml mirrors this file section by section (tests/common checks they agree);
// common/config_file.h loads the TOML file, the environment and command-line overrides.
// Plain structs, no behaviour: each part takes the section it needs by const reference.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace vasgd {

// [store]: the RocksDB graph store under data_dir/graph.
struct StoreOptions {
  std::string data_dir = "./vasgd-data";  // root of graph/ and models/
  bool sync_writes = true;                // fsync the WAL on every write batch (durable)
  int64_t block_cache_mb = 128;           // RocksDB block cache, MiB
  int64_t write_buffer_mb = 16;           // RocksDB memtable size, MiB (small: cache-friendly inserts)
  int64_t read_cache_mb = 64;             // users' dense ids and purchases kept for queries (store/read_cache.h), MiB; 0 = none
  int feature_dim = 0;                    // product feature dimension; 0 = fixed by first product
  int max_id_bytes = 256;                 // longest user/product id, bytes
};

// [kafka]: ingestion from a consumer group. Empty brokers = no Kafka (HTTP ingestion only).
struct KafkaOptions {
  std::string brokers = "";                              // host:port[,host:port]
  // all: this daemon reads every partition of `topics` itself (rd_kafka_assign; no group
  // membership): each daemon keeps the whole graph in its own store, with its own offsets, so
  // splitting partitions among daemons is never wanted, and a restart after kill -9 consumes at
  // once instead of waiting for a dead member's session. group: a consumer group on `group`
  // (static membership, partitions split among its members). stream/kafka_ingester.h.
  std::string partitions = "all";                        // all | group
  int partition_refresh_ms = 10000;                      // "all": the topics' partitions are re-read this often (added partitions, topics created later), ms
  std::string group = "vasgd";                           // consumer group id ("group": the group joined; "all": only names the client)
  std::vector<std::string> topics = {"vasgd-events"};    // topics consumed
  std::string dead_letter_topic = "vasgd-dead-letter";   // rejected events go here; "" = none
  int batch_max_events = 16384;                          // events per RocksDB write batch (at most)
  int batch_max_wait_ms = 20;                            // flush a partial batch after this, ms
  int session_timeout_ms = 10000;                        // consumer group session timeout, ms
  // range: librdkafka 2.0.2's cooperative-sticky aborts the process when the consumer is closed
  // before its first assignment (librdkafka #4312, fixed in 2.3.0); see stream/kafka_ingester.cc.
  std::string assignment_strategy = "range";             // range | roundrobin | cooperative-sticky
  std::string group_instance_id = "auto";                // static membership (KIP-345) id; "auto" = from host name + store.data_dir; "" = dynamic
  int64_t max_message_bytes = 4 << 20;                   // larger messages are dead-lettered, bytes
  int prefetch_max_kb = 16384;                           // payload fetched ahead of ingestion, all partitions, at most, KiB
  int prefetch_max_batches = 6;                          // messages fetched ahead, at most, in units of batch_max_events
  int fetch_max_kb = 1024;                               // one fetch response (one broker, all its partitions), at most, KiB (977-97000)
  int partition_fetch_max_kb = 256;                      // one partition's share of a fetch response, at most, KiB
};

// [train]: the VASG trainer (model/). Defaults chosen by measurement: docs/EVALUATION.md.
struct TrainOptions {
  int dim = 100;                   // embedding dimension D
  int walks_per_node = 10;         // random walks started from every node
  int walk_length = 40;            // nodes per walk
  int64_t max_walk_tokens = 80000000;  // walk nodes per epoch at most (a stage-1 time budget: walks start at a shuffled share of the nodes, the step grows by 1/share up to 10x); 0 = no cap
  int window = 11;                 // context window, centre included (11 = 5 either side)
  int negatives = 10;              // negative samples per positive pair; 0 = the paper (none)
  double negative_power = 0.0;     // negatives drawn ∝ degree^power; 0 = uniform
  int epochs = 2;                  // passes over the walk corpus
  double learning_rate = 1e-3;     // Adam/SGD step size of the decoder, encoder and uncertainty weights
  std::string optimizer = "adam";  // adam | sgd (decoder, encoder, uncertainty weights)
  double embedding_learning_rate = 0.005;  // skip-gram SGD step per pair, decays linearly to 1e-4 of it
  bool typed_negatives = true;     // negatives share the positive context's type (user/product); false = any node
  bool shrink_window = false;      // word2vec-style: per centre a window side uniform in [1, (window-1)/2]
  std::string contexts = "cross";  // all | cross: "cross" trains only user-product pairs (odd distances)
  std::string kernel = "auto";     // auto | hogwild | torch: skip-gram code path (auto: hogwild on CPU, torch on CUDA)
  double decoder_sample_rate = 0.1;  // share of product-centre occurrences given a decoder step (1 = the paper)
  double encoder_anchor_weight = 1.0;  // stage 2: weight of ‖M(f)−X‖² beside reconstruction; 0 = the paper
  double encoder_rank_weight = 0.3;    // stage 2: weight of the buyers' in-batch ranking of M(f); 0 = the paper
  double cold_profile_weight = 0.5;    // β of model/visual_profile.h for vasgd eval's VASG row; serving uses [hybrid]
  int batch_size = 4096;           // centre nodes per homogeneous batch
  std::vector<int> decoder_widths; // hidden widths of M⁻¹; empty = derived from the feature dim
  double dropout = 0.5;            // decoder/encoder dropout probability
  bool use_decoder = true;         // false = plain skip-gram (the paper's ablation)
  int encoder_epochs = 50;         // stage 2 epochs over warm products
  int64_t encoder_max_examples = 6000000;  // stage 2: epochs x warm products at most (a time budget: fewer epochs); 0 = no cap
  double encoder_noise_std = 0.1;  // Gaussian input noise in stage 2, in feature std units
  std::string score = "cosine";    // auto | cosine | dot: VASG's own user→product score (manifest); the hybrid uses cosine
  std::string device = "auto";     // auto | cpu | cuda
  bool mixed_precision = true;     // bf16 autocast on CUDA where it helps
  int threads = 0;                 // CPU threads; 0 = all cores
  uint64_t seed = 42;              // walks, initialisation and sampling are reproducible from it
  bool warm_start = true;          // initialise from the previous model version's embeddings
  double warm_start_epoch_fraction = 0.3;  // epochs used when warm-starting, share of `epochs`
};

// [index]: the hnswlib index over normalised product embeddings.
struct IndexOptions {
  int hnsw_m = 16;                 // graph degree M
  int ef_construction = 100;       // build-time beam width (config/vasgd.toml: 200 cost 1.6-1.8x the build for +0.0005-0.005 recall@20)
  int ef_search = 64;              // query-time beam width (>= k + offset; filtered: + k + offset + excluded), by measurement
  int64_t exact_below = 20000;     // fewer candidate products (catalogue or category) are searched exactly
  bool walk_fp16 = false;          // graph search walks fp16 copies of the vectors (+2 bytes per dimension per product; callers rescore in float); no gain measured at 100k products on 2 cores (docs/BENCHMARKS.md)
};

// [neighbours]: item-to-item lists trained beside VASG at every retraining (model/neighbours.h,
// model/ease.h). Each family's setting is chosen on the retraining's holdout from these grids.
struct NeighbourOptions {
  int top_k = 100;                 // neighbours kept per product
  int max_user_degree = 500;       // purchases of one user the walk uses, at most (hub cap, model/neighbours.h)
  std::vector<double> rp3b_alphas = {0.6, 0.8, 1.0};   // RP3β transition exponents α tried
  std::vector<double> rp3b_betas = {0.0, 0.2, 0.4};    // RP3β popularity penalties β tried
  std::vector<double> itemknn_shrinks = {0.0, 10.0, 100.0};  // ItemKNN cosine shrinkage tried; [] = no ItemKNN
  std::vector<double> ease_lambdas = {50.0, 200.0, 500.0};  // EASE L2 weights λ tried; [] = no EASE
  int64_t ease_max_products = 10000;  // EASE only up to this many products (dense: ~8·n² bytes, n³ time)
};

// [hybrid]: the served ranking (rank/hybrid.h): lists + VASG + popularity + visual profile, with
// weights chosen on the retraining's holdout from these grids (rank/weight_choice.h).
struct HybridOptions {
  std::string ranking = "hybrid";  // hybrid | vasg: "vasg" serves the VASG score alone (w_v = 1)
  int cold_share = 0;              // up to this many of the k slots go to cold products by visual match; 0 = off
  std::vector<double> neighbour_weights = {1, 0};               // w_n tried (the first value of each grid starts the search)
  std::vector<double> ease_weights = {0, 0.25, 0.5, 1};         // w_e tried
  std::vector<double> vasg_weights = {0, 0.25, 0.5, 1, 2, 4, 8, 16};  // w_v tried
  std::vector<double> popularity_weights = {0, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2};  // w_p tried
  std::vector<double> freshness_weights = {0, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2};   // w_f tried (arrival order; [] = off)
  std::vector<double> visual_weights = {0, 0.1, 0.2, 0.4, 0.8, 1.6};  // w_i tried
  std::vector<double> cold_visual_weights = {0, 0.25, 0.5, 1, 2};  // w_c tried
  // The cold order (rank/hybrid.h, rank/cold_order.h): which cold products fill the places the
  // formula gives cold products, by V + ρ·Q + φ·fresh with Q the cold query's cosine.
  bool cold_order = true;          // choose it at every retraining (used where it beats the formula's own order on the holdout)
  std::vector<double> cold_order_visual_weights = {0, 0.25, 0.5, 1, 2, 4, 8, 16};  // ρ tried (V's weight is 1)
  std::vector<double> cold_order_freshness_weights = {0, 0.1, 0.2, 0.4, 0.8, 1.6};  // φ tried
  int cold_order_min_pairs = 30;   // held-out purchases of cold products needed to choose it; fewer = off
  double cold_query_idf = 0.5;     // a: the cold query weighs each purchase by its product's purchases^-a
  double cold_query_list_weight = 0.5;  // λ: weight of the profile of the user's top list products in it
  int cold_query_list_top = 50;    // m: that many of the user's top list products
  std::vector<double> similar_list_weights = {0, 0.25, 0.5, 1, 2, 1000};  // similar: w_l tried (rank/similar.h; 0 = VASG alone)
  int choice_candidates = 300;     // per term, products scored per held-out pair when choosing (rank/weight_choice.h)
  int serve_candidates = 50;       // above index.exact_below products: nearest by V, newest, and the prior's best (walked on while they can matter, up to 4x) scored per query, each (docs/BENCHMARKS.md)
  bool nearest_at_load = true;     // above index.exact_below products: each model user's serve_candidates nearest by V are found when a version loads (4 bytes each), so a query skips the graph walk (rank/user_candidates.h)
};

// [http]: the Boost.Beast server.
struct HttpOptions {
  std::string listen = "127.0.0.1:8080";   // bind address host:port
  int threads = 2;                         // I/O worker threads
  int64_t max_body_bytes = 1 << 20;        // larger request bodies get 413, bytes
  int64_t max_header_bytes = 8192;         // larger request headers get 431, bytes
  int request_timeout_ms = 10000;          // whole request (headers + body) deadline, ms
  int idle_timeout_ms = 30000;             // keep-alive idle connections are closed after, ms
  int max_connections = 4096;              // further connections are closed at once
  int max_k = 1000;                        // largest k (and k + offset) accepted
  int max_events_per_request = 10000;      // POST /v1/events batch limit, events
  int worker_nice = 0;                     // nice value of the I/O threads (0-19): higher yields the CPU to ingestion under load
  std::string admin_token = "";            // Bearer token for /v1/admin/*; env VASGD_ADMIN_TOKEN
  std::string read_token = "";             // optional token for read endpoints; env VASGD_READ_TOKEN
};

// [retrain]: when the daemon retrains and how many versions it keeps.
struct RetrainOptions {
  int interval_s = 3600;           // retrain on this schedule, s; 0 = never by time
  int64_t after_events = 100000;   // retrain after this many new events; 0 = never by count
  int keep_versions = 5;           // model versions kept on disk (older ones are pruned)
  double min_holdout_auc = 0.55;   // a new version whose served ranking scores below this AUC on the holdout is not served
  double holdout_fraction = 0.25;  // share of users with one purchase (chosen by a hash of the ids) held out; the hybrid's weights are chosen on them
  int64_t holdout_max_users = 5000;  // held-out users at most (the weight choice's cost grows with them)
  std::string holdout_pick = "last";  // last | newest | random: which purchase of a held-out user (model/holdout.h); "last" = their latest in time
  bool refit_vasg = true;          // retrain VASG with the held-out purchases once the weights are chosen
  bool refit_from_holdout = true;  // the refit warm-starts from the holdout model (train.warm_start_epoch_fraction of the epochs), not from the previous version
  std::string refit_walks = "auto";  // all | held_out | auto: a refit from the holdout walks from every node, or only from the held-out users and products (encoder kept); auto = held_out where train.max_walk_tokens caps the corpus
  int timeout_s = 21600;           // a training child still running after this is killed and the job fails, s; 0 = no limit
  int child_nice = 19;             // nice value of the training child (0-19; the daemon's own where higher): higher leaves the CPU to serving
};

// [dashboard]: the operator dashboard served at GET / (dashboard/, docs/DASHBOARD.md).
struct DashboardOptions {
  bool enabled = true;           // serve the page and its admin data endpoints; false = they answer 404
  int history_interval_s = 5;    // one sample of every chart series per this many seconds, s
  int history_samples = 720;     // samples kept per series (720 x 5 s = the last hour)
  int training_points = 3600;    // points kept of the running retraining's loss curve (one per second)
  int map_points = 2000;         // products at most in the embedding map (a fixed sample per model version)
  int rejections_kept = 20;      // last rejected events kept for the Ingestion panel
};

// [cluster]: one trainer publishing model versions to serving replicas through a shared
// directory (docs/SCALE.md). `vasgd serve --role` and `--shared-models` override the first two.
struct ClusterOptions {
  std::string role = "all";        // all | trainer | replica: all = one process that trains and serves (publishes too when shared_models is set)
  std::string shared_models = "";  // directory every node mounts: the trainer publishes there, replicas load from it; "" = none
  int poll_interval_ms = 1000;     // replica: reads shared_models/current this often (polling: inotify misses other hosts' writes on NFS), ms; trainer: looks for a new local version to publish this often, ms
  int shared_keep_versions = 3;    // versions kept in shared_models by the trainer (current and previous among them)
};

// [log]
struct LogOptions {
  std::string level = "info";      // debug | info | warn | error
  bool json = true;                // one JSON object per line (structured), else plain text
};

struct Config {
  StoreOptions store;
  KafkaOptions kafka;
  TrainOptions train;
  IndexOptions index;
  NeighbourOptions neighbours;
  HybridOptions hybrid;
  HttpOptions http;
  RetrainOptions retrain;
  DashboardOptions dashboard;
  ClusterOptions cluster;
  LogOptions log;
};

}  // namespace vasgd
