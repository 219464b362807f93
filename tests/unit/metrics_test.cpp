// llmstream::metrics without a network: hooks called by hand, the Prometheus text compared exactly.
#include <llmstream/client.hpp>
#include <llmstream/error.hpp>
#include <llmstream/metrics.hpp>

#include <catch2/catch.hpp>

using namespace llmstream;
using namespace std::chrono_literals;

namespace {

request_context context(std::string_view model) {
    return {7, "chat", "dashscope", model, "dashscope-intl.aliyuncs.com", 443, true};
}

}  // namespace

TEST_CASE("metrics: one request's histograms, bucket by bucket", "[metrics]") {
    metrics m;
    CHECK(m.render().empty());  // nothing recorded, nothing rendered
    const auto r = context("qwen-plus");
    m.request_started(r);
    m.first_delta(r, 30ms);
    request_result result;
    result.duration = 500ms;
    result.usage = usage{12, 3, 15};
    m.request_ended(r, result);

    const std::string labels = "gen_ai_operation_name=\"chat\",gen_ai_provider_name=\"dashscope\","
                               "gen_ai_request_model=\"qwen-plus\",server_address=\"dashscope-intl.aliyuncs.com\","
                               "server_port=\"443\"";
    const std::string text = m.render();
    INFO(text);
    std::string duration = "# HELP gen_ai_client_operation_duration_seconds GenAI operation duration.\n"
                           "# TYPE gen_ai_client_operation_duration_seconds histogram\n";
    const char* bounds[] = {"0.01", "0.02", "0.04", "0.08", "0.16", "0.32", "0.64",
                            "1.28", "2.56", "5.12", "10.24", "20.48", "40.96", "81.92", "+Inf"};
    int i = 0;
    for (const char* le : bounds) {
        const int below = i++ < 6 ? 0 : 1;  // 0.5 s falls in (0.32, 0.64]
        duration += "gen_ai_client_operation_duration_seconds_bucket{" + labels + ",le=\"" + le + "\"} " +
                    std::to_string(below) + "\n";
    }
    duration += "gen_ai_client_operation_duration_seconds_sum{" + labels + "} 0.5\n";
    duration += "gen_ai_client_operation_duration_seconds_count{" + labels + "} 1\n";
    CHECK(text.rfind(duration, 0) == 0);
    CHECK(text.find("gen_ai_client_token_usage_bucket{" + labels + ",gen_ai_token_type=\"input\",le=\"4\"} 0\n") !=
          std::string::npos);
    CHECK(text.find("gen_ai_client_token_usage_bucket{" + labels + ",gen_ai_token_type=\"input\",le=\"16\"} 1\n") !=
          std::string::npos);
    CHECK(text.find("gen_ai_client_token_usage_sum{" + labels + ",gen_ai_token_type=\"output\"} 3\n") != std::string::npos);
    CHECK(text.find("gen_ai_client_operation_time_to_first_chunk_seconds_bucket{" + labels + ",le=\"0.02\"} 0\n") !=
          std::string::npos);
    CHECK(text.find("gen_ai_client_operation_time_to_first_chunk_seconds_bucket{" + labels + ",le=\"0.04\"} 1\n") !=
          std::string::npos);
    CHECK(text.find("gen_ai_client_operation_time_to_first_chunk_seconds_sum{" + labels + "} 0.03\n") != std::string::npos);
    CHECK(text.find("llmstream_requests_in_flight{" + labels + "} 0\n") != std::string::npos);
    CHECK(text.find("error_type") == std::string::npos);  // only failures carry error.type
}

TEST_CASE("metrics: failures, retries, throttles, in-flight and the pool", "[metrics]") {
    metrics m;
    const auto r = context("qwen-max");
    m.request_started(r);
    m.request_started(r);
    retry_event retry;
    retry.attempt = 1;
    retry.error = api_errc::rate_limited;
    retry.http_status = 429;
    m.retry_scheduled(r, retry);
    request_result failed;
    failed.error = api_errc::rate_limited;
    failed.duration = 2s;
    m.request_ended(r, failed);  // the other one is still in flight
    m.record_pool(pool_stats{3, 1, 2, "dashscope-intl.aliyuncs.com", 443, 10, 7, 1});

    const std::string text = m.render();
    INFO(text);
    const std::string labels = "gen_ai_operation_name=\"chat\",gen_ai_provider_name=\"dashscope\","
                               "gen_ai_request_model=\"qwen-max\",server_address=\"dashscope-intl.aliyuncs.com\","
                               "server_port=\"443\"";
    CHECK(text.find("gen_ai_client_operation_duration_seconds_count{" + labels + ",error_type=\"rate_limited\"} 1\n") !=
          std::string::npos);
    CHECK(text.find("llmstream_requests_in_flight{" + labels + "} 1\n") != std::string::npos);
    CHECK(text.find("# TYPE llmstream_retries_total counter\nllmstream_retries_total{" + labels +
                    ",error_type=\"rate_limited\"} 1\n") != std::string::npos);
    CHECK(text.find("llmstream_throttles_total{" + labels + "} 2\n") != std::string::npos);  // the retried one and the last
    CHECK(text.find("gen_ai_client_token_usage") == std::string::npos);  // no usage was reported
    CHECK(text.find("time_to_first_chunk") == std::string::npos);
    const std::string pool_labels = "server_address=\"dashscope-intl.aliyuncs.com\",server_port=\"443\"";
    CHECK(text.find("llmstream_pool_connections{" + pool_labels + ",state=\"idle\"} 1\n") != std::string::npos);
    CHECK(text.find("llmstream_pool_connections{" + pool_labels + ",state=\"open\"} 3\n") != std::string::npos);
    CHECK(text.find("llmstream_pool_connections{" + pool_labels + ",state=\"connecting\"} 1\n") != std::string::npos);
    CHECK(text.find("llmstream_pool_waiting_requests{" + pool_labels + "} 2\n") != std::string::npos);
    CHECK(text.find("# TYPE llmstream_tls_handshakes_total counter\n") != std::string::npos);
    CHECK(text.find("llmstream_tls_handshakes_total{" + pool_labels + ",resumed=\"false\"} 3\n") != std::string::npos);
    CHECK(text.find("llmstream_tls_handshakes_total{" + pool_labels + ",resumed=\"true\"} 7\n") != std::string::npos);
}

TEST_CASE("metrics: label values are escaped, non-streaming calls have no time to first chunk", "[metrics]") {
    metrics m;
    request_context r{1, "chat", "openai", "a\"b\\c\nd", "localhost", 8080, false};
    m.request_started(r);
    m.first_delta(r, 1ms);
    request_result ok;
    ok.duration = 1ms;
    m.request_ended(r, ok);
    const std::string text = m.render();
    INFO(text);
    CHECK(text.find("gen_ai_request_model=\"a\\\"b\\\\c\\nd\"") != std::string::npos);
    CHECK(text.find("time_to_first_chunk") == std::string::npos);
    // Every line is a comment or "name{labels} value": no raw line feed from a label got through.
    std::size_t start = 0;
    while (start < text.size()) {
        const auto end = text.find('\n', start);
        REQUIRE(end != std::string::npos);
        const std::string line = text.substr(start, end - start);
        CHECK((line.rfind("# ", 0) == 0 || line.rfind("gen_ai_", 0) == 0 || line.rfind("llmstream_", 0) == 0));
        start = end + 1;
    }
}
