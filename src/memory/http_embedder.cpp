// HttpEmbedder: an embedding client for OpenAI-compatible and Ollama servers, on cpp-httplib.
//
// Every answer is treated as hostile: its size is bounded while it is read, its JSON is parsed
// without letting an exception escape, and its shape, count, dimension and numbers are checked
// before anything is returned.
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <cfloat>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <exception>
#include <limits>
#include <memory>
#include <new>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "hnswstore/memory/embedding.hpp"

namespace hnswstore::memory {
namespace {

using Json = nlohmann::json;
using std::chrono::milliseconds;

constexpr std::size_t kMaxDimensions = 65536;
constexpr std::size_t kMaxBatchSize = 2048;
constexpr int kMaxRetries = 10;
// An answer larger than this is refused while it is read (2048 texts of 65536 floats printed
// in full would be about 2.5 GiB, but real answers are a few MiB; this bounds the damage).
constexpr std::uint64_t kMaxBodyBytes = std::uint64_t{256} << 20;
constexpr std::uint64_t kReserveBytes = std::uint64_t{16} << 20;
constexpr std::size_t kQuoteBytes = 200;
constexpr milliseconds kMaxBackoff{8000};

// The first kQuoteBytes of `text`, printable ASCII only, for error messages: a body may hold
// anything (HTML, binary, terminal escapes), none of which belongs in a log line.
std::string printable(std::string_view text) {
  std::string out;
  const std::size_t n = std::min(text.size(), kQuoteBytes);
  out.reserve(n + 32);
  for (std::size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '\n' || c == '\r' || c == '\t') {
      out += ' ';
    } else if (c < 0x20 || c >= 0x7f) {
      out += '?';
    } else {
      out += static_cast<char>(c);
    }
  }
  if (text.size() > n) out += "... (" + std::to_string(text.size()) + " bytes)";
  return out;
}

// printable(), or a note that there is nothing to quote.
std::string quote(std::string_view body) { return body.empty() ? "(empty body)" : printable(body); }

std::string milliseconds_text(milliseconds d) { return std::to_string(d.count()) + " ms"; }

bool is_host_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-' || c == '_';
}

bool is_ipv6_char(char c) {
  return (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || (c >= '0' && c <= '9') || c == ':' ||
         c == '.';
}

// Checks "http[s]://host[:port][/]" and returns it without the trailing '/'.
Result<std::string> normalise_base_url(const std::string& url) {
  const std::string shown = "base_url: '" + printable(url) + "'";
  std::string_view rest = url;
  if (rest.starts_with("http://")) {
    rest.remove_prefix(7);
  } else if (rest.starts_with("https://")) {
    rest.remove_prefix(8);
  } else {
    return Status::InvalidArgument(shown + " must start with http:// or https://");
  }
  if (rest.ends_with('/')) rest.remove_suffix(1);
  if (rest.find('/') != std::string_view::npos) {
    return Status::InvalidArgument(shown +
                                   " must have no path: give the server's root, the client adds "
                                   "/v1/embeddings or /api/embed");
  }
  std::string_view host = rest;
  std::string_view port;
  if (rest.starts_with('[')) {
    const std::size_t close = rest.find(']');
    if (close == std::string_view::npos) {
      return Status::InvalidArgument(shown + " has an unterminated IPv6 address");
    }
    host = rest.substr(1, close - 1);
    std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        return Status::InvalidArgument(shown + " has unexpected characters after the host");
      }
      port = after.substr(1);
      if (port.empty()) return Status::InvalidArgument(shown + " has an empty port");
    }
    if (host.empty() || !std::all_of(host.begin(), host.end(), is_ipv6_char)) {
      return Status::InvalidArgument(shown + " has an invalid IPv6 address");
    }
  } else {
    const std::size_t colon = rest.find(':');
    if (colon != std::string_view::npos) {
      host = rest.substr(0, colon);
      port = rest.substr(colon + 1);
      if (port.empty()) return Status::InvalidArgument(shown + " has an empty port");
    }
    if (host.empty()) return Status::InvalidArgument(shown + " must have a host");
    if (!std::all_of(host.begin(), host.end(), is_host_char)) {
      return Status::InvalidArgument(shown + " has a character that is not allowed in a host name");
    }
  }
  if (!port.empty()) {
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) {
      return Status::InvalidArgument(shown + " has an invalid port (1..65535)");
    }
  }
  return std::string(url.substr(0, url.size() - (url.ends_with('/') ? 1 : 0)));
}

