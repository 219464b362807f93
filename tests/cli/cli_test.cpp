// The `llmstream` program, run as a child process against an in-process llmstream-mock: output,
// exit codes per error class, the two failure lines, doctor's checklist, and the key never shown.
#include "integration/collect.hpp"
#include "integration/mock_fixture.hpp"
#include "support/redis_server.hpp"
#include "support/run_process.hpp"
#include "support/test_ca.hpp"
#include "support/tinyproxy.hpp"

#include "cli/options.hpp"
#include "cli/outcome.hpp"

#include <llmstream/error.hpp>

#include <boost/asio/error.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <catch2/catch.hpp>

#include <map>

using namespace llmstream;
using namespace llmstream::testing;

namespace {

// A marked key: if any byte of it shows up in any output, a test fails.
const std::string secret = "sk-LLMSTREAM-SECRET-7f3a9c";

process_result run_cli(std::vector<std::string> args, std::vector<std::string> env = {}, std::string input = {}) {
    return run_process(LLMSTREAM_CLI_PATH, args, env, input);
}

void check_no_secret(const process_result& r) {
    INFO("stdout: " << r.out << "\nstderr: " << r.err);
    // The key's distinctive middle and end: a whole key, or any cut-off piece of it that matters.
    for (const char* piece : {"SECRET", "7f3a9c", "LLMSTREAM-SEC"}) {
        CHECK(r.out.find(piece) == std::string::npos);
        CHECK(r.err.find(piece) == std::string::npos);
    }
}

std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start < text.size()) {
        auto end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        out.push_back(text.substr(start, end - start));
        start = end + 1;
    }
    return out;
}

}  // namespace

TEST_CASE("chat streams only the content to stdout, with a newline at the end", "[cli]") {
    mock_fixture mock;
    auto r = run_cli({"chat", "--base-url", mock.base_url(), "--api-key", secret, "--model", "mock?tokens=5", "hello"});
    CHECK(r.exit_code == 0);
    CHECK(r.out == expected_text(5) + "\n");
    CHECK(r.err.empty());
    check_no_secret(r);

    auto v = run_cli({"chat", "--base-url", mock.base_url(), "--model", "mock?tokens=3", "-v", "hello"},
                 {"LLMSTREAM_API_KEY=" + secret});
    CHECK(v.exit_code == 0);
    CHECK(v.out == expected_text(3) + "\n");
    CHECK(v.err.find("ms to first token, 3 tokens") != std::string::npos);
    CHECK(v.err.find("1 attempt, request id mock-request-id") != std::string::npos);
    check_no_secret(v);
}

TEST_CASE("chat: reasoning is shown apart only when asked, --no-stream, the native dialect, stdin", "[cli]") {
    mock_fixture mock;
    const std::string model = "mock?tokens=3&reasoning=2";
    auto plain = run_cli({"chat", "--base-url", mock.base_url(), "--api-key", "k", "--model", model, "q"});
    CHECK(plain.out == expected_text(3) + "\n");
    auto shown = run_cli({"chat", "--base-url", mock.base_url(), "--api-key", "k", "--model", model, "--show-reasoning", "q"});
    CHECK(shown.out == "[reasoning]\n" + expected_text(2) + "\n[/reasoning]\n\n" + expected_text(3) + "\n");
    auto whole = run_cli({"chat", "--base-url", mock.base_url(), "--api-key", "k", "--model", model, "--no-stream", "q"});
    CHECK(whole.exit_code == 0);
    CHECK(whole.out == expected_text(3) + "\n");
    auto native = run_cli({"chat", "--dialect", "dashscope", "--base-url", mock.native_base_url(), "--api-key", "k",
                       "--model", "mock?tokens=4", "q"});
    CHECK(native.exit_code == 0);
    CHECK(native.out == expected_text(4) + "\n");
    auto piped = run_cli({"chat", "--base-url", mock.base_url(), "--api-key", "k", "--model", "mock?tokens=2", "-"}, {},
                     "a prompt from stdin\n");
    CHECK(piped.exit_code == 0);
    CHECK(piped.out == expected_text(2) + "\n");
}

