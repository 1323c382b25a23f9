// The only file that includes Boost.Beast. Structure after Beast's example/http/server/async:
// a Listener accepting on its strand, and a Session per connection whose async chain is
//   WaitForRequest -> (first bytes) -> ReadRequest -> Handle -> Write -> WaitForRequest ...
// with every handler of a session running on that session's strand. Requests that may wait on
// the disk (Router::MayBlock: event commits, model files) are answered on one writer thread
// instead, and the session resumes on its strand with the answer: an fsync or a writer queued
// behind another never holds an I/O thread that queries need.
#include "http/server.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/log.h"
#include "http/render.h"
#include "http/request_metrics.h"
#include "http/router.h"

namespace vasgd {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr size_t kReadChunk = 4096;
// After an error answer that closes the connection, unread request bytes are drained for at
// most this long: closing with unread data would reset the connection and could destroy the
// answer before the client reads it.
constexpr auto kDrainTime = std::chrono::milliseconds(500);

std::string_view View(beast::string_view s) { return std::string_view(s.data(), s.size()); }

class Session;

// What the listener and every session share. Outlives the io_context (declared before it).
struct Shared {
  Shared(const HttpOptions& o, Api* api, MetricsRegistry* registry, DashboardApi* dashboard)
      : options(o), router(o, api, registry, dashboard), metrics(registry) {}

  void Register(Session* s, std::weak_ptr<Session> w) {
    std::lock_guard<std::mutex> lock(mu);
    sessions.emplace(s, std::move(w));
  }
  void Unregister(Session* s) {
    std::lock_guard<std::mutex> lock(mu);
    sessions.erase(s);
  }

  const HttpOptions options;
  const Router router;
  RequestMetrics metrics;
  // Answers MayBlock requests, one at a time (they are serialised further down anyway: the
  // event applier commits one batch at a time). Owned by HttpServer::Impl, joined by Stop.
  net::thread_pool* writer = nullptr;
  std::atomic<bool> stopping{false};
  std::atomic<int> open{0};  // sessions alive (counted at accept, uncounted in ~Session)
  std::mutex mu;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions;
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, Shared& shared)
      : stream_(std::move(socket)), shared_(shared), deadline_(stream_.get_executor()) {}

  ~Session() {
    shared_.Unregister(this);
    shared_.metrics.ConnectionClosed();
    shared_.open.fetch_sub(1);
  }

  void Start() {
    shared_.Register(this, weak_from_this());
    shared_.metrics.ConnectionOpened();
    net::dispatch(stream_.get_executor(), beast::bind_front_handler(&Session::WaitForRequest, shared_from_this()));
  }

  // Posted by HttpServer::Stop onto the session's strand: an idle connection closes now, a
  // request in progress finishes (its answer then says Connection: close).
  void OnStop() {
    if (phase_ == Phase::kIdle) stream_.cancel();
  }

  net::any_io_executor executor() { return stream_.get_executor(); }

 private:
  enum class Phase { kIdle, kReading, kHandling, kWriting, kClosing };

  std::chrono::milliseconds Ms(int ms) const { return std::chrono::milliseconds(ms); }

