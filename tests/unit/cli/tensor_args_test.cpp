#include "hm/cli/tensor_args.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "hm/base/error.h"

namespace hm::cli {
namespace {

HostTensor floats(std::vector<int64_t> shape, float value) {
  auto tensor = HostTensor::zeros(DType::Float32, std::move(shape));
  auto* data = reinterpret_cast<float*>(tensor.mutable_data());
  for (size_t i = 0; i < tensor.bytes.size() / sizeof(float); ++i) data[i] = value;
  return tensor;
}

std::string npy(const std::vector<HostTensor>& tensors) {
  return encode_tensors(tensors, TensorFormat::Npy);
}

float first(const HostTensor& tensor) {
  return reinterpret_cast<const float*>(tensor.bytes.data())[0];
}

class TensorArgsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("hm_tensor_args_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    args_.stdin_terminal = false;
    args_.read_stdin = [this] { return stdin_; };
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string file(const std::string& name, const std::string& bytes) {
    auto path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }

  std::filesystem::path dir_;
  std::string stdin_;
  TensorArgs args_;
};

TEST_F(TensorArgsTest, OneArgReadsAFileOrStdin) {
  auto path = file("x.npy", npy({floats({2, 3}, 1)}));
  stdin_ = npy({floats({4, 3}, 2), floats({4, 3}, 3)});
  auto from_file = read_tensor_arg(args_, path, "hint");
  ASSERT_EQ(from_file.size(), 1u);
  EXPECT_EQ(from_file[0].shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(read_tensor_arg(args_, "", "hint").size(), 2u);
  EXPECT_EQ(read_tensor_arg(args_, "-", "hint").size(), 2u);
  EXPECT_EQ(read_tensor_arg(args_, file("empty.npy", ""), "hint").size(), 0u);
}

TEST_F(TensorArgsTest, ATerminalOnStdinIsAUsageErrorWithTheHint) {
  args_.stdin_terminal = true;
  try {
    read_tensor_arg(args_, "-", "no input: give -i FILE or pipe a tensor");
    FAIL() << "no error";
  } catch (const UsageError& e) {
    EXPECT_STREQ(e.what(), "no input: give -i FILE or pipe a tensor");
  }
  EXPECT_THROW(read_tensor_args(args_, {}, "hint"), UsageError);
  stdin_ = npy({floats({1, 1}, 5)});
  // Named explicitly, '-' is read even from a terminal.
  EXPECT_EQ(read_tensor_args(args_, {"-"}, "hint").size(), 1u);
}

TEST_F(TensorArgsTest, SeveralArgsConcatenateInOrderAndNoneMayBeEmpty) {
  auto a = file("a.npy", npy({floats({1, 2}, 1), floats({1, 2}, 2)}));
  auto b = file("b.npy", npy({floats({1, 2}, 3)}));
  auto all = read_tensor_args(args_, {a, b}, "hint");
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(first(all[0]), 1);
  EXPECT_EQ(first(all[2]), 3);
  auto empty = file("empty.npy", "");
  try {
    read_tensor_args(args_, {a, empty}, "hint");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), empty + ": no tensors in it");
  }
  try {
    read_tensor_args(args_, {}, "hint");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "stdin: no tensors in it");
  }
  EXPECT_THROW(read_tensor_args(args_, {(dir_ / "missing.npy").string()}, "hint"), Error);
}

TEST_F(TensorArgsTest, TextIsReadAsTheGivenDtype) {
  args_.format = TensorFormat::Text;
  args_.text_dtype = DType::Int64;
  stdin_ = "1 2\n3 4\n";
  auto tensors = read_tensor_arg(args_, "", "hint");
  ASSERT_EQ(tensors.size(), 1u);
  EXPECT_EQ(tensors[0].dtype, DType::Int64);
  EXPECT_EQ(tensors[0].shape, (std::vector<int64_t>{2, 2}));
}

TEST_F(TensorArgsTest, ResultsGoToStdoutOrToTheFile) {
  std::vector<HostTensor> result{floats({2, 2}, 7)};
  auto path = (dir_ / "y.npy").string();
  write_tensor_result(args_, path, result);
  auto back = read_tensor_file(args_, path);
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(first(back[0]), 7);

  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  args_.stdout_fd = fds[1];
  write_tensor_result(args_, "-", result);
  ::close(fds[1]);
  std::string bytes;
  char buffer[4096];
  for (ssize_t n; (n = ::read(fds[0], buffer, sizeof(buffer))) > 0;) bytes.append(buffer, n);
  ::close(fds[0]);
  EXPECT_EQ(bytes, npy(result));
}

TEST(OneFloatTensor, AcceptsOneFloatTensorOfTwoDimsOrMore) {
  std::vector<HostTensor> one{floats({4, 3}, 1)};
  EXPECT_EQ(&one_float_tensor(one, "input"), &one[0]);
  std::vector<HostTensor> cube{floats({4, 2, 3}, 1)};
  EXPECT_NO_THROW(one_float_tensor(cube, "input"));
  auto error = [](const std::vector<HostTensor>& tensors) -> std::string {
    try {
      one_float_tensor(tensors, "-g");
    } catch (const Error& e) {
      return e.what();
    }
    return "no error";
  };
  EXPECT_EQ(error({}), "-g: expected one tensor, got 0");
  EXPECT_EQ(error({floats({1, 1}, 0), floats({1, 1}, 0)}), "-g: expected one tensor, got 2");
  EXPECT_EQ(error({floats({4}, 0)}).rfind("-g: expected a float tensor [batch, ..., features]", 0),
            0u);
  EXPECT_NE(error({HostTensor::zeros(DType::Int64, {4, 3})}).find("int64"), std::string::npos);
}

}  // namespace
}  // namespace hm::cli
