// The delta channel without sockets or executors: order, lending, the end, cancellation,
// abandoned reads, "in progress", backpressure, and the ring's blocks (growth, the block cache).
#include "client/delta_channel.hpp"

#include <llmstream/error.hpp>

#include <boost/asio/error.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

using llmstream::delta;
using llmstream::errc;
using llmstream::detail::delta_channel;

namespace {

delta text(const std::string& s) {
    delta d;
    d.content = s;
    return d;
}

}  // namespace

TEST_CASE("delta channel: deltas in order, each lent until the next read", "[delta_channel]") {
    delta_channel ch(8);
    ch.push(text("a"));
    ch.push(text("b"));
    REQUIRE(ch.begin_read() == delta_channel::begin::started);
    auto r = ch.take();
    REQUIRE(r);
    CHECK_FALSE(r->ec);
    REQUIRE(r->d);
    const delta* lent = r->d;
    CHECK(lent->content == "a");
    // Until the completion ran, another read is in progress.
    CHECK(ch.begin_read() == delta_channel::begin::busy);
    ch.completed();
    // More arrive while "a" is lent (enough to grow the ring): "a" stays where it is.
    for (int i = 0; i < 40; ++i) ch.push(text("x" + std::to_string(i)));
    CHECK(lent->content == "a");
    REQUIRE(ch.begin_read() == delta_channel::begin::started);
    r = ch.take();
    REQUIRE(r);
    CHECK(r->d->content == "b");
    ch.completed();
    for (int i = 0; i < 40; ++i) {
        REQUIRE(ch.begin_read() == delta_channel::begin::started);
        r = ch.take();
        REQUIRE(r);
        CHECK(r->d->content == "x" + std::to_string(i));
        ch.completed();
    }
    CHECK(ch.delivered() == 42);
}

TEST_CASE("delta channel: every kind of delta comes out as it went in, one at a time and in a batch", "[delta_channel]") {
    // The ring packs text-only deltas (content or reasoning) and keeps others whole.
    std::vector<delta> in;
    in.push_back({});  // nothing at all
    delta first;
    first.role = "assistant";
    first.model = "m";
    first.response_id = "chatcmpl-1";
    in.push_back(first);
    in.push_back(text("a short one"));
    in.push_back(text(std::string(300, 'c')));
    delta reasoning;
    reasoning.reasoning_content = "thinking it over, at length";
    in.push_back(reasoning);
    delta both = text("answer");
    both.reasoning_content = "and a thought";
    in.push_back(both);
    delta tools;
    tools.tool_calls.push_back({0, "call_1", "get_weather", "{\"city\""});
    in.push_back(tools);
    delta signature;
    signature.reasoning_signature = "sig";
    in.push_back(signature);
    delta last = text("!");
    last.finish = llmstream::finish_reason::stop;
    last.finish_reason_text = "stop";
    last.usage = llmstream::usage{};
    last.usage->output_tokens = 7;
    last.request_id = "req-1";
    in.push_back(last);
    in.push_back(text("after"));

    delta_channel ch(64);
    for (int round = 0; round < 3; ++round) {  // slots are reused: a text one after a whole one, and back
        CAPTURE(round);
        for (const delta& d : in) ch.push(d);
        std::vector<delta> out;
        while (out.size() < in.size()) {
            REQUIRE(ch.begin_read() == delta_channel::begin::started);
            auto r = ch.take();
            REQUIRE(r);
            REQUIRE(r->d);
            out.push_back(*r->d);
            ch.completed();
        }
        CHECK(out == in);
        for (const delta& d : in) ch.push(d);
        REQUIRE(ch.begin_read() == delta_channel::begin::started);
        auto b = ch.take_batch();
        REQUIRE(b);
        REQUIRE(b->batch.size() == in.size());
        CHECK(std::vector<delta>(b->batch.begin(), b->batch.end()) == in);
        ch.completed();
    }
}