// True when a JSON encoding of `text` is possible (nlohmann refuses invalid UTF-8).
bool encodable(const std::string& text) {
  try {
    (void)Json(text).dump();
    return true;
  } catch (const Json::exception&) {
    return false;
  }
}

const char* type_name(const Json& v) { return v.type_name(); }

// Reads one embedding at `path` into `out`: an array of numbers that fit a float.
Status parse_vector(const Json& v, const std::string& path, std::vector<float>& out) {
  if (!v.is_array()) {
    return Status::Corruption(path + ": expected an array of numbers, got " + type_name(v));
  }
  if (v.empty()) return Status::InvalidArgument(path + ": empty embedding");
  if (v.size() > kMaxDimensions) {
    return Status::InvalidArgument(path + ": " + std::to_string(v.size()) + " numbers, more than " +
                                   std::to_string(kMaxDimensions));
  }
  out.clear();
  out.reserve(v.size());
  for (std::size_t j = 0; j < v.size(); ++j) {
    const Json& e = v[j];
    if (!e.is_number()) {
      return Status::Corruption(path + "[" + std::to_string(j) + "]: expected a number, got " +
                                type_name(e));
    }
    const double d = e.get<double>();
    // nlohmann refuses literals that overflow a double; a finite double may still overflow
    // a float (1e300), which would turn into an infinity here.
    if (!std::isfinite(d) || std::fabs(d) > static_cast<double>(FLT_MAX)) {
      return Status::Corruption(path + "[" + std::to_string(j) + "]: " + printable(e.dump()) +
                                " is not a finite float");
    }
    out.push_back(static_cast<float>(d));
  }
  return Status::Ok();
}

std::optional<milliseconds> parse_retry_after(const httplib::Response& res) {
  if (!res.has_header("Retry-After")) return std::nullopt;
  const std::string value = res.get_header_value("Retry-After");
  std::uint64_t seconds = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  // An HTTP date (the other form) or garbage: fall back to the exponential back-off.
  if (ec != std::errc() || end != value.data() + value.size()) return std::nullopt;
  if (seconds >= static_cast<std::uint64_t>(kMaxBackoff.count() / 1000)) return kMaxBackoff;
  return milliseconds(static_cast<milliseconds::rep>(seconds) * 1000);
}

bool is_retriable(httplib::Error error) {
  switch (error) {
    case httplib::Error::Connection:
    case httplib::Error::ConnectionTimeout:
    case httplib::Error::Read:
    case httplib::Error::Write:
      return true;
    default:
      return false;
  }
}

}  // namespace

struct HttpEmbedder::Impl {
  HttpEmbedderOptions options;
  std::string base;  // base_url without a trailing '/'
  std::string path;  // "/v1/embeddings" or "/api/embed"
  std::string name;
  std::string prefix;  // "<name>: POST <url>: ", which starts every request's error message
  // options.dimensions, or the dimension of the first good answer (0 until then).
  std::atomic<std::size_t> dimensions{0};

  // A transport failure, described for an error message.
  std::string describe(httplib::Error error) const {
    const std::string t = milliseconds_text(options.timeout);
    switch (error) {
      case httplib::Error::Connection:
        return "could not connect";
      case httplib::Error::ConnectionTimeout:
        return "connecting timed out after " + t;
      case httplib::Error::Read:
        return "no complete answer (the connection was closed, or nothing arrived for " + t + ")";
      case httplib::Error::Write:
        return "sending the request failed (the connection was closed, or timed out after " + t +
               ")";
      default:
        return "request failed: " + httplib::to_string(error);
    }
  }