TEST_CASE("usage errors exit with 2 and say what is wrong", "[cli]") {
    const std::vector<std::vector<std::string>> bad = {
        {},
        {"frobnicate"},
        {"chat", "hello"},                                                  // no --model
        {"chat", "--model", "m"},                                           // no prompt
        {"chat", "--model", "m", "--provider", "azure", "hi"},
        {"chat", "--model", "m", "--dialect", "anthropic", "hi"},
        {"chat", "--model", "m", "--timeout", "soon", "hi"},
        {"chat", "--model", "m", "--max-retries", "-1", "hi"},
        {"chat", "--model", "m", "--rpm", "0", "hi"},
        {"chat", "--model", "m", "--tpm", "lots", "hi"},
        {"chat", "--model", "m", "--base-url", "ftp://example.com", "hi"},
        {"chat", "--model", "m", "--provider", "openai", "--dialect", "dashscope", "hi"},
        {"chat", "--model", "m", "--frobnicate", "hi"},
        {"chat", "--model"},
        {"doctor", "extra", "words"},
    };
    for (const auto& args : bad) {
        auto r = run_cli(args);
        INFO("args: " << args.size() << " " << (args.empty() ? "" : args.back()));
        CHECK(r.exit_code == 2);
        CHECK(r.err.rfind("llmstream: ", 0) == 0);
        CHECK(r.err.find("usage:") != std::string::npos);
        CHECK(r.out.empty());
    }
    // A --ca-file that cannot be loaded is refused when the client is made, naming the file.
    auto ca = run_cli({"chat", "--model", "m", "--base-url", "https://127.0.0.1:1/v1", "--ca-file",
                       "/nonexistent/llmstream-ca.pem", "hi"});
    CHECK(ca.exit_code == 2);
    CHECK(ca.err.rfind("llmstream: tls.ca_file: cannot load \"/nonexistent/llmstream-ca.pem\": No such file or directory", 0) == 0);
    CHECK(ca.out.empty());
    auto help = run_cli({"--help"});
    CHECK(help.exit_code == 0);
    CHECK(help.out.find("exit codes:") != std::string::npos);
}

TEST_CASE("each error class has its exit code and two lines on stderr, the key is never printed", "[cli]") {
    mock_fixture mock;
    struct row {
        std::string model;
        std::vector<std::string> extra;
        int exit_code;
        std::string cls;
    };
    const std::vector<row> rows = {
        {"mock?status=401&code=invalid_api_key", {}, 3, "authentication"},
        {"mock?status=403&code=Model.AccessDenied", {"--provider", "dashscope-intl"}, 4, "permission_denied"},
        {"mock?status=402", {}, 5, "payment_required"},
        {"mock?status=429&code=insufficient_quota&errors=openai", {}, 5, "payment_required"},
        {"mock?status=404&code=model_not_found", {}, 6, "not_found"},
        {"mock?status=400&code=invalid_request_error", {}, 7, "bad_request"},
        {"mock?status=400&code=data_inspection_failed", {}, 7, "content_filtered"},
        {"mock?status=429&code=rate_limit_exceeded&retry_after_ms=1", {"--max-retries", "1"}, 8, "rate_limited"},
        {"mock?status=503&retry_after_ms=1", {"--max-retries", "1"}, 9, "overloaded"},
        {"mock?status=500&retry_after_ms=1", {"--max-retries", "0"}, 9, "server_error"},
        {"mock?tokens=10&error_after=3&error_status=500&code=server_error", {}, 9, "server_error"},
        {"mock?tokens=10&stall_after=2", {"--idle-timeout", "0.2"}, 10, "idle_timeout"},
        {"mock?tokens=10&reset_after=2", {}, 10, "connection_closed"},
        {"mock?tokens=10&malformed_after=2", {}, 1, "malformed_response"},
    };
    for (const auto& r : rows) {
        std::vector<std::string> args = {"chat", "--base-url", mock.base_url(), "--model", r.model};
        args.insert(args.end(), r.extra.begin(), r.extra.end());
        args.push_back("hello");
        // The key travels by flag in half the runs and by the environment in the other half.
        const bool by_flag = r.exit_code % 2 == 0;
        if (by_flag) args.insert(args.begin() + 1, {"--api-key", secret});
        std::vector<std::string> env = {"LLMSTREAM_API_KEY=" + secret, "DASHSCOPE_API_KEY=" + secret};
        auto p = run_cli(args, by_flag ? std::vector<std::string>{} : env);
        INFO(r.model << "\nstderr: " << p.err);
        CHECK(p.exit_code == r.exit_code);
        const auto err = lines(p.err);
        REQUIRE(err.size() == 2);
        CHECK(err[0].rfind("llmstream: " + r.cls + ": ", 0) == 0);
        CHECK(err[0].find("attempt") != std::string::npos);
        CHECK(err[1].rfind("hint: ", 0) == 0);
        if (r.model.find("status=") != std::string::npos) {
            CHECK(err[0].find("HTTP ") != std::string::npos);
            CHECK(err[0].find("request id mock-request-id") != std::string::npos);
            CHECK(err[0].find("provider code ") != std::string::npos);
        }
        check_no_secret(p);
    }
    // Retried classes report their attempts.
    auto p = run_cli({"chat", "--base-url", mock.base_url(), "--api-key", secret, "--model",
                  "mock?status=503&retry_after_ms=1", "--max-retries", "2", "hi"});
    CHECK(p.err.find("3 attempts") != std::string::npos);

    // Nothing listening: a network failure, exit 10.
    unsigned short closed_port = 0;
    {
        boost::asio::io_context io;
        boost::asio::ip::tcp::acceptor a(io, {boost::asio::ip::address_v4::loopback(), 0});
        closed_port = a.local_endpoint().port();
    }
    auto refused = run_cli({"chat", "--base-url", "http://127.0.0.1:" + std::to_string(closed_port) + "/v1", "--api-key",
                        secret, "--max-retries", "0", "--model", "m", "hi"});
    CHECK(refused.exit_code == 10);
    CHECK(refused.err.rfind("llmstream: network: no HTTP response", 0) == 0);
    check_no_secret(refused);
}

