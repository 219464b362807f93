// limits.redis URLs and the default limit key: what is accepted, what is refused with a reason,
// and that neither a reason nor the key ever carries a secret.
#include "limits/redis_connection.hpp"
#include "limits/redis_store.hpp"

#include <catch2/catch.hpp>

using namespace llmstream::limits;

TEST_CASE("redis URLs: host, port, password, user, database") {
    redis_address a;
    REQUIRE(parse_redis_url("redis://127.0.0.1", a).empty());
    CHECK(a.host == "127.0.0.1");
    CHECK(a.port == "6379");
    CHECK(a.password.empty());
    CHECK(a.db == 0);

    REQUIRE(parse_redis_url("redis://:s3cret@redis.internal:6380/2", a).empty());
    CHECK(a.host == "redis.internal");
    CHECK(a.port == "6380");
    CHECK(a.user.empty());
    CHECK(a.password == "s3cret");
    CHECK(a.db == 2);
    CHECK(a.shown() == "redis.internal:6380");

    CHECK_FALSE(a.tls);
    REQUIRE(parse_redis_url("rediss://redis.example:6380", a).empty());
    CHECK(a.tls);
    CHECK(a.host == "redis.example");

    REQUIRE(parse_redis_url("redis://fleet:pw@[::1]:7000", a).empty());
    CHECK(a.host == "::1");
    CHECK(a.user == "fleet");
    CHECK(a.password == "pw");
}

TEST_CASE("unusable redis URLs are refused with a reason that never repeats the password") {
    redis_address a;
    for (const char* url : {"", "127.0.0.1:6379", "http://:SECRET@host", "redis://:SECRET@host/db",
                            "redis://:SECRET@host/-1", "rediss://:SECRET@host/x", "redis://:SECRET@"}) {
        INFO(url);
        const std::string error = parse_redis_url(url, a);
        CHECK_FALSE(error.empty());
        CHECK(error.find("SECRET") == std::string::npos);
        CHECK(error.find("limits.redis") != std::string::npos);
    }
}

TEST_CASE("the default limit key is a fingerprint: stable, and never the API key") {
    const std::string a = limit_fingerprint("https://dashscope.aliyuncs.com/compatible-mode/v1", "sk-KEY-123", "ws1");
    CHECK(a.size() == 32);
    CHECK(a.find("sk-KEY") == std::string::npos);
    CHECK(a == limit_fingerprint("https://dashscope.aliyuncs.com/compatible-mode/v1", "sk-KEY-123", "ws1"));
    CHECK(a != limit_fingerprint("https://dashscope.aliyuncs.com/compatible-mode/v1", "sk-KEY-124", "ws1"));
    CHECK(a != limit_fingerprint("https://dashscope.aliyuncs.com/compatible-mode/v1", "sk-KEY-123", "ws2"));
}