TEST_CASE("delta channel: while the reader waits with nothing buffered, a delta is decoded straight into the one it gets",
          "[delta_channel]") {
    delta_channel ch(64);
    REQUIRE(ch.begin_read() == delta_channel::begin::started);
    CHECK_FALSE(ch.take());
    delta& staged = ch.prepare();
    staged.clear();
    staged.content = "direct";
    ch.commit();
    CHECK(ch.buffered() == 1);
    // Deltas after it, before the reader ran, wait in the ring behind it.
    for (int i = 0; i < 3; ++i) {
        delta& d = ch.prepare();
        CHECK(&d != &staged);
        d.clear();
        d.content = "ring" + std::to_string(i);
        ch.commit();
    }
    CHECK(ch.buffered() == 4);
    auto r = ch.take();
    REQUIRE(r);
    CHECK(r->d == &staged);  // no copy, no packing
    CHECK(r->d->content == "direct");
    ch.completed();
    for (int i = 0; i < 3; ++i) {
        REQUIRE(ch.begin_read() == delta_channel::begin::started);
        r = ch.take();
        REQUIRE(r);
        CHECK(r->d->content == "ring" + std::to_string(i));
        // The reader's delta held a whole one last: nothing of "direct" is left but what was unpacked.
        CHECK(r->d->reasoning_content.empty());
        ch.completed();
    }

    // A batch read: the delta decoded in place comes first, then the ring's.
    REQUIRE(ch.begin_read() == delta_channel::begin::started);
    CHECK_FALSE(ch.take_batch());
    ch.prepare() = text("first");
    ch.commit();
    ch.push(text("second"));
    auto b = ch.take_batch();
    REQUIRE(b);
    REQUIRE(b->batch.size() == 2);
    CHECK(std::vector<delta>(b->batch.begin(), b->batch.end()) == std::vector<delta>{text("first"), text("second")});
    ch.completed();

    // A read abandoned between the decoding and the commit: the delta waits in the ring.
    REQUIRE(ch.begin_read() == delta_channel::begin::started);
    CHECK_FALSE(ch.take());
    ch.prepare() = text("late");
    CHECK(ch.abandon());
    ch.commit();
    ch.completed();
    CHECK(ch.buffered() == 1);
    REQUIRE(ch.begin_read() == delta_channel::begin::started);
    r = ch.take();
    REQUIRE(r);
    CHECK(*r->d == text("late"));
    ch.completed();

    // An event decoded in place that turned out to be no delta (never committed) leaves nothing
    // behind in what the reader gets next, even through the ring.
    REQUIRE(ch.begin_read() == delta_channel::begin::started);
    CHECK_FALSE(ch.take());
    ch.prepare().model = "stale-model";
    CHECK(ch.abandon());
    ch.completed();
    ch.push(text("clean"));
    REQUIRE(ch.begin_read() == delta_channel::begin::started);
    r = ch.take();
    REQUIRE(r);
    CHECK(*r->d == text("clean"));
    ch.completed();

    // Cancelled after the decoding: dropped like every buffered delta.
    REQUIRE(ch.begin_read() == delta_channel::begin::started);
    CHECK_FALSE(ch.take());
    ch.prepare() = text("dropped");
    ch.commit();
    ch.cancel();
    CHECK_FALSE(ch.take());  // dropped: the reader waits for the end
    ch.finish(boost::asio::error::operation_aborted);
    r = ch.take();
    REQUIRE(r);
    CHECK(r->d == nullptr);
    CHECK(r->ec == boost::asio::error::operation_aborted);
}

TEST_CASE("delta channel: a batch's whole deltas go back to their cache when the reader returns them", "[delta_channel]") {
    using cache = llmstream::detail::lent_deltas::block_cache;
    delta_channel ch(64);
    for (int i = 0; i < 20; ++i) ch.push(text("b" + std::to_string(i)));
    const std::size_t before = cache::instance().size();
    REQUIRE(before + 3 <= cache::max_blocks);
    REQUIRE(ch.begin_read() == delta_channel::begin::started);
    auto b = ch.take_batch();
    REQUIRE(b);
    REQUIRE(b->batch.size() == 20);
    CHECK(b->batch.begin()->content == "b0");
    CHECK(cache::instance().size() == before - std::min<std::size_t>(before, 3));  // 3 blocks of 8, from the cache when it had them
    ch.completed();
    const std::size_t while_lent = cache::instance().size();
    REQUIRE(ch.begin_read() == delta_channel::begin::started);  // returns them
    CHECK(cache::instance().size() == while_lent + 3);
    CHECK_FALSE(ch.take_batch());
}