  void WaitForRequest() {
    if (shared_.stopping) return Close();
    phase_ = Phase::kIdle;
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(shared_.options.max_header_bytes));
    parser_->body_limit(static_cast<std::uint64_t>(shared_.options.max_body_bytes));
    if (buffer_.size() > 0) return ReadRequest();  // a pipelined request is already here
    // Until its first byte a request may take the idle timeout (the request timeout for the
    // first request of a connection); the stream closes the connection when it expires.
    stream_.expires_after(Ms(first_request_ ? shared_.options.request_timeout_ms : shared_.options.idle_timeout_ms));
    stream_.async_read_some(buffer_.prepare(kReadChunk),
                            beast::bind_front_handler(&Session::OnFirstBytes, shared_from_this()));
  }

  void OnFirstBytes(beast::error_code ec, std::size_t n) {
    if (ec) return Close();  // idle timeout, the client closed, or shutdown
    buffer_.commit(n);
    ReadRequest();
  }

  void ReadRequest() {
    phase_ = Phase::kReading;
    first_request_ = false;
    // Our own deadline rather than the stream's: on expiry the stream would close the socket,
    // and a slow client deserves a 408 it can read.
    stream_.expires_never();
    const uint64_t generation = ++read_generation_;
    deadline_.expires_after(Ms(shared_.options.request_timeout_ms));
    deadline_.async_wait([self = shared_from_this(), generation](beast::error_code ec) {
      if (ec || generation != self->read_generation_ || self->phase_ != Phase::kReading) return;
      self->timed_out_ = true;
      self->stream_.socket().cancel();
    });
    http::async_read_header(stream_, buffer_, *parser_,
                            beast::bind_front_handler(&Session::OnHeader, shared_from_this()));
  }

  // A client that sent "Expect: 100-continue" (curl does for bodies over 1 KiB) waits for our
  // go-ahead before sending the body; the limits were checked with the header already.
  void OnHeader(beast::error_code ec, std::size_t) {
    if (ec || parser_->is_done()) return OnRead(ec, 0);
    if (!beast::iequals(parser_->get()[http::field::expect], "100-continue")) return ReadBody();
    continue_ = std::make_shared<http::response<http::empty_body>>(http::status::continue_, 11);
    http::async_write(stream_, *continue_, [self = shared_from_this()](beast::error_code write_ec, std::size_t) {
      self->continue_.reset();
      if (write_ec) return self->OnRead(write_ec, 0);
      self->ReadBody();
    });
  }

  void ReadBody() {
    http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&Session::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code ec, std::size_t) {
    deadline_.cancel();
    if (timed_out_) {
      shared_.metrics.RequestTimedOut();
      return SendErrorAndClose(408, "the request was not received within request_timeout_ms");
    }
    if (ec == http::error::header_limit) return SendErrorAndClose(431, "request headers exceed max_header_bytes");
    if (ec == http::error::body_limit) return SendErrorAndClose(413, "request body exceeds max_body_bytes");
    if (ec == http::error::end_of_stream || ec == net::error::operation_aborted || ec == net::error::eof ||
        ec == net::error::connection_reset) {
      return Close();
    }
    if (ec.category() == http::make_error_code(http::error::bad_target).category()) {
      return SendErrorAndClose(400, "malformed HTTP request: " + ec.message());
    }
    if (ec) return Close();
    Handle();
  }

  void Handle() {
    phase_ = Phase::kHandling;
    handled_at_ = Clock::now();
    auto& req = parser_->get();
    HttpRequestView view;
    view.method = View(req.method_string());
    view.target = View(req.target());
    view.authorization = View(req[http::field::authorization]);
    view.body = req.body();
    view.if_none_match = View(req[http::field::if_none_match]);
    view.accept_encoding = View(req[http::field::accept_encoding]);
    if (shared_.router.MayBlock(view)) {
      // `view` points into parser_'s request, which stays put until Answer: nothing reads
      // into this session meanwhile.
      net::post(*shared_.writer, [self = shared_from_this(), view] {
        Route route = Route::kUnknown;
        HttpReply reply = self->shared_.router.Handle(view, &route);
        net::post(self->stream_.get_executor(), [self, route, reply = std::move(reply)]() mutable {
          self->route_ = route;
          self->Answer(std::move(reply));
        });
      });
      return;
    }
    Answer(shared_.router.Handle(view, &route_));
  }

  // Back on the session's strand with the answer to the request parsed into parser_.
  void Answer(HttpReply reply) {
    auto& req = parser_->get();
    const bool keep_alive = req.keep_alive() && !shared_.stopping;
    if (LogEnabled(LogLevel::kDebug)) {
      // The route's name, never the target or headers: they may carry ids or tokens.
      Log(LogLevel::kDebug, "http.request",
          {{"method", View(req.method_string())}, {"route", RouteName(route_)}, {"status", reply.status}});
    }
    Respond(std::move(reply), req.version(), keep_alive);
  }

  void SendErrorAndClose(int status, std::string_view message) {
    phase_ = Phase::kHandling;
    handled_at_ = Clock::now();
    route_ = Route::kUnknown;
    HttpReply reply;
    reply.status = status;
    reply.body = ErrorJson(status, message);
    Respond(std::move(reply), 11, /*keep_alive=*/false);
  }

  void Respond(HttpReply reply, unsigned version, bool keep_alive) {
    response_ = {};
    response_.version(version);
    response_.result(static_cast<unsigned>(reply.status));
    response_.set(http::field::server, "vasgd");
    if (!reply.content_type.empty()) response_.set(http::field::content_type, reply.content_type);
    if (!reply.allow.empty()) response_.set(http::field::allow, reply.allow);
    if (reply.bearer_challenge) response_.set(http::field::www_authenticate, "Bearer");
    for (const auto& [name, value] : reply.headers) response_.set(name, value);
    response_.keep_alive(keep_alive);
    response_.body() = std::move(reply.body);
    response_.prepare_payload();
    keep_alive_ = keep_alive;
    // Recorded before the write, so a client that has its answer also sees it counted.
    shared_.metrics.Record(route_, reply.status, std::chrono::duration<double>(Clock::now() - handled_at_).count());
    phase_ = Phase::kWriting;
    stream_.expires_after(Ms(shared_.options.request_timeout_ms));
    http::async_write(stream_, response_, beast::bind_front_handler(&Session::OnWrite, shared_from_this()));
  }

  void OnWrite(beast::error_code ec, std::size_t) {
    if (ec) return Close();
    if (!keep_alive_) return CloseGracefully();
    WaitForRequest();
  }

  // Sends FIN, then reads and discards what the client still sends (briefly) before closing.
  void CloseGracefully() {
    phase_ = Phase::kClosing;
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return Close();
    stream_.expires_after(kDrainTime);
    Drain();
  }

  void Drain() {
    buffer_.consume(buffer_.size());
    stream_.async_read_some(buffer_.prepare(kReadChunk), [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->Close();
      self->Drain();
    });
  }

  void Close() {
    phase_ = Phase::kClosing;
    deadline_.cancel();
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
  }

  beast::tcp_stream stream_;
  Shared& shared_;
  net::steady_timer deadline_;  // the request deadline (see ReadRequest)
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
  std::shared_ptr<http::response<http::empty_body>> continue_;  // "100 Continue" being written
  Phase phase_ = Phase::kIdle;
  bool first_request_ = true;
  bool timed_out_ = false;
  bool keep_alive_ = false;
  uint64_t read_generation_ = 0;
  Route route_ = Route::kUnknown;
  Clock::time_point handled_at_;
};