  // Sends `payload`, retrying as the options say; the body of a 2xx answer.
  Result<std::string> post(httplib::Client& client, const std::string& payload) const {
    milliseconds backoff = options.retry_backoff;
    const int attempts = options.max_retries + 1;
    for (int attempt = 1;; ++attempt) {
      httplib::Request req;
      req.method = "POST";
      req.path = path;
      req.body = payload;
      req.set_header("Content-Type", "application/json");
      req.set_header("Accept", "application/json");
      if (!options.api_key.empty()) req.set_header("Authorization", "Bearer " + options.api_key);

      // httplib's read timeout bounds each wait for data; a server trickling a byte now and
      // then would evade it, so an attempt as a whole gets the time of its three phases
      // (connect, send, receive).
      const auto deadline = std::chrono::steady_clock::now() + 3 * options.timeout;
      std::string body;
      bool too_large = false;
      bool too_slow = false;
      req.response_handler = [&](const httplib::Response& res) {
        if (res.has_header("Content-Length")) {
          const std::string value = res.get_header_value("Content-Length");
          std::uint64_t length = 0;
          const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), length);
          if (ec == std::errc::result_out_of_range ||
              (ec == std::errc() && length > kMaxBodyBytes)) {
            too_large = true;
            return false;
          }
          if (ec == std::errc() && end == value.data() + value.size()) {
            // Announced is not sent: reserve a bounded amount only.
            body.reserve(static_cast<std::size_t>(std::min(length, kReserveBytes)));
          }
        }
        return true;
      };
      req.content_receiver = [&](const char* data, std::size_t n, std::uint64_t, std::uint64_t) {
        if (n > kMaxBodyBytes - body.size()) {
          too_large = true;
          return false;
        }
        if (std::chrono::steady_clock::now() > deadline) {
          too_slow = true;
          return false;
        }
        body.append(data, n);
        return true;
      };