TEST_CASE("delta channel: a batch's lent deltas come back emptied, a token's room kept and larger room freed",
          "[delta_channel]") {
    using llmstream::detail::lent_delta;
    using llmstream::detail::lent_deltas;
    using kind = llmstream::detail::packed_delta::kind;
    const std::string token(40, 't'), large(4096, 'L');
    delta_channel ch(64);
    ch.push(text(token));
    delta thinking;
    thinking.reasoning_content = large;
    ch.push(thinking);
    delta with_tool_calls = text(token);
    with_tool_calls.tool_calls.resize(2);
    ch.push(with_tool_calls);
    for (int i = 3; i < 8; ++i) ch.push(text(std::to_string(i)));  // one block of 8 in all
    const std::size_t before = lent_deltas::block_cache::instance().size();
    REQUIRE(before + 1 <= lent_deltas::block_cache::max_blocks);
    REQUIRE(ch.begin_read() == delta_channel::begin::started);
    auto b = ch.take_batch();
    REQUIRE(b);
    REQUIRE(b->batch.size() == 8);
    const delta* first = &*b->batch.begin();
    CHECK(first->content == token);
    CHECK(std::next(b->batch.begin())->reasoning_content == large);
    CHECK(std::next(b->batch.begin(), 2)->tool_calls.size() == 2);
    ch.completed();
    const std::size_t while_lent = lent_deltas::block_cache::instance().size();
    REQUIRE(ch.begin_read() == delta_channel::begin::started);  // gives the block back
    REQUIRE(lent_deltas::block_cache::instance().size() == while_lent + 1);
    auto block = lent_deltas::block_cache::instance().take();  // the last given, first taken
    REQUIRE(block);
    CHECK(&block[0].d == first);
    CHECK(block[0].holds == kind::content);
    CHECK(block[0].d.content.empty());
    CHECK(block[0].d.content.capacity() >= token.size());  // a token's room, kept
    CHECK(block[1].holds == kind::reasoning);
    CHECK(block[1].d.reasoning_content.empty());
    CHECK(block[1].d.reasoning_content.capacity() < large.size());  // freed
    CHECK(block[2].holds == kind::content);  // made anew
    CHECK(block[2].d.tool_calls.empty());
    CHECK(block[2].d.content.empty());
    for (std::size_t i = 0; i < lent_deltas::block_cache::block_size; ++i) CHECK(block[i].d == delta{});
    // A lent delta that changed kind keeps the room of one text only.
    block[0].d.content.clear();  // as unpacking a reasoning delta into it leaves it
    block[0].d.reasoning_content = token;
    block[0].holds = kind::reasoning;
    llmstream::detail::empty_lent_delta{}(block[0]);
    CHECK(block[0].d.reasoning_content.capacity() >= token.size());
    CHECK(block[0].d.content.capacity() == std::string().capacity());
    // The next batch unpacks into the kept room, in any kind.
    std::vector<std::unique_ptr<lent_delta[]>> back;
    back.push_back(std::move(block));
    lent_deltas::block_cache::instance().give(back, 0);
    for (int i = 0; i < 8; ++i) {
        delta d;
        (i % 2 ? d.reasoning_content : d.content) = "n" + std::to_string(i);
        ch.push(d);
    }
    b = ch.take_batch();
    REQUIRE(b);
    REQUIRE(b->batch.size() == 8);
    int i = 0;
    for (const delta& d : b->batch) {
        const std::string expected = "n" + std::to_string(i);
        CHECK(d.content == (i % 2 ? "" : expected));
        CHECK(d.reasoning_content == (i % 2 ? expected : ""));
        CHECK(d.tool_calls.empty());
        ++i;
    }
    ch.completed();
}

TEST_CASE("delta channel: deltas decoded in place, committed or left, across ring growth", "[delta_channel]") {
    delta_channel ch(64);
    ch.push(text("a"));
    REQUIRE(ch.begin_read() == delta_channel::begin::started);
    auto r = ch.take();
    REQUIRE(r);
    const delta* lent = r->d;
    ch.completed();
    // Every third event decodes to nothing: prepared, never committed, its slot used again. The
    // ring fills and grows several times while "a" is lent.
    int committed = 0;
    for (int i = 0; i < 90; ++i) {
        delta& slot = ch.prepare();
        slot.content = "x" + std::to_string(i);
        if (i % 3 == 2) continue;
        ch.commit();
        ++committed;
    }
    CHECK(lent->content == "a");
    CHECK(ch.buffered() == static_cast<std::size_t>(committed) + 1);  // "a" is still held, lent
    for (int i = 0; i < 90; ++i) {
        if (i % 3 == 2) continue;
        REQUIRE(ch.begin_read() == delta_channel::begin::started);
        r = ch.take();
        REQUIRE(r);
        CHECK(r->d->content == "x" + std::to_string(i));
        ch.completed();
    }
    REQUIRE(ch.begin_read() == delta_channel::begin::started);
    CHECK_FALSE(ch.take());  // nothing left: the uncommitted ones never reached the reader
}

