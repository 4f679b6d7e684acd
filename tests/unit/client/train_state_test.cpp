// hm-moe train's --save/--resume file (hm/client/train_state.h): a resumed
// model and optimizer equal the saved ones, and a damaged, foreign or
// crafted file is refused with one line, leaving the model as it was.
#include "hm/client/train_state.h"

#include <gtest/gtest.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/adam.h>
#include <torch/serialize/output-archive.h>
#include <torch/types.h>
#include <torch/utils.h>

#include <fstream>

#include "../moe/torch_test_util.h"
#include "hm/base/error.h"
#include "hm/moe/checkpoint.h"

namespace hm::client {
namespace {

// A model with parameters in a submodule and a buffer.
struct NetImpl : torch::nn::Module {
  explicit NetImpl(int64_t width) {
    fc = register_module("fc", torch::nn::Linear(4, width));
    scale = register_buffer("scale", torch::rand({width}));
  }
  torch::Tensor forward(const torch::Tensor& x) { return fc->forward(x) * scale; }
  torch::nn::Linear fc{nullptr};
  torch::Tensor scale;
};
TORCH_MODULE(Net);

// A model with an Adam that has taken `steps` steps.
struct Trained {
  explicit Trained(int64_t width = 3, int steps = 2, uint64_t seed = 1) : net(width) {
    torch::manual_seed(seed);
    net = Net(width);
    adam = std::make_unique<torch::optim::Adam>(net->parameters(), 0.01);
    for (int i = 0; i < steps; ++i) {
      adam->zero_grad();
      net->forward(torch::randn({5, 4})).pow(2).sum().backward();
      adam->step();
    }
  }
  Net net;
  std::unique_ptr<torch::optim::Adam> adam;
};

const torch::optim::AdamParamState& adam_state(const Trained& t, const torch::Tensor& p) {
  auto key = c10::guts::to_string(p.unsafeGetTensorImpl());
  return static_cast<const torch::optim::AdamParamState&>(*t.adam->state().at(key));
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

TEST(TrainState, ResumesParametersBuffersAdamAndStep) {
  test::TempDir dir;
  const auto path = dir.file("model.pt");
  Trained saved;
  save_train_state(path, snapshot_train_state(*saved.net, *saved.adam, 1234));
  Trained resumed(3, 1, /*seed=*/99);  // other weights, another Adam state
  EXPECT_EQ(restore_train_state(path, *resumed.net, *resumed.adam), 1234);
  auto a = saved.net->named_parameters(), b = resumed.net->named_parameters();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_TRUE(torch::equal(a[i].value(), b[i].value())) << a[i].key();
    const auto& sa = adam_state(saved, a[i].value());
    const auto& sb = adam_state(resumed, b[i].value());
    EXPECT_EQ(sa.step(), sb.step());
    EXPECT_TRUE(torch::equal(sa.exp_avg(), sb.exp_avg()));
    EXPECT_TRUE(torch::equal(sa.exp_avg_sq(), sb.exp_avg_sq()));
  }
  EXPECT_TRUE(torch::equal(saved.net->scale, resumed.net->scale));
  // One more step from both gives the same weights: the run goes on as if never stopped.
  for (auto* t : {&saved, &resumed}) {
    torch::manual_seed(5);
    t->adam->zero_grad();
    t->net->forward(torch::randn({5, 4})).pow(2).sum().backward();
    t->adam->step();
  }
  EXPECT_TRUE(torch::equal(saved.net->fc->weight, resumed.net->fc->weight));
}

TEST(TrainState, AnotherModelsFileNamesTheShapesAndLeavesTheModel) {
  test::TempDir dir;
  const auto path = dir.file("model.pt");
  Trained wide(5);
  save_train_state(path, snapshot_train_state(*wide.net, *wide.adam, 10));
  Trained narrow(3);
  const auto before = narrow.net->fc->weight.clone();
  EXPECT_EQ(error_of([&] { restore_train_state(path, *narrow.net, *narrow.adam); }),
            path + ": parameter fc.weight is float32[5, 4] in the checkpoint, float32[3, 4] "
                   "here (same --hidden-dim, --blocks and --grid as when it was saved?)");
  EXPECT_TRUE(torch::equal(before, narrow.net->fc->weight));
}

TEST(TrainState, DamagedOrForeignFilesAreRefusedWithOneLine) {
  test::TempDir dir;
  const auto path = dir.file("model.pt");
  Trained t;
  save_train_state(path, snapshot_train_state(*t.net, *t.adam, 7));
  const std::string good = read_bytes(path);
  const auto refused = [&](const std::string& bytes) {
    write_bytes(path, bytes);
    return error_of([&] { restore_train_state(path, *t.net, *t.adam); });
  };
  EXPECT_EQ(refused(good.substr(0, good.size() - 10)),
            fmt::format("{}: truncated: header says {} bytes of data, file has {}", path,
                        good.size() - 24, good.size() - 34));
  std::string flipped = good;
  flipped[flipped.size() / 2] ^= 0x20;
  EXPECT_NE(refused(flipped).find(": checksum mismatch (header "), std::string::npos);
  EXPECT_EQ(refused("{\"step\": 3}\n"),
            path + ": not an hm-moe train checkpoint (12 bytes, no HMTRAIN1 header)");
  EXPECT_NE(error_of([&] { restore_train_state(dir.file("none.pt"), *t.net, *t.adam); })
                .find("none.pt: cannot open: No such file or directory"),
            std::string::npos);
}

TEST(TrainState, ATorchScriptArchiveInAGoodFrameIsRefusedBeforeLibTorchReadsIt) {
  // What the old --save wrote (torch::serialize::OutputArchive: a TorchScript
  // module whose code LibTorch would compile), framed as a train file with
  // the right size and checksum.
  test::TempDir dir;
  const auto archive_path = dir.file("old.pt");
  Trained t;
  torch::serialize::OutputArchive archive;
  t.net->save(archive);
  archive.save_to(archive_path);
  const std::string payload = read_bytes(archive_path);
  std::string file = "HMTRAIN1" + std::string(16, '\0') + payload;
  const uint64_t size = payload.size();
  const uint64_t sum = moe::checksum64(std::as_bytes(std::span(payload.data(), payload.size())));
  for (int i = 0; i < 8; ++i) {
    file[8 + i] = static_cast<char>((size >> (8 * i)) & 0xff);
    file[16 + i] = static_cast<char>((sum >> (8 * i)) & 0xff);
  }
  const auto path = dir.file("model.pt");
  write_bytes(path, file);
  const auto before = t.net->fc->weight.clone();
  const auto error = error_of([&] { restore_train_state(path, *t.net, *t.adam); });
  EXPECT_EQ(error.rfind(path + ": unreadable archive: ", 0), 0u) << error;
  EXPECT_TRUE(torch::equal(before, t.net->fc->weight));
}

}  // namespace
}  // namespace hm::client