class Listener : public std::enable_shared_from_this<Listener> {
 public:
  Listener(net::io_context& ioc, Shared& shared)
      : ioc_(ioc), acceptor_(net::make_strand(ioc)), retry_(acceptor_.get_executor()), shared_(shared) {}

  Status Bind(const tcp::endpoint& endpoint) {
    beast::error_code ec;
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
      return Status::IoError("cannot listen on " + endpoint.address().to_string() + ":" +
                             std::to_string(endpoint.port()) + ": " + ec.message());
    }
    port_ = acceptor_.local_endpoint().port();
    return Status::Ok();
  }

  uint16_t port() const { return port_; }

  void Accept() {
    acceptor_.async_accept(net::make_strand(ioc_), beast::bind_front_handler(&Listener::OnAccept, shared_from_this()));
  }

  void Close() {
    net::post(acceptor_.get_executor(), [self = shared_from_this()] {
      beast::error_code ec;
      self->retry_.cancel();
      self->acceptor_.close(ec);
    });
  }

 private:
  void OnAccept(beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
    if (ec) {
      // E.g. out of file descriptors: retry shortly rather than spin.
      LogOncePerKind(LogLevel::kError, "http.accept." + ec.message(), "http.accept_failed", {{"error", ec.message()}});
      retry_.expires_after(std::chrono::milliseconds(50));
      retry_.async_wait([self = shared_from_this()](beast::error_code wait_ec) {
        if (!wait_ec) self->Accept();
      });
      return;
    }
    beast::error_code ignored;
    if (shared_.stopping) {
      socket.close(ignored);
    } else if (shared_.open.load() >= shared_.options.max_connections) {
      shared_.metrics.ConnectionRejected();
      socket.close(ignored);
    } else {
      shared_.open.fetch_add(1);
      socket.set_option(tcp::no_delay(true), ignored);
      std::make_shared<Session>(std::move(socket), shared_)->Start();
    }
    Accept();
  }

  net::io_context& ioc_;
  tcp::acceptor acceptor_;
  net::steady_timer retry_;
  Shared& shared_;
  uint16_t port_ = 0;
};

// "host:port", "[v6]:port".
bool SplitHostPort(const std::string& listen, std::string* host, std::string* port) {
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon + 1 == listen.size()) return false;
  *host = listen.substr(0, colon);
  *port = listen.substr(colon + 1);
  if (host->size() >= 2 && host->front() == '[' && host->back() == ']') *host = host->substr(1, host->size() - 2);
  return !host->empty() && port->find_first_not_of("0123456789") == std::string::npos;
}

