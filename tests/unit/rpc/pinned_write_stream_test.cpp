// SendPins and PinnedWriteStream (private to hm_rpc): a pinned buffer lives
// exactly until the write that carries it is done or cancelled, over kj's
// in-memory pipe, whose writes finish only when the other end has read them.
#include "rpc/pinned_write_stream.h"

#include <gtest/gtest.h>

#include <kj/async.h>

#include <array>

namespace hm::rpc {
namespace {

using Piece = kj::ArrayPtr<const kj::byte>;

// A buffer to send, and a way to see whether anything still holds it.
struct Buffer {
  std::shared_ptr<std::array<kj::byte, 64>> bytes = std::make_shared<std::array<kj::byte, 64>>();
  std::weak_ptr<const void> watch = bytes;
  const kj::byte* address = bytes->data();
  Piece piece() const { return {address, 64}; }
  bool alive() const { return !watch.expired(); }
};

// Hands the buffer to `pins` and lets go of it here.
void pin_and_drop(SendPins& pins, Buffer& buffer) {
  pins.pin(buffer.address, std::move(buffer.bytes));
}

TEST(SendPins, TakesOnePinPerPieceThatStartsAtAPinnedAddress) {
  SendPins pins;
  Buffer a, b;
  pins.pin(a.bytes->data(), a.bytes);
  pins.pin(a.bytes->data(), a.bytes);  // the same buffer, in a second message
  pins.pin(b.bytes->data(), b.bytes);
  kj::byte table[8] = {};
  std::array<Piece, 2> first{Piece(table, 8), a.piece()};
  EXPECT_EQ(pins.take(kj::arrayPtr(first.data(), first.size())).size(), 1u);
  EXPECT_EQ(pins.size(), 2u);
  std::array<Piece, 3> second{Piece(table, 8), a.piece(), b.piece()};
  EXPECT_EQ(pins.take(kj::arrayPtr(second.data(), second.size())).size(), 2u);
  EXPECT_EQ(pins.size(), 0u);
  EXPECT_TRUE(pins.take(kj::arrayPtr(second.data(), second.size())).empty());
}

class PinnedWrite : public ::testing::Test {
 protected:
  ~PinnedWrite() noexcept override = default;  // kj's members may throw; these do not

  kj::EventLoop loop;
  kj::WaitScope wait{loop};
  kj::TwoWayPipe pipe = kj::newTwoWayPipe();
  std::shared_ptr<SendPins> pins = std::make_shared<SendPins>();
  PinnedWriteStream stream{kj::mv(pipe.ends[0]), pins};
  std::array<kj::byte, 128> received{};
};

TEST_F(PinnedWrite, HoldsTheBufferUntilItsWriteIsDone) {
  Buffer buffer;
  buffer.bytes->fill(7);
  pin_and_drop(*pins, buffer);
  kj::byte header[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  std::array<Piece, 2> pieces{Piece(header, 8), buffer.piece()};
  auto written = stream.write(kj::arrayPtr(pieces.data(), pieces.size()));
  EXPECT_EQ(pins->size(), 0u);  // moved onto the write
  EXPECT_TRUE(buffer.alive());
  // The write finishes only once the other end has read everything.
  auto read = pipe.ends[1]->read(received.data(), 72);
  read.wait(wait);
  written.wait(wait);
  EXPECT_FALSE(buffer.alive());
  EXPECT_EQ(received[0], 1);
  EXPECT_EQ(received[8], 7);
  EXPECT_EQ(received[71], 7);
}

TEST_F(PinnedWrite, ACancelledWriteReleasesItsBuffers) {
  Buffer buffer;
  pin_and_drop(*pins, buffer);
  {
    auto written = stream.write(buffer.address, 64);
    EXPECT_EQ(pins->size(), 0u);
    EXPECT_TRUE(buffer.alive());
  }  // dropped before anyone read it
  EXPECT_FALSE(buffer.alive());
}

TEST_F(PinnedWrite, APinNoWriteCarriesLivesAsLongAsThePins) {
  Buffer buffer;
  auto own_pins = std::make_shared<SendPins>();
  auto own_stream = kj::heap<PinnedWriteStream>(kj::mv(pipe.ends[1]), own_pins);
  pin_and_drop(*own_pins, buffer);
  kj::byte other[16] = {};
  auto written = own_stream->write(other, sizeof(other));
  stream.read(received.data(), sizeof(other)).wait(wait);
  written.wait(wait);
  EXPECT_TRUE(buffer.alive());
  own_pins.reset();  // the stream still shares them
  EXPECT_TRUE(buffer.alive());
  own_stream = nullptr;
  EXPECT_FALSE(buffer.alive());
}

}  // namespace
}  // namespace hm::rpc