TEST_CASE("chat refuses to run without a key for a named provider", "[cli]") {
    auto r = run_cli({"chat", "--provider", "dashscope-intl", "--model", "qwen-plus", "hi"});
    CHECK(r.exit_code == 3);
    CHECK(r.err.find("DASHSCOPE_API_KEY") != std::string::npos);
}

TEST_CASE("doctor explains 403, 401 and 402 with the fix, and passes a healthy setup", "[cli][doctor]") {
    mock_fixture mock;
    auto doctor = [&](const std::string& model, std::vector<std::string> extra = {}) {
        std::vector<std::string> args = {"doctor", "--provider", "dashscope-intl", "--base-url", mock.base_url(),
                                         "--model", model};
        args.insert(args.end(), extra.begin(), extra.end());
        auto r = run_cli(args, {"DASHSCOPE_API_KEY=" + secret});
        check_no_secret(r);
        return r;
    };
    auto healthy = doctor("mock?tokens=1");
    CHECK(healthy.exit_code == 0);
    CHECK(healthy.out.find("[ok]   API key: set by DASHSCOPE_API_KEY") != std::string::npos);
    CHECK(healthy.out.find("[ok]   DNS: 127.0.0.1 resolves") != std::string::npos);
    CHECK(healthy.out.find("[ok]   request: mock?tokens=1 answered") != std::string::npos);
    CHECK(healthy.out.find("[FAIL]") == std::string::npos);
    CHECK(healthy.out.find("[ok]   rate limits: none set") != std::string::npos);
    auto limited = doctor("mock?tokens=1", {"--rpm", "600", "--max-in-flight", "4"});
    CHECK(limited.exit_code == 0);
    CHECK(limited.out.find("[ok]   rate limits: 600 requests per minute, 4 in flight") != std::string::npos);

    // Shared on Redis: whether it answers, never its password.
    redis_server redis("redis-SECRET-pass");
    auto shared = doctor("mock?tokens=1", {"--rpm", "600", "--redis", redis.url()});
    CHECK(shared.exit_code == 0);
    CHECK(shared.out.find("shared on Redis") != std::string::npos);
    CHECK(shared.out.find("[ok]   Redis at 127.0.0.1:" + std::to_string(redis.port()) + " answers") != std::string::npos);
    auto refused = doctor("mock?tokens=1", {"--rpm", "600", "--redis", "redis://:wrong-SECRET@127.0.0.1:" +
                                                                       std::to_string(redis.port())});
    CHECK(refused.exit_code == 0);
    CHECK(refused.out.find("[note] Redis at 127.0.0.1:" + std::to_string(redis.port()) + " refused the credentials") !=
          std::string::npos);
    CHECK(refused.out.find("SECRET") == std::string::npos);
    CHECK(shared.out.find("SECRET") == std::string::npos);

    auto denied = doctor("mock?status=403&code=Model.AccessDenied");
    CHECK(denied.exit_code == 4);
    CHECK(denied.out.find("[FAIL] request to") != std::string::npos);
    CHECK(denied.out.find("fix: the workspace of this key lacks model authorization") != std::string::npos);

    auto wrong_key = doctor("mock?status=401&code=InvalidApiKey");
    CHECK(wrong_key.exit_code == 3);
    CHECK(wrong_key.out.find("from another region") != std::string::npos);

    auto broke = doctor("mock?status=402");
    CHECK(broke.exit_code == 5);
    CHECK(broke.out.find("balance") != std::string::npos);

    auto arrears = doctor("mock?status=400&code=Arrearage");
    CHECK(arrears.exit_code == 5);

    // No key at all: said first, and the request is not attempted.
    auto none = run_cli({"doctor", "--provider", "dashscope", "--model", "qwen-plus"});
    CHECK(none.exit_code == 3);
    CHECK(none.out.find("[FAIL] API key: not set") != std::string::npos);
    CHECK(none.out.find("fix: export DASHSCOPE_API_KEY") != std::string::npos);
    CHECK(none.out.find("request: skipped") != std::string::npos);
    // The endpoint line names the region once.
    const auto beijing = none.out.find("Beijing");
    CHECK(beijing != std::string::npos);
    CHECK(none.out.find("Beijing", beijing + 1) == std::string::npos);
    // With --base-url the host's own region (here: this machine) is said instead.
    CHECK(healthy.out.find("a server on this machine") != std::string::npos);

    // A key pasted with its quotes.
    auto quoted = run_cli({"doctor", "--base-url", mock.base_url(), "--api-key", "\"sk-abc\"", "--model", "mock?tokens=1"});
    CHECK(quoted.exit_code == 3);
    CHECK(quoted.out.find("quotes") != std::string::npos);
}