      httplib::Response res;
      httplib::Error error = httplib::Error::Success;
      const bool sent = client.send(req, res, error);
      if (too_large) {
        return Status::Corruption(prefix + "the answer is larger than " +
                                  std::to_string(kMaxBodyBytes >> 20) + " MiB; refused");
      }
      std::string failure;
      bool retriable = false;
      std::optional<milliseconds> retry_after;
      if (too_slow) {
        failure = "the answer did not arrive within " + milliseconds_text(3 * options.timeout);
        retriable = true;
      } else if (!sent) {
        failure = describe(error);
        retriable = is_retriable(error);
      } else if (res.status >= 200 && res.status < 300) {
        return body;
      } else {
        failure = "HTTP " + std::to_string(res.status) + ": " + quote(body);
        retriable = res.status == 429 || (res.status >= 500 && res.status < 600);
        retry_after = parse_retry_after(res);
      }
      if (!retriable || attempt >= attempts) {
        if (attempt > 1) failure += " [" + std::to_string(attempt) + " attempts]";
        return Status::IOError(prefix + failure);
      }
      std::this_thread::sleep_for(std::min(retry_after.value_or(backoff), kMaxBackoff));
      backoff = std::min(backoff * 2, kMaxBackoff);
    }
  }

  // The embeddings of an answer to `n` texts, in the order of the texts.
  Result<std::vector<std::vector<float>>> decode(const std::string& body, std::size_t n) {
    Json root;
    try {
      root = Json::parse(body);
    } catch (const Json::exception& e) {
      return Status::Corruption(prefix + "the answer is not valid JSON (" + printable(e.what()) +
                                "); it starts with: " + quote(body));
    }
    if (!root.is_object()) {
      return Status::Corruption(prefix + "the answer is a JSON " + type_name(root) +
                                ", not an object; it starts with: " + quote(body));
    }
    std::vector<std::vector<float>> out(n);
    std::vector<std::string> paths(n);  // where each text's embedding was found
    const bool openai = options.api == HttpApi::kOpenAI;
    const char* key = openai ? "data" : "embeddings";
    const auto list = root.find(key);
    if (list == root.end()) {
      return Status::Corruption(prefix + key + ": missing; the answer starts with: " + quote(body));
    }
    if (!list->is_array()) {
      return Status::Corruption(prefix + key + ": expected an array, got " + type_name(*list));
    }
    if (list->size() != n) {
      return Status::InvalidArgument(prefix + key + ": " + std::to_string(list->size()) +
                                     " embeddings for " + std::to_string(n) + " texts");
    }
    if (openai) {
      // Servers may answer out of order; "index" says which text each item belongs to.
      std::vector<bool> seen(n, false);
      for (std::size_t i = 0; i < n; ++i) {
        const Json& item = (*list)[i];
        const std::string at = std::string("data[") + std::to_string(i) + "]";
        if (!item.is_object()) {
          return Status::Corruption(prefix + at + ": expected an object, got " + type_name(item));
        }
        const auto index = item.find("index");
        if (index == item.end()) return Status::Corruption(prefix + at + ".index: missing");
        if (!index->is_number_integer()) {
          return Status::Corruption(prefix + at + ".index: expected an integer, got " +
                                    type_name(*index));
        }
        const bool is_unsigned = index->is_number_unsigned();
        const std::int64_t signed_value = is_unsigned ? 0 : index->get<std::int64_t>();
        const std::uint64_t value =
            is_unsigned ? index->get<std::uint64_t>()
                        : (signed_value < 0 ? std::numeric_limits<std::uint64_t>::max()
                                            : static_cast<std::uint64_t>(signed_value));
        if (value >= n) {
          return Status::Corruption(prefix + at + ".index: " + printable(index->dump()) +
                                    " is out of range for " + std::to_string(n) + " texts");
        }
        const auto k = static_cast<std::size_t>(value);
        if (seen[k]) {
          return Status::Corruption(prefix + at + ".index: " + std::to_string(k) +
                                    " appears more than once");
        }
        seen[k] = true;
        const auto embedding = item.find("embedding");
        paths[k] = at + ".embedding";
        if (embedding == item.end()) return Status::Corruption(prefix + paths[k] + ": missing");
        if (Status s = parse_vector(*embedding, paths[k], out[k]); !s.ok()) {
          return Status(s.code(), prefix + s.message());
        }
      }
    } else {
      for (std::size_t i = 0; i < n; ++i) {
        paths[i] = "embeddings[" + std::to_string(i) + "]";
        if (Status s = parse_vector((*list)[i], paths[i], out[i]); !s.ok()) {
          return Status(s.code(), prefix + s.message());
        }
      }
    }

    // One dimension for all: the configured one, else the learnt one, else this answer's.
    const std::size_t known = dimensions.load(std::memory_order_acquire);
    const std::size_t expected = known != 0 ? known : out.front().size();
    const char* why = options.dimensions != 0 ? "the configured dimensions"
                      : known != 0            ? "the dimension learnt from the first answer"
                                              : "the first embedding of this answer";
    for (std::size_t i = 0; i < n; ++i) {
      if (out[i].size() != expected) {
        return Status::InvalidArgument(prefix + paths[i] + ": " + std::to_string(out[i].size()) +
                                       " numbers, expected " + std::to_string(expected) + " (" +
                                       why + ")");
      }
    }
    if (known == 0) {
      std::size_t zero = 0;
      // Another call may have learnt a dimension meanwhile: it must agree.
      if (!dimensions.compare_exchange_strong(zero, expected, std::memory_order_acq_rel) &&
          zero != expected) {
        return Status::InvalidArgument(prefix + paths[0] + ": " + std::to_string(expected) +
                                       " numbers, expected " + std::to_string(zero) +
                                       " (the dimension learnt from the first answer)");
      }
    }
    return out;
  }

  Result<std::vector<std::vector<float>>> embed(std::span<const std::string> texts) {
    std::vector<std::vector<float>> result;
    if (texts.empty()) return result;
    for (std::size_t i = 0; i < texts.size(); ++i) {
      if (!encodable(texts[i])) {
        return Status::InvalidArgument(name + ": texts[" + std::to_string(i) +
                                       "]: not valid UTF-8");
      }
    }
    // One client per call: calls on several threads share nothing.
    httplib::Client client(base);
    if (!client.is_valid()) {
      return Status::NotSupported(name + ": cpp-httplib cannot make a client for " + base);
    }
    client.set_connection_timeout(options.timeout);
    client.set_read_timeout(options.timeout);
    client.set_write_timeout(options.timeout);
    client.set_follow_location(false);

    result.reserve(texts.size());
    for (std::size_t start = 0; start < texts.size(); start += options.batch_size) {
      const std::size_t count = std::min(options.batch_size, texts.size() - start);
      Json request = {{"model", options.model}, {"input", Json::array()}};
      Json& input = request["input"];
      for (std::size_t i = start; i < start + count; ++i) input.push_back(texts[i]);
      Result<std::string> body = post(client, request.dump());
      if (!body) return body.error();
      Result<std::vector<std::vector<float>>> batch = decode(*body, count);
      if (!batch) return batch.error();
      for (std::vector<float>& v : *batch) result.push_back(std::move(v));
    }
    return result;
  }
};