TEST_CASE("delta channel: a delta decoded in place while the ring was full, committed after the reader took one",
          "[delta_channel]") {
    delta_channel ch(64);
    for (int i = 0; i < 12; ++i) ch.push(text("d" + std::to_string(i)));  // a full ring of 12 (4 + 8)
    REQUIRE(ch.begin_read() == delta_channel::begin::started);
    auto r = ch.take();
    REQUIRE(r);
    CHECK(r->d->content == "d0");
    ch.completed();
    delta& slot = ch.prepare();  // still full: "d0" is lent
    slot.content = "late";
    REQUIRE(ch.begin_read() == delta_channel::begin::started);  // returns "d0": room again
    r = ch.take();
    REQUIRE(r);
    CHECK(r->d->content == "d1");
    ch.completed();
    ch.commit();
    std::vector<std::string> rest;
    for (;;) {
        REQUIRE(ch.begin_read() == delta_channel::begin::started);
        r = ch.take();
        if (!r) break;
        rest.push_back(r->d->content);
        ch.completed();
    }
    CHECK(rest == std::vector<std::string>{"d2", "d3", "d4", "d5", "d6", "d7", "d8", "d9", "d10", "d11", "late"});
}

TEST_CASE("delta ring: it grows in order wherever its head is", "[delta_channel]") {
    for (int taken = 0; taken < 12; ++taken) {
        CAPTURE(taken);
        llmstream::detail::delta_ring ring;
        int next = 0, first = 0;
        auto check_order = [&] {
            REQUIRE(ring.size() == static_cast<std::size_t>(next - first));
            for (std::size_t i = 0; i < ring.size(); ++i) CHECK(ring.at(i).text == std::to_string(first + static_cast<int>(i)));
        };
        // Fill its 12 slots (4 + 8), take some from the front, fill again (the ring wraps), then
        // make it grow twice.
        while (ring.slots() < 12 || ring.size() < ring.slots()) ring.push(text(std::to_string(next++)));
        REQUIRE(ring.slots() == 12);
        for (int i = 0; i < taken; ++i, ++first) ring.pop();
        while (ring.size() < ring.slots()) ring.push(text(std::to_string(next++)));
        check_order();
        for (int i = 0; i < 10; ++i) ring.push(text(std::to_string(next++)));
        CHECK(ring.slots() == 28);
        check_order();
    }
}

TEST_CASE("delta channel: a pending read waits, then gets the next delta or the end", "[delta_channel]") {
    delta_channel ch(8);
    REQUIRE(ch.begin_read() == delta_channel::begin::started);
    CHECK_FALSE(ch.take());  // nothing yet: the read stays pending
    CHECK(ch.reader_pending());
    CHECK(ch.begin_read() == delta_channel::begin::busy);  // a second concurrent read
    ch.push(text("a"));
    auto r = ch.take();
    REQUIRE(r);
    CHECK(r->d->content == "a");
    ch.completed();

    ch.push(text("b"));
    ch.finish(errc::truncated_stream);
    REQUIRE(ch.begin_read() == delta_channel::begin::started);
    r = ch.take();
    REQUIRE(r);
    CHECK(r->d->content == "b");  // buffered deltas first
    ch.completed();
    REQUIRE(ch.begin_read() == delta_channel::begin::started);
    r = ch.take();
    REQUIRE(r);
    CHECK(r->d == nullptr);
    CHECK(r->ec == errc::truncated_stream);
    ch.completed();
    // The end is repeated to every later read.
    REQUIRE(ch.begin_read() == delta_channel::begin::started);
    r = ch.take();
    REQUIRE(r);
    CHECK(r->ec == errc::truncated_stream);
}