TEST_CASE("option parsing and the endpoint they mean", "[cli][unit]") {
    using cli::make_endpoint;
    using cli::parse_arguments;
    auto parse = [](std::vector<std::string_view> a) { return parse_arguments(a); };
    const auto env = [](const char* name) -> std::string {
        if (std::string_view(name) == "DASHSCOPE_API_KEY") return "from-env";
        return {};
    };

    auto p = parse({"chat", "--provider=dashscope-intl", "--dialect", "dashscope", "--model", "qwen-plus",
                    "--timeout", "2.5", "--connect-timeout=0", "--max-retries", "4", "--", "--not-an-option", "x"});
    REQUIRE(p.error.empty());
    CHECK(p.opts.prompt == std::vector<std::string>{"--not-an-option", "x"});
    cli::endpoint ep;
    REQUIRE(make_endpoint(p.opts, env, ep).empty());
    CHECK(ep.config.base_url == "https://dashscope-intl.aliyuncs.com/api/v1");
    CHECK(ep.config.dialect == api_dialect::dashscope_native);
    CHECK(ep.config.vendor == vendor::dashscope);
    CHECK(ep.config.api_key == "from-env");
    CHECK(ep.key_source == "DASHSCOPE_API_KEY");
    CHECK(ep.config.timeouts.total == std::chrono::milliseconds(2500));
    CHECK(ep.config.timeouts.connect == std::chrono::milliseconds(0));
    CHECK(ep.config.retry.max_retries == 4);
    CHECK_FALSE(ep.config.limits.enabled());

    auto limited = parse({"chat", "--model", "m", "--rpm", "3000", "--tpm=100000", "--max-in-flight", "50", "--adaptive", "hi"});
    REQUIRE(limited.error.empty());
    REQUIRE(make_endpoint(limited.opts, env, ep).empty());
    CHECK(ep.config.limits.requests_per_minute == 3000);
    CHECK(ep.config.limits.tokens_per_minute == 100000);
    CHECK(ep.config.limits.max_in_flight == 50);
    CHECK(ep.config.limits.adaptive);

    // A custom base URL never picks up a provider's key from the environment.
    auto q = parse({"chat", "--base-url", "http://127.0.0.1:8080/v1/", "--model", "m", "hi"});
    REQUIRE(q.error.empty());
    REQUIRE(make_endpoint(q.opts, env, ep).empty());
    CHECK(ep.config.base_url == "http://127.0.0.1:8080/v1");
    CHECK(ep.config.api_key.empty());
    CHECK_FALSE(ep.key_required);

    // No provider and no base URL: OpenAI.
    auto o = parse({"chat", "--model", "gpt-4o-mini", "hi"});
    REQUIRE(make_endpoint(o.opts, env, ep).empty());
    CHECK(ep.config.base_url == "https://api.openai.com/v1");
    CHECK(ep.key_variable == "OPENAI_API_KEY");
}

