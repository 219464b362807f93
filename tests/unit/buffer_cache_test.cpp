// The cache of large byte buffers (src/memory/buffer_cache.hpp): sizes, reuse, the byte limit.
#include "memory/buffer_cache.hpp"

#include <catch2/catch.hpp>

#include <utility>
#include <vector>

using llmstream::memory::buffer_cache;
using llmstream::memory::byte_buffer;

TEST_CASE("buffer cache: sizes from 4 KiB to 128 KiB are rounded up to a power of two, others kept as asked",
          "[buffer_cache]") {
    CHECK(buffer_cache::allocation_size(0) == 0);
    CHECK(buffer_cache::allocation_size(1024) == 1024);
    CHECK(buffer_cache::allocation_size(4095) == 4095);
    CHECK(buffer_cache::allocation_size(4096) == 4096);
    CHECK(buffer_cache::allocation_size(4097) == 8192);
    CHECK(buffer_cache::allocation_size(65536 + 3000) == 131072);
    CHECK(buffer_cache::allocation_size(131072) == 131072);
    CHECK(buffer_cache::allocation_size(131073) == 131073);
    CHECK(byte_buffer(5000).size() == 8192);
    CHECK(byte_buffer(100).size() == 100);
    CHECK_FALSE(byte_buffer());
}

TEST_CASE("buffer cache: a buffer given back is the next one of its size class, small and huge ones are not kept",
          "[buffer_cache]") {
    buffer_cache cache(1024 * 1024);
    const char* first = nullptr;
    {
        byte_buffer b(20000, cache);  // 32 KiB
        REQUIRE(b);
        CHECK(b.size() == 32768);
        first = b.data();
        b.data()[b.size() - 1] = 'x';  // all of it is usable
    }
    CHECK(cache.bytes() == 32768);
    {
        byte_buffer other_class(16384, cache);
        CHECK(other_class.data() != first);
        CHECK(cache.bytes() == 32768);
        byte_buffer same_class(30000, cache);
        CHECK(same_class.data() == first);
        CHECK(cache.bytes() == 0);
    }
    CHECK(cache.bytes() == 32768 + 16384);
    { byte_buffer small(4095, cache); }
    { byte_buffer huge(200000, cache); }
    CHECK(cache.bytes() == 32768 + 16384);

    // A move hands the buffer over: given back once, by its last owner.
    {
        byte_buffer a(32768, cache);
        CHECK(a.data() == first);
        byte_buffer b = std::move(a);
        CHECK_FALSE(a);
        CHECK(b.data() == first);
        byte_buffer c;
        c = std::move(b);
        CHECK(c.data() == first);
        CHECK(cache.bytes() == 16384);
    }
    CHECK(cache.bytes() == 32768 + 16384);
    byte_buffer reused(32768, cache);
    CHECK(reused.data() == first);
    reused.reset();
    CHECK_FALSE(reused);
    CHECK(cache.bytes() == 32768 + 16384);
}

TEST_CASE("buffer cache: it keeps at most its byte limit, what does not fit is freed", "[buffer_cache]") {
    buffer_cache cache(4 * 65536);
    {
        std::vector<byte_buffer> held;
        for (int i = 0; i < 6; ++i) held.emplace_back(65536, cache);
    }
    CHECK(cache.bytes() == 4 * 65536);
    {
        byte_buffer b(4096, cache);  // no room left for it either
    }
    CHECK(cache.bytes() == 4 * 65536);
    std::vector<byte_buffer> again;
    for (int i = 0; i < 4; ++i) again.emplace_back(65536, cache);
    CHECK(cache.bytes() == 0);
}
