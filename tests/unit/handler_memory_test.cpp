// handler_memory: one reusable block for the operation an object has pending at a time, the heap
// for anything else; and read_in, which puts a socket read's operation in that block.
#include "http/handler_memory.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/connect_pair.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <catch2/catch.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string_view>
#include <tuple>

using llmstream::http::handler_allocator;
using llmstream::http::handler_memory;
using llmstream::http::read_in;
namespace asio = boost::asio;

namespace {

// The block's own address: what the first allocation of a free memory returns.
template <std::size_t Size>
void* block_of(handler_memory<Size>& m) {
    void* p = m.allocate(8, alignof(std::max_align_t));
    m.deallocate(p, alignof(std::max_align_t));
    return p;
}

}  // namespace

TEST_CASE("handler_memory lends its block to one allocation at a time, the heap to the rest", "[handler_memory]") {
    handler_memory<64> m;
    void* const block = block_of(m);
    REQUIRE(block_of(m) == block);  // the same block every time it is free

    void* first = m.allocate(64, 8);
    CHECK(first == block);
    void* second = m.allocate(16, 8);  // the block is taken
    CHECK(second != block);
    m.deallocate(second, 8);
    m.deallocate(first, 8);
    CHECK(block_of(m) == block);

    void* large = m.allocate(65, 8);  // larger than the block
    CHECK(large != block);
    void* aligned = m.allocate(16, 2 * alignof(std::max_align_t));  // aligned more than the block is
    CHECK(aligned != block);
    CHECK(reinterpret_cast<std::uintptr_t>(aligned) % (2 * alignof(std::max_align_t)) == 0);
    m.deallocate(aligned, 2 * alignof(std::max_align_t));
    m.deallocate(large, 8);
    CHECK(block_of(m) == block);  // the heap's blocks never took the block's place
}

TEST_CASE("handler_allocator is a standard allocator over one handler_memory", "[handler_memory]") {
    handler_memory<128> m, other;
    void* const block = block_of(m);
    using traits = std::allocator_traits<handler_allocator<void, 128>>;
    traits::rebind_alloc<std::array<char, 100>> arrays(m.allocator());
    auto* a = arrays.allocate(1);
    CHECK(static_cast<void*>(a) == block);
    arrays.deallocate(a, 1);
    CHECK(m.allocator() == arrays);
    CHECK_FALSE(m.allocator() == other.allocator());
}

TEST_CASE("read_in puts a pending socket read in the memory and frees it when the read completes", "[handler_memory]") {
    asio::io_context io;
    asio::local::stream_protocol::socket reader(io), writer(io);
    asio::local::connect_pair(reader, writer);
    handler_memory<512> m;
    void* const block = block_of(m);

    std::array<char, 16> buffer{};
    bool done = false;
    boost::system::error_code ec;
    std::size_t n = 0;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            std::tie(ec, n) = co_await read_in(m, [&](auto handler) {
                reader.async_read_some(asio::buffer(buffer), std::move(handler));
            });
            done = true;
        },
        asio::detached);
    io.poll();
    REQUIRE_FALSE(done);  // the read waits for bytes
    void* meanwhile = m.allocate(8, 8);
    CHECK(meanwhile != block);  // the pending read holds the block
    m.deallocate(meanwhile, 8);

    asio::write(writer, asio::buffer(std::string_view("token")));
    io.run_for(std::chrono::seconds(5));
    REQUIRE(done);
    CHECK_FALSE(ec);
    CHECK(std::string_view(buffer.data(), n) == "token");
    CHECK(block_of(m) == block);  // free again
}