TEST_CASE("a --base-url on a provider's host reads its key and codes and the --vendor and --resolve options parse",
          "[cli][unit]") {
    using cli::make_endpoint;
    auto parse = [](std::vector<std::string_view> a) { return cli::parse_arguments(a); };
    const auto env = [](const char* name) -> std::string {
        if (std::string_view(name) == "DASHSCOPE_API_KEY") return "dashscope-key";
        if (std::string_view(name) == "DEEPSEEK_API_KEY") return "deepseek-key";
        return {};
    };
    cli::endpoint ep;
    auto ds = parse({"chat", "--base-url", "https://dashscope-intl.aliyuncs.com/compatible-mode/v1", "--model", "m", "hi"});
    REQUIRE(ds.error.empty());
    REQUIRE(make_endpoint(ds.opts, env, ep).empty());
    CHECK(ep.config.vendor == vendor::dashscope);
    CHECK(ep.key_variable == "DASHSCOPE_API_KEY");
    CHECK(ep.config.api_key == "dashscope-key");
    CHECK(ep.key_required);

    auto dk = parse({"chat", "--base-url", "https://API.deepseek.com", "--model", "m", "hi"});
    REQUIRE(make_endpoint(dk.opts, env, ep).empty());
    CHECK(ep.config.vendor == vendor::deepseek);
    CHECK(ep.config.api_key == "deepseek-key");

    // A look-alike host is nobody's: no provider key goes to it.
    auto fake = parse({"chat", "--base-url", "https://dashscope-intl.aliyuncs.com.example.org/v1", "--model", "m", "hi"});
    REQUIRE(make_endpoint(fake.opts, env, ep).empty());
    CHECK(ep.config.vendor == vendor::automatic);
    CHECK(ep.config.api_key.empty());
    CHECK(ep.key_variable == "LLMSTREAM_API_KEY");

    auto named = parse({"chat", "--base-url", "https://dashscope.aliyuncs.com/compatible-mode/v1", "--vendor", "openai",
                        "--resolve", "dashscope.aliyuncs.com:127.0.0.1", "--resolve=h.example:[::1]", "--model", "m", "hi"});
    REQUIRE(named.error.empty());
    REQUIRE(make_endpoint(named.opts, env, ep).empty());
    CHECK(ep.config.vendor == vendor::openai);
    REQUIRE(ep.config.host_overrides.size() == 2);
    CHECK(ep.config.host_overrides[0].host == "dashscope.aliyuncs.com");
    CHECK(ep.config.host_overrides[0].address == "127.0.0.1");
    CHECK(ep.config.host_overrides[1].address == "::1");

    CHECK(parse({"chat", "--vendor", "mistral", "--model", "m", "hi"}).error.find("--vendor must be") == 0);
    CHECK(parse({"chat", "--resolve", "nocolon", "--model", "m", "hi"}).error == "--resolve must be HOST:ADDRESS");
    CHECK(parse({"chat", "--resolve", "h:not-an-ip", "--model", "m", "hi"}).error.find("not an IPv4 or IPv6") !=
          std::string::npos);
}

TEST_CASE("DashScope's TPM 429 through --base-url on DashScope's host is throttling: retried, not billing",
          "[cli]") {
    mock_fixture mock;
    const std::string host = "dashscope-intl.aliyuncs.com";
    const std::string url = "http://" + host + ":" + std::to_string(mock.port()) + "/compatible-mode/v1";
    // Always throttled: the CLI retries, then exits with the rate-limit code (8), not payment (5).
    auto r = run_cli({"chat", "--base-url", url, "--resolve", host + ":127.0.0.1", "--max-retries", "1", "--model",
                      "mock?status=429&code=insufficient_quota&errors=openai&retry_after=0", "hi"},
                     {"DASHSCOPE_API_KEY=" + secret});
    INFO(r.err);
    CHECK(r.exit_code == 8);
    CHECK(r.err.find("rate_limited") != std::string::npos);
    CHECK(r.err.find("2 attempts") != std::string::npos);
    check_no_secret(r);
    // The key came from DASHSCOPE_API_KEY: the request was sent with it (the mock answers 401 without one).
    CHECK(r.err.find("authentication") == std::string::npos);

    // Named as OpenAI, the same answer is exhausted billing: one attempt, exit 5.
    auto billed = run_cli({"chat", "--base-url", url, "--resolve", host + ":127.0.0.1", "--vendor", "openai",
                           "--max-retries", "1", "--model", "mock?status=429&code=insufficient_quota", "hi"},
                          {"DASHSCOPE_API_KEY=" + secret});
    CHECK(billed.exit_code == 5);

    // doctor honours --resolve: no DNS question for the pinned host, and the request reaches the mock.
    auto doc = run_cli({"doctor", "--base-url", url, "--resolve", host + ":127.0.0.1", "--model", "mock?tokens=1"},
                       {"DASHSCOPE_API_KEY=" + secret});
    INFO(doc.out);
    CHECK(doc.exit_code == 0);
    CHECK(doc.out.find("[ok]   API key: set by DASHSCOPE_API_KEY") != std::string::npos);
    CHECK(doc.out.find("DNS: not asked: --resolve sends " + host + " to 127.0.0.1") != std::string::npos);
    CHECK(doc.out.find("[ok]   request: mock?tokens=1 answered") != std::string::npos);
    check_no_secret(doc);
}

TEST_CASE("exit codes follow the error classes", "[cli][unit]") {
    using cli::exit_code_for;
    CHECK(exit_code_for({}) == 0);
    CHECK(exit_code_for(api_errc::authentication) == 3);
    CHECK(exit_code_for(api_errc::permission_denied) == 4);
    CHECK(exit_code_for(api_errc::payment_required) == 5);
    CHECK(exit_code_for(api_errc::not_found) == 6);
    CHECK(exit_code_for(api_errc::bad_request) == 7);
    CHECK(exit_code_for(api_errc::content_filtered) == 7);
    CHECK(exit_code_for(api_errc::rate_limited) == 8);
    CHECK(exit_code_for(api_errc::server_error) == 9);
    CHECK(exit_code_for(api_errc::overloaded) == 9);
    CHECK(exit_code_for(errc::connect_timeout) == 10);
    CHECK(exit_code_for(errc::first_byte_timeout) == 10);
    CHECK(exit_code_for(errc::deadline_exceeded) == 10);
    CHECK(exit_code_for(boost::asio::error::connection_refused) == 10);
    CHECK(exit_code_for(boost::asio::error::host_not_found) == 10);
    CHECK(exit_code_for(errc::malformed_response) == 1);
    CHECK(exit_code_for(boost::asio::error::fault) == 1);      // an internal fault is not the network
    CHECK(exit_code_for(boost::asio::error::no_memory) == 1);
    CHECK(exit_code_for(boost::asio::error::operation_aborted) == 1);
    CHECK(exit_code_for(boost::asio::error::connection_reset) == 10);
    CHECK(exit_code_for(api_errc::unexpected_status) == 1);
}

