#include "hm/tensor/tensor_io.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <csignal>
#include <thread>

#include "hm/base/error.h"
#include "hm/tensor/npy.h"
#include "tensor_test_util.h"

namespace hm {
namespace {

using test::error_of;

TEST(TensorIo, FormatNames) {
  for (auto format : {TensorFormat::Npy, TensorFormat::Text, TensorFormat::Capnp}) {
    EXPECT_EQ(format_from_name(format_name(format)), format);
  }
  EXPECT_THROW(format_from_name("json"), UsageError);
  EXPECT_EQ(error_of([] { format_from_name("x"); }),
            "--format: unknown format 'x' (use npy, text, capnp)");
}

TEST(TensorIo, EncodeThenReadEveryFormat) {
  auto tensors = test::sample_tensors();
  for (auto format : {TensorFormat::Npy, TensorFormat::Capnp}) {
    auto bytes = std::make_shared<const std::string>(encode_tensors(tensors, format));
    for (const auto& decoded : {read_tensors(*bytes, format), read_tensors(bytes, format)}) {
      ASSERT_EQ(decoded.size(), tensors.size()) << format_name(format);
      for (size_t i = 0; i < tensors.size(); ++i) {
        EXPECT_TRUE(test::same_tensor(decoded[i], tensors[i])) << format_name(format);
      }
    }
    // The shared overload reads in place.
    EXPECT_EQ(read_tensors(bytes, format)[0].owner, bytes) << format_name(format);
  }
  std::vector<HostTensor> ints = {test::sample_tensor(DType::Int16, {2, 3}),
                                  test::sample_tensor(DType::Int16, {4, 1})};
  std::string text = encode_tensors(ints, TensorFormat::Text);
  EXPECT_EQ(text.find("\n\n"), text.find('\n', text.find('\n') + 1));  // one empty line between
  auto decoded = read_tensors(text, TensorFormat::Text, DType::Int16);
  ASSERT_EQ(decoded.size(), 2u);
  EXPECT_TRUE(test::same_tensor(decoded[0], ints[0]));
  EXPECT_TRUE(test::same_tensor(decoded[1], ints[1]));
}

TEST(TensorIo, FilesRoundTrip) {
  test::TempDir dir;
  auto tensors = test::sample_tensors();
  std::string path = dir.file("out.npy");
  write_tensors_to_file(path, tensors, TensorFormat::Npy);
  std::string bytes = read_file(path);
  EXPECT_EQ(bytes, encode_tensors(tensors, TensorFormat::Npy));
  auto decoded = read_tensors(bytes, TensorFormat::Npy);
  ASSERT_EQ(decoded.size(), tensors.size());
  EXPECT_TRUE(test::same_tensor(decoded.back(), tensors.back()));
}

TEST(TensorIo, ReadErrorsNameThePath) {
  test::TempDir dir;
  EXPECT_EQ(error_of([&] { read_file(dir.file("missing.npy")); }),
            "cannot open '" + dir.file("missing.npy") + "': No such file or directory");
  EXPECT_EQ(error_of([&] { read_file(dir.path()); }),
            "cannot read '" + dir.path() + "': Is a directory");
  EXPECT_EQ(error_of([&] { write_tensors_to_file(dir.file("no/such/dir.npy"), {}, TensorFormat::Npy); }),
            "cannot create '" + dir.file("no/such/dir.npy") + "': No such file or directory");
}

TEST(TensorIo, ReadsStdin) {
  test::TempDir dir;
  HostTensor tensor = test::sample_tensor(DType::Float32, {3, 2});
  test::write_file(dir.file("in.npy"), test::bytes_of(encode_npy(tensor)));
  int saved = ::dup(STDIN_FILENO);
  int file = ::open(dir.file("in.npy").c_str(), O_RDONLY);
  ASSERT_GE(file, 0);
  ::dup2(file, STDIN_FILENO);
  ::close(file);
  std::string bytes = read_all_stdin();
  ::dup2(saved, STDIN_FILENO);
  ::close(saved);
  auto decoded = read_tensors(bytes, TensorFormat::Npy);
  ASSERT_EQ(decoded.size(), 1u);
  EXPECT_TRUE(test::same_tensor(decoded[0], tensor));
}

TEST(TensorIo, WriteErrorsNameTheOutput) {
  auto tensors = test::sample_tensors();
  int full = ::open("/dev/full", O_WRONLY);
  ASSERT_GE(full, 0);
  EXPECT_EQ(error_of([&] { write_tensors(full, tensors, TensorFormat::Npy, "'/dev/full'"); }),
            "cannot write '/dev/full': No space left on device");
  EXPECT_EQ(error_of([&] { write_tensors(full, tensors, TensorFormat::Text); }),
            "cannot write stdout: No space left on device");
  ::close(full);

  auto old_handler = std::signal(SIGPIPE, SIG_IGN);
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ::close(fds[0]);  // nobody reads
  EXPECT_EQ(error_of([&] { write_tensors(fds[1], tensors, TensorFormat::Capnp); }),
            "cannot write stdout: Broken pipe");
  ::close(fds[1]);
  std::signal(SIGPIPE, old_handler);
}

TEST(TensorIo, WritesToAPipeCompletely) {
  // More than a pipe buffer's worth, read on the other side as it is written.
  HostTensor big = test::sample_tensor(DType::Float64, {300, 100});
  std::vector<HostTensor> tensors = {big, big};
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  std::string received;
  std::thread reader([&] {
    char buffer[4096];
    ssize_t n;
    while ((n = ::read(fds[0], buffer, sizeof(buffer))) > 0) received.append(buffer, n);
  });
  write_tensors(fds[1], tensors, TensorFormat::Npy, "pipe");
  ::close(fds[1]);
  reader.join();
  ::close(fds[0]);
  auto decoded = read_tensors(received, TensorFormat::Npy);
  ASSERT_EQ(decoded.size(), 2u);
  EXPECT_TRUE(test::same_tensor(decoded[1], big));
}

}  // namespace
}  // namespace hm
