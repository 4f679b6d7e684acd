#include "hm/client/gate_file.h"

#include <gtest/gtest.h>
#include <torch/nn/modules/linear.h>
#include <torch/types.h>
#include <torch/utils.h>
#include <unistd.h>

#include <filesystem>

#include "hm/base/error.h"
#include "hm/tensor/tensor_io.h"
#include "hm/torch/torch_bridge.h"

namespace hm::client {
namespace {

class GateFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("hm_gate_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path(const std::string& name) { return (dir_ / name).string(); }
  std::filesystem::path dir_;
};

TEST_F(GateFileTest, SavedGatesLoadBackIntoAnotherLayer) {
  torch::manual_seed(1);
  torch::nn::Linear saved(16, 8), loaded(16, 8);
  save_gate(saved, path("gate.npy"));
  // Two .npy records, as np.save twice writes them.
  auto records = read_tensors(read_file(path("gate.npy")), TensorFormat::Npy);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].shape, (std::vector<int64_t>{8, 16}));
  EXPECT_EQ(records[1].shape, (std::vector<int64_t>{8}));
  ASSERT_FALSE(torch::equal(saved->weight, loaded->weight));
  load_gate(loaded, path("gate.npy"));
  EXPECT_TRUE(torch::equal(saved->weight, loaded->weight));
  EXPECT_TRUE(torch::equal(saved->bias, loaded->bias));
  EXPECT_TRUE(loaded->weight.requires_grad());  // still a parameter
}

TEST_F(GateFileTest, AnotherShapeNamesTheFileAndTheShapesExpected) {
  torch::nn::Linear small(4, 2), gate(16, 8);
  save_gate(small, path("small.npy"));
  try {
    load_gate(gate, path("small.npy"));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "--gate " + path("small.npy") +
                  ": expected two .npy records, weight [8, 16] and bias [8]");
  }
  std::vector<HostTensor> one{from_torch(gate->weight.detach().contiguous())};
  write_tensors_to_file(path("one.npy"), one, TensorFormat::Npy);
  EXPECT_THROW(load_gate(gate, path("one.npy")), Error);
  EXPECT_THROW(load_gate(gate, path("missing.npy")), Error);
}

}  // namespace
}  // namespace hm::client