TEST_CASE("the marked key never appears in any output across the whole fault matrix", "[cli][secrets]") {
    mock_fixture mock;
    const std::vector<std::string> models = {
        "mock?tokens=3",
        "mock?status=400&code=invalid_request_error",
        "mock?status=401&code=invalid_api_key",
        "mock?status=403&code=Model.AccessDenied",
        "mock?status=402",
        "mock?status=404",
        "mock?status=429&code=rate_limit_exceeded&retry_after_ms=1",
        "mock?status=500&retry_after_ms=1",
        "mock?status=503&retry_after_ms=1",
        "mock?status=401&echo_auth=1",  // a server that echoes the key back in its error message
        "mock?status=429&echo_auth=1&retry_after_ms=1",
        "mock?tokens=10&reset_after=2",
        "mock?tokens=10&error_after=2&error_status=429&echo_auth=1",
        "mock?tokens=10&error_after=0&error_status=429&echo_auth=1",
        "mock?tokens=10&stall_after=2",
        "mock?tokens=10&malformed_after=2",
        "mock?reset_before_headers=1",
        "mock?raw=bad_chunk",
        "mock?raw=bad_status",
        "mock?raw=header_flood",
        "mock?raw=drip_headers",
        "mock?raw=endless",
        "mock?raw=gzip",
        "mock?raw=huge_line",
        "mock?raw=redirect&location=http://127.0.0.1:1/v1",
    };
    for (const auto& model : models) {
        INFO(model);
        const std::vector<std::string> common = {"--base-url", mock.base_url(), "--model", model, "--max-retries", "1",
                                                 "--idle-timeout", "0.3", "--timeout", "2"};
        std::vector<std::vector<std::string>> variants = {
            {"chat", "-v", "hello"}, {"chat", "--no-stream", "-v", "hello"}, {"doctor"}};
        for (auto& v : variants) {
            std::vector<std::string> args = {v[0]};
            args.insert(args.end(), common.begin(), common.end());
            args.insert(args.end(), v.begin() + 1, v.end());
            auto by_flag = args;
            by_flag.insert(by_flag.begin() + 1, {"--api-key", secret});
            for (const auto& r : {run_cli(by_flag), run_cli(args, {"LLMSTREAM_API_KEY=" + secret})}) {
                check_no_secret(r);
                CHECK(r.exit_code >= 0);  // exited by itself: nothing hung until the harness killed it
                if (model == "mock?tokens=3") CHECK(r.exit_code == 0);
                // (Mid-stream faults do not apply to --no-stream replies: those may succeed.)
                else if (v[0] == "chat" && v[1] == "-v") CHECK(r.exit_code != 0);
            }
        }
    }
}

