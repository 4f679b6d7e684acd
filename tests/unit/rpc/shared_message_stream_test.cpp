// SharedMessageStream and IncomingBuffers (private to hm_rpc): messages read
// from a stream into buffers that tensors may share, with Cap'n Proto's own
// limits, over kj's in-memory pipe.
#include "rpc/shared_message_stream.h"

#include <gtest/gtest.h>

#include <capnp/message.h>
#include <capnp/orphan.h>
#include <kj/async.h>

#include "hm/tensor/wire_tensor.h"
#include "rpc/tensor_lists.h"

namespace hm::rpc {
namespace {

TEST(IncomingBuffers, FindsTheBufferThatHoldsAWholeRange) {
  IncomingBuffers buffers;
  std::vector<std::byte> a(100), b(50);
  auto owner_a = std::make_shared<int>(1), owner_b = std::make_shared<int>(2);
  buffers.add(a.data(), a.size(), owner_a);
  buffers.add(b.data(), b.size(), owner_b);
  EXPECT_EQ(buffers.owner_of(a.data(), 100), owner_a);
  EXPECT_EQ(buffers.owner_of(a.data() + 40, 60), owner_a);
  EXPECT_EQ(buffers.owner_of(b.data() + 49, 1), owner_b);
  EXPECT_EQ(buffers.owner_of(a.data() + 40, 61), nullptr);  // runs past its end
  int elsewhere = 0;
  EXPECT_EQ(buffers.owner_of(&elsewhere, 4), nullptr);
  buffers.remove(a.data());
  EXPECT_EQ(buffers.owner_of(a.data(), 1), nullptr);
  EXPECT_EQ(buffers.size(), 1u);
}

class SharedMessages : public ::testing::Test {
 protected:
  ~SharedMessages() noexcept override = default;  // kj's members may throw; these do not

  kj::EventLoop loop;
  kj::WaitScope wait{loop};
  kj::TwoWayPipe pipe = kj::newTwoWayPipe();
  std::shared_ptr<IncomingBuffers> buffers = std::make_shared<IncomingBuffers>();
  SharedMessageStream reader{*pipe.ends[1], buffers};

  // Writes `segments` as one message (capnp's framing) and reads it back.
  kj::Maybe<capnp::MessageReaderAndFds> send_and_read(
      kj::ArrayPtr<const kj::ArrayPtr<const capnp::word>> segments,
      capnp::ReaderOptions options = {}) {
    auto written = capnp::writeMessage(*pipe.ends[0], segments);
    auto read = reader.tryReadMessage(nullptr, options, nullptr).wait(wait);
    written.wait(wait);
    return read;
  }
  // Writes raw bytes on a pipe of its own, then hangs up, and reads one
  // message from it; returns what the read failed with.
  std::string error_reading(std::vector<uint32_t> words, capnp::ReaderOptions options = {}) {
    auto own = kj::newTwoWayPipe();
    SharedMessageStream own_reader(*own.ends[1], buffers);
    auto written = own.ends[0]
                       ->write(words.data(), words.size() * 4)
                       .then([&] { own.ends[0]->shutdownWrite(); })
                       .eagerlyEvaluate([](kj::Exception&&) {});
    try {
      own_reader.tryReadMessage(nullptr, options, nullptr).wait(wait);
    } catch (const kj::Exception& e) {
      return e.getDescription().cStr();
    }
    return "(no error)";
  }
};

TEST_F(SharedMessages, AMultiSegmentMessageIsReadIntoOneSharedBuffer) {
  // A tensor sent by reference: its bytes are a second segment.
  auto tensor = HostTensor::uninitialized(DType::Float32, {64, 1024});
  auto* values = reinterpret_cast<float*>(tensor.mutable_data());
  for (int i = 0; i < 64 * 1024; ++i) values[i] = static_cast<float>(i);
  capnp::MallocMessageBuilder builder;
  auto list = builder.initRoot<capnp::List<wire::Tensor>>(1);
  to_wire_by_reference(tensor, list[0]);
  ASSERT_EQ(builder.getSegmentsForOutput().size(), 2u);
  auto read = send_and_read(builder.getSegmentsForOutput());
  auto& message = KJ_ASSERT_NONNULL(read);
  EXPECT_EQ(buffers->size(), 1u);
  auto received = read_tensor_list(message.reader->getRoot<capnp::List<wire::Tensor>>(), *buffers);
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].as<float>()[12345], 12345.0f);
  // A view of the buffer (not a copy), which outlives the message.
  EXPECT_NE(received[0].owner, tensor.owner);
  std::weak_ptr<const void> watch = received[0].owner;
  message.reader = nullptr;
  EXPECT_EQ(buffers->size(), 0u);
  EXPECT_FALSE(watch.expired());
  EXPECT_EQ(received[0].as<float>()[64 * 1024 - 1], 65535.0f);
  received.clear();
  EXPECT_TRUE(watch.expired());
}

TEST_F(SharedMessages, EndOfStreamBetweenMessagesIsNoMessage) {
  pipe.ends[0]->shutdownWrite();
  EXPECT_TRUE(reader.tryReadMessage(nullptr, {}, nullptr).wait(wait) == nullptr);
}

TEST_F(SharedMessages, MalformedOrOversizedFramesAreRefused) {
  EXPECT_NE(error_reading({0, 4, 1, 2}).find("premature EOF inside a message"),
            std::string::npos);  // 4 words promised, 1 sent
  EXPECT_NE(error_reading({600 - 1, 0}).find("message has too many segments"), std::string::npos);
}

TEST_F(SharedMessages, AMessageOverTheTraversalLimitIsRefusedBeforeItIsRead) {
  capnp::ReaderOptions options;
  options.traversalLimitInWords = 1000;
  EXPECT_NE(error_reading({0, 1001}, options).find("message is too large"), std::string::npos);
  EXPECT_EQ(buffers->size(), 0u);
}

}  // namespace
}  // namespace hm::rpc