// Under full query load the I/O threads took every cycle and Kafka ingestion fell behind by up
// to a minute of stream (docs/RELIABILITY.md, soak). At a higher nice value (Linux: nice is per
// thread; raising it needs no privilege) they still get all the CPU nothing else wants, but
// yield it to the ingestion threads (consumer, store writer, librdkafka, RocksDB) when both want it.
void YieldToIngestion(int nice) {
  if (nice <= 0) return;
  if (::setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), nice) != 0) {
    LogOncePerKind(LogLevel::kWarn, "http.nice", "http.nice_failed", {{"nice", nice}, {"errno", errno}});
  }
}

}  // namespace

struct HttpServer::Impl {
  Impl(const HttpOptions& options, Api* api, MetricsRegistry* metrics, DashboardApi* dashboard)
      : shared(options, api, metrics, dashboard), ioc(std::max(1, options.threads)) {
    shared.writer = &writer;
  }

  Shared shared;  // before ioc: sessions destroyed with the io_context still use it
  net::io_context ioc;
  // After ioc: a session still queued here (cut by Stop) is destroyed while its socket's
  // io_context exists.
  net::thread_pool writer{1};
  std::optional<net::executor_work_guard<net::io_context::executor_type>> guard;
  std::shared_ptr<Listener> listener;
  std::vector<std::thread> threads;
  bool started = false;
  bool stopped = false;
};

HttpServer::HttpServer(const HttpOptions& options, Api* api, MetricsRegistry* metrics, DashboardApi* dashboard)
    : impl_(std::make_unique<Impl>(options, api, metrics, dashboard)) {}

HttpServer::~HttpServer() { Stop(); }

Status HttpServer::Start() {
  if (impl_->started) return Status::FailedPrecondition("http server already started");
  const HttpOptions& options = impl_->shared.options;
  std::string host, port;
  if (!SplitHostPort(options.listen, &host, &port)) {
    return Status::InvalidArgument("http.listen must be host:port, got '" + options.listen + "'");
  }
  beast::error_code ec;
  tcp::resolver resolver(impl_->ioc);
  auto endpoints = resolver.resolve(host, port, tcp::resolver::passive, ec);
  if (ec || endpoints.empty()) {
    return Status::InvalidArgument("http.listen: cannot resolve '" + options.listen + "': " + ec.message());
  }
  impl_->listener = std::make_shared<Listener>(impl_->ioc, impl_->shared);
  VASGD_RETURN_IF_ERROR(impl_->listener->Bind(endpoints.begin()->endpoint()));
  impl_->listener->Accept();
  impl_->guard.emplace(impl_->ioc.get_executor());
  for (int i = 0; i < std::max(1, options.threads); ++i) {
    impl_->threads.emplace_back([this, nice = options.worker_nice] {
      YieldToIngestion(nice);
      impl_->ioc.run();
    });
  }
  impl_->started = true;
  Log(LogLevel::kInfo, "http.listening",
      {{"address", host}, {"port", static_cast<int>(impl_->listener->port())}, {"threads", options.threads}});
  return Status::Ok();
}

uint16_t HttpServer::port() const { return impl_->listener ? impl_->listener->port() : 0; }

void HttpServer::Stop() {
  if (!impl_->started || impl_->stopped) return;
  impl_->stopped = true;
  Shared& shared = impl_->shared;
  shared.stopping = true;
  impl_->listener->Close();
  // Collected under the lock, told outside it: dropping the last reference to a session runs
  // its destructor, which takes the same lock.
  std::vector<std::shared_ptr<Session>> alive;
  {
    std::lock_guard<std::mutex> lock(shared.mu);
    for (auto& [raw, weak] : shared.sessions) {
      if (auto session = weak.lock()) alive.push_back(std::move(session));
    }
  }
  for (auto& session : alive) net::post(session->executor(), [session] { session->OnStop(); });
  alive.clear();
  // In-flight requests finish within their own deadlines: reading (request_timeout_ms) and
  // writing (request_timeout_ms); the drain after a close takes kDrainTime at most.
  const auto deadline = Clock::now() + 2 * std::chrono::milliseconds(shared.options.request_timeout_ms) + kDrainTime;
  while (shared.open.load() > 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  // The writer's last answers go back to sessions through the I/O threads, still running here.
  impl_->writer.join();
  const int left = shared.open.load();
  impl_->guard.reset();
  if (left > 0) impl_->ioc.stop();
  for (auto& t : impl_->threads) t.join();
  impl_->threads.clear();
  Log(LogLevel::kInfo, "http.stopped", {{"connections_cut", left}});
}

}  // namespace vasgd