TEST_CASE("proxies: https_proxy from the environment, --proxy, --no-proxy, and doctor's proxy line",
          "[cli][proxy]") {
    const std::string pw = "PROXYPW-" + secret;  // a proxy password carries the marked key: never shown
    tinyproxy proxy({"user", pw, {}});
    test_ca ca("DNS:localhost");
    tls_mock_fixture mock(ca.cert_file(), ca.key_file());
    const std::vector<std::string> chat = {"chat", "--base-url", mock.base_url(), "--ca-file", ca.ca_file(),
                                           "--api-key", "k", "--max-retries", "0", "--model", "mock?tokens=3", "hi"};
    auto with = [&](std::vector<std::string> extra) {
        auto args = chat;
        args.insert(args.begin() + 1, extra.begin(), extra.end());
        return args;
    };

    // The environment's https_proxy carries the request through a CONNECT tunnel.
    auto through = run_cli(chat, {"https_proxy=" + proxy.url_with("user", pw)});
    CHECK(through.exit_code == 0);
    CHECK(through.out == expected_text(3) + "\n");
    check_no_secret(through);
    CHECK(proxy.log().find("CONNECT localhost:" + std::to_string(mock.port())) != std::string::npos);

    // A wrong password: the proxy's own class and exit code, the proxy named, the password not.
    auto wrong = run_cli(with({"--proxy", proxy.url_with("user", "nope-" + secret)}));
    CHECK(wrong.exit_code == 10);
    CHECK(wrong.err.find("proxy_auth_required") != std::string::npos);
    CHECK(wrong.err.find("127.0.0.1:" + std::to_string(proxy.port())) != std::string::npos);
    check_no_secret(wrong);

    // --no-proxy ignores the environment: a dead proxy there does not matter.
    auto direct = run_cli(with({"--no-proxy"}), {"https_proxy=http://127.0.0.1:1"});
    CHECK(direct.exit_code == 0);
    CHECK(direct.out == expected_text(3) + "\n");

    // doctor names the proxy (host and port only) and why it was chosen, and checks its DNS.
    auto doctor = run_cli({"doctor", "--base-url", mock.base_url(), "--ca-file", ca.ca_file(), "--api-key", "k",
                           "--model", "mock?tokens=1"},
                          {"HTTPS_PROXY=" + proxy.url_with("user", pw)});
    INFO(doctor.out << doctor.err);
    CHECK(doctor.exit_code == 0);
    CHECK(doctor.out.find("proxy: 127.0.0.1:" + std::to_string(proxy.port()) + " (HTTPS_PROXY is set), through a "
                          "CONNECT tunnel") != std::string::npos);
    CHECK(doctor.out.find("the proxy looks up localhost") != std::string::npos);
    check_no_secret(doctor);

    // An unusable proxy URL is a usage error, without echoing the URL.
    auto bad = run_cli(with({"--proxy", "socks5://u:" + secret + "@127.0.0.1:1080"}));
    CHECK(bad.exit_code == 2);
    check_no_secret(bad);
}

TEST_CASE("providers and dialects: every region, Anthropic and Responses presets, ANTHROPIC_AUTH_TOKEN, --workspace",
          "[cli][unit][dialects]") {
    using cli::make_endpoint;
    auto parse = [](std::vector<std::string_view> a) { return cli::parse_arguments(a); };
    std::map<std::string, std::string> vars{{"DASHSCOPE_API_KEY", "dashscope-key"}};
    const auto env = [&](const char* name) -> std::string {
        const auto it = vars.find(name);
        return it == vars.end() ? std::string() : it->second;
    };
    cli::endpoint ep;
    struct expectation {
        std::vector<std::string_view> args;
        std::string base_url;
        api_dialect dialect;
    };
    const expectation rows[] = {
        {{"--provider", "dashscope-us", "--dialect", "anthropic"}, "https://dashscope-us.aliyuncs.com/apps/anthropic", api_dialect::anthropic_messages},
        {{"--provider", "dashscope-intl", "--dialect", "anthropic"}, "https://dashscope-intl.aliyuncs.com/apps/anthropic", api_dialect::anthropic_messages},
        {{"--provider", "dashscope", "--dialect", "responses"}, "https://dashscope.aliyuncs.com/compatible-mode/v1", api_dialect::openai_responses},
        {{"--provider", "dashscope-hongkong"}, "https://cn-hongkong.dashscope.aliyuncs.com/compatible-mode/v1", api_dialect::openai_compatible},
        {{"--provider", "dashscope-us", "--dialect", "dashscope"}, "https://dashscope-us.aliyuncs.com/api/v1", api_dialect::dashscope_native},
    };
    for (const auto& row : rows) {
        std::vector<std::string_view> args{"chat"};
        args.insert(args.end(), row.args.begin(), row.args.end());
        args.insert(args.end(), {"--workspace", "ws-123", "--model", "m", "hi"});
        auto p = parse(args);
        INFO(row.base_url);
        REQUIRE(p.error.empty());
        REQUIRE(make_endpoint(p.opts, env, ep).empty());
        CHECK(ep.config.base_url == row.base_url);
        CHECK(ep.config.dialect == row.dialect);
        CHECK(ep.config.vendor == vendor::dashscope);
        CHECK(ep.config.api_key == "dashscope-key");
        CHECK(ep.config.workspace == "ws-123");
    }

    // Anthropic: its own key variable, or the auth token sent as Bearer.
    auto a = parse({"chat", "--provider", "anthropic", "--model", "m", "hi"});
    REQUIRE(make_endpoint(a.opts, env, ep).empty());
    CHECK(ep.config.base_url == "https://api.anthropic.com");
    CHECK(ep.config.dialect == api_dialect::anthropic_messages);
    CHECK(ep.config.vendor == vendor::anthropic);
    CHECK(ep.config.api_key.empty());
    CHECK(ep.key_variable == "ANTHROPIC_API_KEY");
    vars["ANTHROPIC_AUTH_TOKEN"] = "token-1";
    REQUIRE(make_endpoint(a.opts, env, ep).empty());
    CHECK(ep.config.api_key == "token-1");
    CHECK(ep.config.auth == auth_scheme::bearer);
    CHECK(ep.key_source == "ANTHROPIC_AUTH_TOKEN");
    vars["ANTHROPIC_API_KEY"] = "key-1";
    REQUIRE(make_endpoint(a.opts, env, ep).empty());
    CHECK(ep.config.api_key == "key-1");
    CHECK(ep.config.auth == auth_scheme::automatic);  // x-api-key

    auto r = parse({"chat", "--provider", "openai", "--dialect", "responses", "--model", "m", "hi"});
    REQUIRE(make_endpoint(r.opts, env, ep).empty());
    CHECK(ep.config.dialect == api_dialect::openai_responses);
    CHECK(ep.config.base_url == "https://api.openai.com/v1");

    // The host says whose key: api.anthropic.com gets Anthropic's, a local server none of them.
    auto host = parse({"chat", "--base-url", "https://api.anthropic.com", "--dialect", "anthropic", "--model", "m", "hi"});
    REQUIRE(make_endpoint(host.opts, env, ep).empty());
    CHECK(ep.config.vendor == vendor::anthropic);
    CHECK(ep.config.api_key == "key-1");
    auto local = parse({"chat", "--base-url", "http://127.0.0.1:9/x", "--dialect", "anthropic", "--model", "m", "hi"});
    REQUIRE(make_endpoint(local.opts, env, ep).empty());
    CHECK(ep.config.api_key.empty());
    CHECK(ep.key_variable == "LLMSTREAM_API_KEY");

    // What no service serves is a usage error.
    auto oa = parse({"chat", "--provider", "openai", "--dialect", "anthropic", "--model", "m", "hi"});
    CHECK(make_endpoint(oa.opts, env, ep).find("--dialect anthropic is not served by OpenAI") == 0);
    auto an = parse({"chat", "--provider", "anthropic", "--dialect", "responses", "--model", "m", "hi"});
    CHECK(make_endpoint(an.opts, env, ep).find("--dialect responses is not served by Anthropic") == 0);
    CHECK(parse({"chat", "--dialect", "gemini", "--model", "m", "hi"}).error.find("--dialect must be") == 0);
    CHECK(parse({"chat", "--provider", "dashscope-mars", "--model", "m", "hi"}).error.find("dashscope-hongkong") != std::string::npos);
    CHECK(parse({"chat", "--workspace", "a b", "--model", "m", "hi"}).error == "--workspace must be a workspace id");
}