TEST_CASE("delta channel: cancellation drops what is buffered, an abandoned read leaves the stream going",
          "[delta_channel]") {
    delta_channel ch(8);
    ch.push(text("a"));
    ch.push(text("b"));
    ch.cancel();
    REQUIRE(ch.begin_read() == delta_channel::begin::started);
    CHECK_FALSE(ch.take());  // dropped: the reader waits for the end
    ch.finish(boost::asio::error::operation_aborted);
    auto r = ch.take();
    REQUIRE(r);
    CHECK(r->ec == boost::asio::error::operation_aborted);

    delta_channel other(8);
    REQUIRE(other.begin_read() == delta_channel::begin::started);
    CHECK(other.abandon());
    CHECK_FALSE(other.abandon());  // nothing pending any more
    CHECK(other.begin_read() == delta_channel::begin::busy);  // until the abandoned completion ran
    other.completed();
    other.push(text("c"));
    REQUIRE(other.begin_read() == delta_channel::begin::started);
    r = other.take();
    REQUIRE(r);
    CHECK(r->d->content == "c");  // the generation went on
}

TEST_CASE("delta channel: backpressure at capacity, room when the reader returns a delta", "[delta_channel]") {
    delta_channel ch(2);
    ch.push(text("a"));
    CHECK(ch.has_room());
    ch.push(text("b"));
    CHECK_FALSE(ch.has_room());
    REQUIRE(ch.begin_read() == delta_channel::begin::started);
    CHECK_FALSE(ch.room_freed());
    auto r = ch.take();
    REQUIRE(r);
    ch.completed();
    CHECK_FALSE(ch.has_room());  // "a" is lent, still held
    REQUIRE(ch.begin_read() == delta_channel::begin::started);
    CHECK(ch.room_freed());  // "a" came back: the producer may go on
    CHECK(ch.has_room());
    CHECK(ch.buffered() == 1);
}

TEST_CASE("delta channel: a batch read lends every ready delta, returned together at the next read",
          "[delta_channel]") {
    delta_channel ch(3);
    for (const char* t : {"a", "b", "c", "d"}) ch.push(text(t));
    CHECK_FALSE(ch.has_room());
    REQUIRE(ch.begin_read() == delta_channel::begin::started);
    auto r = ch.take_batch();
    REQUIRE(r);
    CHECK_FALSE(r->ec);
    REQUIRE(r->batch.size() == 4);
    std::string all;
    for (const delta& d : r->batch) all += d.content;
    CHECK(all == "abcd");
    CHECK(ch.delivered() == 4);
    // More arrive while the batch is lent (the ring grows): the lent ones stay put.
    const delta* first = &r->batch[0];
    for (int i = 0; i < 20; ++i) ch.push(text("x"));
    CHECK(first->content == "a");
    ch.completed();
    REQUIRE(ch.begin_read() == delta_channel::begin::started);
    CHECK_FALSE(ch.room_freed());  // all four came back at once, but 20 are still waiting (capacity 3)
    CHECK(ch.buffered() == 20);
    r = ch.take_batch();
    REQUIRE(r);
    CHECK(r->batch.size() == 20);
    ch.completed();
    ch.push(text("y"));
    REQUIRE(ch.begin_read() == delta_channel::begin::started);
    CHECK(ch.room_freed());  // the 20 came back: under capacity again
    r = ch.take_batch();
    REQUIRE(r);
    CHECK(r->batch.size() == 1);
    ch.completed();
    ch.finish({});
    REQUIRE(ch.begin_read() == delta_channel::begin::started);
    r = ch.take_batch();
    REQUIRE(r);
    CHECK(r->batch.empty());  // the end
    CHECK_FALSE(r->ec);
}

TEST_CASE("delta channel: a burst's slots are kept while bursts go on, given back once the stream trickles",
          "[delta_channel]") {
    delta_channel ch(256);
    auto read_one = [&](const std::string& expected) {
        REQUIRE(ch.begin_read() == delta_channel::begin::started);
        auto r = ch.take();
        REQUIRE(r);
        REQUIRE(r->d);
        CHECK(r->d->content == expected);
        ch.completed();
    };
    for (int i = 0; i < 30; ++i) ch.push(text("b" + std::to_string(i)));
    const std::size_t burst_slots = ch.slots();
    CHECK(burst_slots >= 30);
    for (int i = 0; i < 30; ++i) read_one("b" + std::to_string(i));
    // Waiting for the next one, the reader caught up after a burst: the slots stay for the next one.
    auto wait_then_take = [&](const std::string& pushed) {
        REQUIRE(ch.begin_read() == delta_channel::begin::started);
        CHECK_FALSE(ch.take());
        const std::size_t slots = ch.slots();
        ch.push(text(pushed));
        auto r = ch.take();
        REQUIRE(r);
        REQUIRE(r->d);
        CHECK(r->d->content == pushed);
        ch.completed();
        return slots;
    };
    CHECK(wait_then_take("t0") == burst_slots);
    // Waiting again with one delta since the ring was last empty: the stream trickles, the
    // burst's slots go.
    CHECK(wait_then_take("t1") == 4);
    // A later burst grows it again, in order.
    for (int i = 0; i < 20; ++i) ch.push(text("c" + std::to_string(i)));
    CHECK(ch.slots() >= 20);
    for (int i = 0; i < 20; ++i) read_one("c" + std::to_string(i));
    CHECK(ch.delivered() == 52);
}

