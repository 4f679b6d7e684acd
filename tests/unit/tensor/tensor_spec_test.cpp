#include "hm/tensor/tensor_spec.h"

#include <gtest/gtest.h>

#include "hm/base/error.h"
#include "tensor_test_util.h"

namespace hm {
namespace {

using test::error_of;

TEST(TensorSpec, Describe) {
  EXPECT_EQ(describe(TensorSpec{DType::Float32, {-1, 1024}}), "float32[*, 1024]");
  EXPECT_EQ(describe(TensorSpec{DType::Int64, {}}), "int64[]");
}

TEST(TensorSpec, CheckTensorsReturnsBatch) {
  std::vector<TensorSpec> specs = {{DType::Float32, {-1, 4}}, {DType::Int64, {-1}}};
  std::vector<HostTensor> tensors = {HostTensor::zeros(DType::Float32, {3, 4}),
                                     HostTensor::zeros(DType::Int64, {3})};
  EXPECT_EQ(check_tensors(specs, tensors, "forward inputs"), 3);
  EXPECT_EQ(check_tensors({}, {}, "forward inputs"), 0);
}

TEST(TensorSpec, CheckTensorsMessages) {
  std::vector<TensorSpec> one = {{DType::Float32, {-1, 1024}}};
  std::vector<HostTensor> two = {HostTensor::zeros(DType::Float32, {4, 1024}),
                                 HostTensor::zeros(DType::Float32, {4, 1024})};
  EXPECT_EQ(error_of([&] { check_tensors(one, two, "forward inputs"); }),
            "forward inputs: expected 1 tensor, got 2");
  EXPECT_EQ(error_of([&] { check_tensors(std::vector<TensorSpec>(2, one[0]), {}, "outputs"); }),
            "outputs: expected 2 tensors, got 0");

  std::vector<HostTensor> narrow = {HostTensor::zeros(DType::Float32, {4, 512})};
  EXPECT_EQ(error_of([&] { check_tensors(one, narrow, "forward inputs"); }),
            "forward inputs[0]: expected float32[*, 1024], got float32[4, 512]");
  std::vector<HostTensor> wrong_dtype = {HostTensor::zeros(DType::Float64, {4, 1024})};
  EXPECT_EQ(error_of([&] { check_tensors(one, wrong_dtype, "forward inputs"); }),
            "forward inputs[0]: expected float32[*, 1024], got float64[4, 1024]");
  std::vector<HostTensor> wrong_rank = {HostTensor::zeros(DType::Float32, {4, 1024, 1})};
  EXPECT_THROW(check_tensors(one, wrong_rank, "forward inputs"), Error);

  std::vector<TensorSpec> specs = {{DType::Float32, {-1, 2}}, {DType::Float32, {-1, 2}}};
  std::vector<HostTensor> uneven = {HostTensor::zeros(DType::Float32, {4, 2}),
                                    HostTensor::zeros(DType::Float32, {3, 2})};
  EXPECT_EQ(error_of([&] { check_tensors(specs, uneven, "forward inputs"); }),
            "forward inputs: batch sizes differ: 4 (inputs[0]) vs 3 (inputs[1])");
}

}  // namespace
}  // namespace hm