TEST_CASE("llmstream chat speaks Anthropic and Responses to the mock, and doctor walks a 403 through the workspace checklist",
          "[cli][dialects]") {
    mock_fixture mock;
    const std::string root = "http://127.0.0.1:" + std::to_string(mock.port());
    for (const char* dialect : {"anthropic", "responses"}) {
        INFO(dialect);
        auto r = run_cli({"chat", "--base-url", root, "--dialect", dialect, "--api-key", secret, "--model",
                          "mock?tokens=4&reasoning=1", "--show-reasoning", "hello"});
        check_no_secret(r);
        CHECK(r.exit_code == 0);
        CHECK(r.out.find("tok0 tok1 tok2 tok3") != std::string::npos);
        CHECK(r.out.find("[reasoning]") != std::string::npos);
        auto whole = run_cli({"chat", "--base-url", root, "--dialect", dialect, "--api-key", secret, "--model",
                              "mock?tokens=2", "--no-stream", "hello"});
        CHECK(whole.exit_code == 0);
        CHECK(whole.out.find("tok0 tok1") != std::string::npos);
        auto overloaded = run_cli({"chat", "--base-url", root, "--dialect", dialect, "--api-key", secret, "--max-retries",
                                   "0", "--model", "mock?status=529", "hello"});
        check_no_secret(overloaded);
        CHECK(overloaded.exit_code == 9);
        CHECK(overloaded.err.find("overloaded: HTTP 529") != std::string::npos);
    }
    auto denied = run_cli({"doctor", "--provider", "dashscope-intl", "--dialect", "anthropic", "--base-url", root + "/apps/anthropic",
                           "--workspace", "ws-42", "--model", "mock?status=403&code=Model.AccessDenied"},
                          {"DASHSCOPE_API_KEY=" + secret});
    check_no_secret(denied);
    CHECK(denied.exit_code == 4);
    CHECK(denied.out.find("Anthropic Messages dialect") != std::string::npos);
    CHECK(denied.out.find("workspace: ws-42") != std::string::npos);
    CHECK(denied.out.find("1. the key was created in the workspace") != std::string::npos);
    CHECK(denied.out.find("--workspace ws-42 was sent") != std::string::npos);
    CHECK(denied.out.find("2. that workspace has model authorization for mock?status=403") != std::string::npos);
    CHECK(denied.out.find("3. Model Studio is activated") != std::string::npos);
}