TEST_CASE("delta ring: the blocks a ring gives back are kept for the next rings, up to the cache's limit",
          "[delta_channel]") {
    using llmstream::detail::delta_block_cache;
    using llmstream::detail::delta_ring;
    auto& cache = delta_block_cache::instance();
    const std::size_t before = cache.size();
    REQUIRE(before + 2 <= delta_block_cache::max_blocks);
    const llmstream::detail::packed_delta* slot_of_first = nullptr;
    std::size_t while_held = 0;
    {
        delta_ring r;
        for (int i = 0; i < 20; ++i) r.push(text("a" + std::to_string(i)));  // 4 + 8 + 8 slots
        CHECK(r.slots() == 20);
        CHECK(cache.size() == before - std::min<std::size_t>(before, 2));  // taken from the cache when it had some
        while_held = cache.size();
        slot_of_first = &r.at(19);  // in the last block
    }
    const std::size_t after_first = cache.size();
    CHECK(after_first == while_held + 2);  // its two 8-slot blocks (the 4-slot first block is freed)
    {
        delta_ring r;
        for (int i = 0; i < 20; ++i) r.push(text("b" + std::to_string(i)));
        CHECK(cache.size() == after_first - 2);  // both taken again
        bool reused = false;
        for (std::size_t i = 0; i < r.size(); ++i) reused = reused || &r.at(i) == slot_of_first;
        CHECK(reused);  // the last block given back is the first taken
        for (std::size_t i = 0; i < r.size(); ++i) CHECK(r.at(i).text == "b" + std::to_string(i));
        // A ring trimmed after a burst (caught_up) gives its blocks back too.
        r.clear();
        r.caught_up();  // 20 committed since empty: a burst, the blocks stay
        CHECK(r.slots() == 20);
        r.push(text("t"));
        r.pop();
        r.caught_up();  // one since empty: the stream trickles
        CHECK(r.slots() == 4);
        CHECK(cache.size() == after_first);
    }
    CHECK(cache.size() == after_first);

    // A block comes back empty: no text of its last stream, nor the room that text took.
    {
        delta_ring r;
        const std::string long_text(4096, 'x');
        for (int i = 0; i < 11; ++i) r.push(text(long_text));  // 4 + 8 slots
        delta with_tool_calls = text(long_text);
        with_tool_calls.tool_calls.resize(3);
        r.push(with_tool_calls);  // kept whole
        REQUIRE(r.at(11).k == llmstream::detail::packed_delta::kind::whole);
        REQUIRE(r.at(11).whole);
        CHECK(r.at(11).whole->tool_calls.size() == 3);
        CHECK(r.at(10).k == llmstream::detail::packed_delta::kind::content);
    }
    auto block = cache.take();
    REQUIRE(block);
    for (std::size_t i = 0; i < delta_block_cache::block_size; ++i) {
        CHECK(block[i].text.empty());
        CHECK(block[i].text.capacity() < 4096);
        CHECK_FALSE(block[i].whole);
    }

    // The cache keeps at most max_blocks: what does not fit stays with the giver.
    std::vector<std::unique_ptr<llmstream::detail::packed_delta[]>> blocks;
    blocks.push_back(std::move(block));
    while (cache.size() + blocks.size() < delta_block_cache::max_blocks + 3)
        blocks.push_back(std::make_unique<llmstream::detail::packed_delta[]>(delta_block_cache::block_size));
    cache.give(blocks, 0);
    CHECK(cache.size() == delta_block_cache::max_blocks);
    CHECK(std::count(blocks.begin(), blocks.end(), nullptr) == static_cast<std::ptrdiff_t>(blocks.size() - 3));
}