Result<std::shared_ptr<HttpEmbedder>> HttpEmbedder::create(HttpEmbedderOptions options) {
  Result<std::string> base = normalise_base_url(options.base_url);
  if (!base) return base.error();
  if (options.model.empty()) return Status::InvalidArgument("model: must not be empty");
  if (!encodable(options.model)) return Status::InvalidArgument("model: not valid UTF-8");
  for (char c : options.api_key) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      return Status::InvalidArgument("api_key: must not contain control characters");
    }
  }
  if (options.dimensions > kMaxDimensions) {
    return Status::InvalidArgument("dimensions: " + std::to_string(options.dimensions) +
                                   " is more than " + std::to_string(kMaxDimensions) +
                                   " (0 = learnt from the first answer)");
  }
  if (options.timeout.count() <= 0) {
    return Status::InvalidArgument("timeout: must be positive, got " +
                                   milliseconds_text(options.timeout));
  }
  if (options.max_retries < 0 || options.max_retries > kMaxRetries) {
    return Status::InvalidArgument("max_retries: " + std::to_string(options.max_retries) +
                                   " is not in 0.." + std::to_string(kMaxRetries));
  }
  if (options.retry_backoff.count() < 0) {
    return Status::InvalidArgument("retry_backoff: must not be negative");
  }
  if (options.batch_size < 1 || options.batch_size > kMaxBatchSize) {
    return Status::InvalidArgument("batch_size: " + std::to_string(options.batch_size) +
                                   " is not in 1.." + std::to_string(kMaxBatchSize));
  }

  auto impl = std::make_unique<Impl>();
  const bool openai = options.api == HttpApi::kOpenAI;
  impl->base = std::move(base).value();
  impl->path = openai ? "/v1/embeddings" : "/api/embed";
  impl->name = (openai ? "openai:" : "ollama:") + options.model;
  impl->prefix = impl->name + ": POST " + impl->base + impl->path + ": ";
  impl->dimensions.store(options.dimensions);
  impl->options = std::move(options);
  return std::shared_ptr<HttpEmbedder>(new HttpEmbedder(std::move(impl)));
}

HttpEmbedder::HttpEmbedder(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpEmbedder::~HttpEmbedder() = default;

std::string_view HttpEmbedder::name() const { return impl_->name; }

std::size_t HttpEmbedder::dimensions() const {
  return impl_->dimensions.load(std::memory_order_acquire);
}

Result<std::vector<std::vector<float>>> HttpEmbedder::embed(std::span<const std::string> texts) {
  // Nothing below is meant to throw, but allocation can, and so can a library: no exception
  // may cross the API.
  try {
    return impl_->embed(texts);
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted(impl_->name + ": out of memory while embedding " +
                                     std::to_string(texts.size()) + " texts");
  } catch (const std::exception& e) {
    return Status::Internal(impl_->name + ": unexpected exception: " + printable(e.what()));
  }
}

}  // namespace hnswstore::memory
