#include <llmstream/sse.hpp>

#include <iostream>

int main() {
    llmstream::sse::parser p;
    auto ec = p.feed("data: hello from an installed llmstream\n\n",
                     [](const llmstream::sse::event& e) { std::cout << e.data << '\n'; });
    return ec ? 1 : 0;
}
