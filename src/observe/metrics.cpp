// llmstream::metrics: the observer's events folded into counters, gauges and histograms, and
// rendered as Prometheus text. One mutex: events come once or twice per request, not per delta.
#include <llmstream/client.hpp>
#include <llmstream/error.hpp>
#include <llmstream/metrics.hpp>

#include <array>
#include <charconv>
#include <map>
#include <mutex>
#include <span>
#include <vector>

namespace llmstream {

namespace {

// The GenAI conventions' explicit bucket boundaries.
constexpr std::array<double, 14> duration_bounds{0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64,
                                                 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92};
constexpr std::array<double, 14> token_bounds{1,      4,       16,      64,       256,      1024,     4096,
                                              16384,  65536,   262144,  1048576,  4194304,  16777216, 67108864};
// Time to first chunk: the boundaries the conventions give the server's time to first token.
constexpr std::array<double, 16> first_chunk_bounds{0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1,
                                                    0.25,  0.5,   0.75, 1.0,  2.5,  5.0,  7.5,  10.0};

struct histogram {
    std::vector<std::uint64_t> counts;  // one per bound, then +Inf (not cumulative)
    double sum = 0;
    std::uint64_t count = 0;

    void add(std::span<const double> bounds, double value) {
        if (counts.empty()) counts.assign(bounds.size() + 1, 0);
        std::size_t i = 0;
        while (i < bounds.size() && value > bounds[i]) ++i;  // Prometheus buckets are "less or equal"
        ++counts[i];
        sum += value;
        ++count;
    }
};

void append_number(std::string& out, double v) {
    char buffer[32];
    const auto r = std::to_chars(buffer, buffer + sizeof buffer, v);
    out.append(buffer, r.ptr);
}

// A label value in the text format: backslash, double quote and line feed escaped.
void append_label(std::string& out, std::string_view name, std::string_view value) {
    if (!out.empty()) out += ',';
    out += name;
    out += "=\"";
    for (char c : value) {
        if (c == '\\') out += "\\\\";
        else if (c == '"') out += "\\\"";
        else if (c == '\n') out += "\\n";
        else out += c;
    }
    out += '"';
}

// The labels every request series carries (the conventions' required and recommended attributes).
std::string request_labels(const request_context& r) {
    std::string out;
    append_label(out, "gen_ai_operation_name", r.operation);
    append_label(out, "gen_ai_provider_name", r.provider);
    append_label(out, "gen_ai_request_model", r.model);
    append_label(out, "server_address", r.server_address);
    append_label(out, "server_port", std::to_string(r.server_port));
    return out;
}

std::string with_label(std::string labels, std::string_view name, std::string_view value) {
    append_label(labels, name, value);
    return labels;
}

void append_header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
    out += "# HELP ";
    out += name;
    out += ' ';
    out += help;
    out += "\n# TYPE ";
    out += name;
    out += ' ';
    out += type;
    out += '\n';
}

template <class Value>
void append_sample(std::string& out, std::string_view name, std::string_view labels, Value v) {
    out += name;
    if (!labels.empty()) {
        out += '{';
        out += labels;
        out += '}';
    }
    out += ' ';
    append_number(out, static_cast<double>(v));
    out += '\n';
}

void append_histograms(std::string& out, std::string_view name, std::string_view help, std::span<const double> bounds,
                       const std::map<std::string, histogram>& series) {
    if (series.empty()) return;
    append_header(out, name, "histogram", help);
    const std::string bucket = std::string(name) + "_bucket";
    for (const auto& [labels, h] : series) {
        std::uint64_t cumulative = 0;
        for (std::size_t i = 0; i <= bounds.size(); ++i) {
            cumulative += h.counts[i];
            std::string le;
            if (i < bounds.size()) append_number(le, bounds[i]);
            else le = "+Inf";
            append_sample(out, bucket, with_label(labels, "le", le), cumulative);
        }
        append_sample(out, std::string(name) + "_sum", labels, h.sum);
        append_sample(out, std::string(name) + "_count", labels, h.count);
    }
}

template <class Number>
void append_family(std::string& out, std::string_view name, std::string_view type, std::string_view help,
                   const std::map<std::string, Number>& series) {
    if (series.empty()) return;
    append_header(out, name, type, help);
    for (const auto& [labels, v] : series) append_sample(out, name, labels, v);
}

double seconds(std::chrono::nanoseconds d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

struct metrics::state {
    mutable std::mutex mutex;
    std::map<std::string, histogram> duration, tokens, first_chunk;
    std::map<std::string, std::int64_t> in_flight;
    std::map<std::string, std::uint64_t> retries, throttles;
    std::map<std::string, std::size_t> pool_connections, pool_waiting;
    std::map<std::string, std::uint64_t> tls_handshakes;
};

metrics::metrics() : state_(std::make_unique<state>()) {}
metrics::~metrics() = default;

// The hooks are noexcept: a sample that cannot be stored (out of memory) is dropped.

void metrics::request_started(const request_context& r) noexcept {
    try {
        const std::string labels = request_labels(r);
        std::lock_guard lock(state_->mutex);
        ++state_->in_flight[labels];
    } catch (...) {
    }
}

void metrics::retry_scheduled(const request_context& r, const retry_event& e) noexcept {
    try {
        const std::string labels = with_label(request_labels(r), "error_type", error_class_name(e.error));
        std::lock_guard lock(state_->mutex);
        ++state_->retries[labels];
        if (e.error == api_errc::rate_limited) ++state_->throttles[request_labels(r)];
    } catch (...) {
    }
}

void metrics::first_delta(const request_context& r, std::chrono::nanoseconds since_start) noexcept {
    if (!r.streaming) return;  // the conventions: time to first chunk is for streaming calls only
    try {
        const std::string labels = request_labels(r);
        std::lock_guard lock(state_->mutex);
        state_->first_chunk[labels].add(first_chunk_bounds, seconds(since_start));
    } catch (...) {
    }
}

void metrics::request_ended(const request_context& r, const request_result& result) noexcept {
    try {
        const std::string labels = request_labels(r);
        const std::string duration_labels =
            result.error ? with_label(labels, "error_type", error_class_name(result.error)) : labels;
        std::lock_guard lock(state_->mutex);
        if (auto it = state_->in_flight.find(labels); it != state_->in_flight.end()) --it->second;
        state_->duration[duration_labels].add(duration_bounds, seconds(result.duration));
        if (result.usage) {
            state_->tokens[with_label(labels, "gen_ai_token_type", "input")].add(
                token_bounds, static_cast<double>(result.usage->input_tokens));
            state_->tokens[with_label(labels, "gen_ai_token_type", "output")].add(
                token_bounds, static_cast<double>(result.usage->output_tokens));
        }
        if (result.error == api_errc::rate_limited) ++state_->throttles[labels];
    } catch (...) {
    }
}

void metrics::record_pool(const pool_stats& stats) {
    std::string labels;
    append_label(labels, "server_address", stats.server_address);
    append_label(labels, "server_port", std::to_string(stats.server_port));
    std::lock_guard lock(state_->mutex);
    state_->pool_connections[with_label(labels, "state", "open")] = stats.open;
    state_->pool_connections[with_label(labels, "state", "idle")] = stats.idle;
    state_->pool_connections[with_label(labels, "state", "connecting")] = stats.connecting;
    state_->pool_waiting[labels] = stats.waiting;
    if (stats.tls_handshakes > 0) {
        state_->tls_handshakes[with_label(labels, "resumed", "true")] = stats.tls_resumed;
        state_->tls_handshakes[with_label(labels, "resumed", "false")] = stats.tls_handshakes - stats.tls_resumed;
    }
}

std::string metrics::render() const {
    std::string out;
    std::lock_guard lock(state_->mutex);
    append_histograms(out, "gen_ai_client_operation_duration_seconds", "GenAI operation duration.", duration_bounds,
                      state_->duration);
    append_histograms(out, "gen_ai_client_token_usage", "Number of input and output tokens used.", token_bounds,
                      state_->tokens);
    append_histograms(out, "gen_ai_client_operation_time_to_first_chunk_seconds",
                      "Time from the request's start to its first streamed chunk.", first_chunk_bounds,
                      state_->first_chunk);
    append_family(out, "llmstream_requests_in_flight", "gauge", "Requests started and not yet ended.",
                  state_->in_flight);
    append_family(out, "llmstream_retries_total", "counter", "Failed attempts that were sent again.", state_->retries);
    append_family(out, "llmstream_throttles_total", "counter",
                  "Provider throttle responses (rate_limited), retried or final.", state_->throttles);
    append_family(out, "llmstream_pool_connections", "gauge", "Connections of the client's pool (record_pool).",
                  state_->pool_connections);
    append_family(out, "llmstream_pool_waiting_requests", "gauge", "Requests waiting for a connection (record_pool).",
                  state_->pool_waiting);
    append_family(out, "llmstream_tls_handshakes_total", "counter",
                  "TLS handshakes of the client's connections, resumed or full (record_pool).", state_->tls_handshakes);
    return out;
}

}  // namespace llmstream
