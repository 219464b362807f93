// A ready observer: request metrics named after OpenTelemetry's GenAI semantic conventions,
// rendered in the Prometheus text format (no dependency). Set it as `client_config::observer`
// (one collector may serve many clients, on any threads), then serve `render()` at /metrics.
//
//   gen_ai_client_operation_duration_seconds            histogram  gen_ai.client.operation.duration
//   gen_ai_client_token_usage                           histogram  gen_ai.client.token.usage (input/output)
//   gen_ai_client_operation_time_to_first_chunk_seconds histogram  gen_ai.client.operation.time_to_first_chunk
//   llmstream_requests_in_flight                        gauge      requests started and not ended
//   llmstream_retries_total                             counter    attempts that failed and were sent again
//   llmstream_throttles_total                           counter    provider throttle responses (rate_limited)
//   llmstream_pool_connections{state="open"|"idle"}     gauge      from record_pool()
//   llmstream_pool_waiting_requests                     gauge      from record_pool()
//   llmstream_tls_handshakes_total{resumed="true"|"false"} counter from record_pool()
//
// Labels follow the conventions' attributes with dots as underscores (the OpenTelemetry-to-
// Prometheus mapping): gen_ai_operation_name, gen_ai_provider_name, gen_ai_request_model,
// server_address, server_port, error_type (failures only: error_class_name()), gen_ai_token_type.
// Histogram buckets are the conventions' explicit boundaries.
#pragma once

#include <llmstream/observer.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace llmstream {

struct pool_stats;  // client.hpp

class metrics : public observer {
public:
    metrics();
    ~metrics() override;
    metrics(const metrics&) = delete;
    metrics& operator=(const metrics&) = delete;

    /// Records a client's connection pool as it is now (the pool gauges of its origin, and its TLS
    /// handshake counts). Call it on the client's thread, e.g. just before render():
    /// `m.record_pool(c.pool_stats())`. The series are per origin: two clients of one origin on
    /// one collector overwrite each other's (give each its own collector).
    void record_pool(const pool_stats& stats);

    /// Everything recorded so far, in the Prometheus text exposition format (version 0.0.4).
    /// Safe to call from any thread.
    std::string render() const;

    void request_started(const request_context&) noexcept override;
    void retry_scheduled(const request_context&, const retry_event&) noexcept override;
    void first_delta(const request_context&, std::chrono::nanoseconds since_start) noexcept override;
    void request_ended(const request_context&, const request_result&) noexcept override;

private:
    struct state;
    std::unique_ptr<state> state_;
};

}  // namespace llmstream
