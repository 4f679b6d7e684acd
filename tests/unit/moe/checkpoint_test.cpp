// Checkpoint files of one expert: names, framing, exact save/restore of
// weights and optimizer state, and what corruption and mismatches do.
#include "hm/moe/checkpoint.h"

#include <gtest/gtest.h>
#include <torch/optim/adam.h>
#include <torch/optim/optimizer.h>
#include <torch/types.h>
#include <torch/utils.h>

#include <fstream>

#include "hm/moe/expert_backend.h"
#include "hm/moe/expert_layers.h"
#include "torch_test_util.h"

namespace hm::moe {
namespace {

constexpr int64_t kHidden = 8;

std::unique_ptr<ExpertBackend> make_backend(const std::string& uid, uint64_t seed,
                                            const std::string& optimizer = "adam",
                                            int64_t hidden = kHidden,
                                            const std::string& cls = "ffn") {
  const ExpertArch arch{cls, hidden, {}, {}};
  BackendOptions options{uid,
                         cls,
                         input_specs(arch),
                         *known_output_specs(arch),
                         OptimizerConfig{optimizer, {}, {}},
                         torch::kCPU,
                         64};
  return std::make_unique<ExpertBackend>(make_expert(arch, uid, seed), std::move(options));
}

// A few training steps with fixed data.
void train(ExpertBackend& backend, int steps, int64_t seed = 3) {
  torch::manual_seed(seed);
  for (int i = 0; i < steps; ++i) {
    backend.backward({torch::randn({4, kHidden})}, {torch::randn({4, kHidden})});
  }
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string save(ExpertBackend& backend, const test::TempDir& dir, int64_t hidden = kHidden) {
  const auto path = dir.file(checkpoint_file_name(backend.options().uid));
  write_file_atomically(path, serialize_checkpoint(backend, hidden));
  return path;
}

// Adam's state for parameter `p` (keyed as torch's optimizers key it).
const torch::optim::AdamParamState& adam_state(torch::optim::Optimizer& optimizer,
                                               const torch::Tensor& p) {
  return static_cast<const torch::optim::AdamParamState&>(
      *optimizer.state().at(c10::guts::to_string(p.unsafeGetTensorImpl())));
}

std::vector<torch::Tensor> clones(const std::vector<torch::Tensor>& tensors) {
  std::vector<torch::Tensor> out;
  for (const auto& t : tensors) out.push_back(t.detach().clone());
  return out;
}

template <typename Fn>
std::string error_of(Fn fn) {
  try {
    fn();
  } catch (const Error& error) {
    return error.what();
  }
  return "";
}

template <typename Fn>
std::string corrupt_error_of(Fn fn) {
  try {
    fn();
  } catch (const CorruptCheckpoint& error) {
    return error.what();
  } catch (const Error& error) {
    return std::string("not a CorruptCheckpoint: ") + error.what();
  }
  return "";
}

TEST(CheckpointFileName, EscapesAndRoundTrips) {
  EXPECT_EQ(checkpoint_file_name("ffn.0.1"), "ffn.0.1.pt");
  EXPECT_EQ(checkpoint_file_name("a/b.3"), "a%2Fb.3.pt");
  EXPECT_EQ(checkpoint_file_name("x y%.10"), "x%20y%25.10.pt");
  for (const std::string uid : {"ffn.0.1", "a/b.3", "x y%.10", "\xf0\x9f\xa4\x97.321", "e_-.0"}) {
    EXPECT_EQ(uid_of_checkpoint_file(checkpoint_file_name(uid)), uid);
  }
  for (const char* other : {"ffn.0.1.pt.tmp", "ffn.0.1.pt.corrupt", ".pt", "ffn.pt", "a%2fb.3.pt",
                            "a%2Fb.3", "%41.1.pt", "a%2.1.pt", "a%.pt", "a b.1.pt", "ffn.01.pt"}) {
    EXPECT_EQ(uid_of_checkpoint_file(other), std::nullopt) << other;
  }
}

TEST(Checksum64, ChangesWithAnyByte) {
  std::string data(1000, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7);
  auto sum = [](const std::string& s) { return checksum64(std::as_bytes(std::span(s))); };
  const auto base = sum(data);
  for (size_t i : {0, 7, 8, 31, 32, 500, 991, 992, 999}) {
    auto changed = data;
    changed[i] ^= 1;
    EXPECT_NE(sum(changed), base) << i;
  }
  EXPECT_NE(sum(data.substr(0, 999)), base);
  EXPECT_NE(sum(data + '\0'), base);
}

// Save, restore into an expert with other weights: every parameter and every
// Adam state tensor equal, the same step count, and the next training step
// gives the same gradients and the same new weights as on the original.
TEST(Checkpoint, RestoresWeightsAndAdamStateExactly) {
  test::TempDir dir;
  auto original = make_backend("ffn.1.2", 1);
  train(*original, 3);
  const auto path = save(*original, dir);
  EXPECT_EQ(path, dir.file("ffn.1.2.pt"));

  auto restored = make_backend("ffn.1.2", 2);  // other initial weights
  ASSERT_FALSE(
      torch::equal(restored->module().parameters()[0], original->module().parameters()[0]));
  const auto header = restore_checkpoint(*restored, kHidden, path);
  EXPECT_EQ(header.uid, "ffn.1.2");
  EXPECT_EQ(header.expert_cls, "ffn");
  EXPECT_EQ(header.optimizer, "adam");
  EXPECT_EQ(header.hidden_dim, kHidden);
  EXPECT_EQ(header.steps, 3u);
  EXPECT_EQ(header.examples_processed, 12u);
  EXPECT_EQ(restored->steps(), 3u);
  EXPECT_EQ(restored->examples_processed(), 12u);

  const auto params_a = original->module().named_parameters();
  const auto params_b = restored->module().named_parameters();
  ASSERT_EQ(params_a.size(), params_b.size());
  for (size_t i = 0; i < params_a.size(); ++i) {
    SCOPED_TRACE(params_a[i].first);
    EXPECT_TRUE(torch::equal(params_a[i].second, params_b[i].second));
    const auto& state_a = adam_state(*original->optimizer(), params_a[i].second);
    const auto& state_b = adam_state(*restored->optimizer(), params_b[i].second);
    EXPECT_EQ(state_a.step(), 3);
    EXPECT_EQ(state_b.step(), state_a.step());
    EXPECT_TRUE(torch::equal(state_a.exp_avg(), state_b.exp_avg()));
    EXPECT_TRUE(torch::equal(state_a.exp_avg_sq(), state_b.exp_avg_sq()));
  }
  const auto& options = static_cast<const torch::optim::AdamOptions&>(
      restored->optimizer()->param_groups()[0].options());
  EXPECT_EQ(options.lr(), 1e-3);

  // Training goes on as if nothing happened.
  torch::manual_seed(9);
  const auto x = torch::randn({5, kHidden});
  const auto gy = torch::randn({5, kHidden});
  const auto grad_a = original->backward({x}, {gy});
  const auto grad_b = restored->backward({x}, {gy});
  EXPECT_TRUE(torch::equal(grad_a[0], grad_b[0]));
  for (size_t i = 0; i < params_a.size(); ++i) {
    EXPECT_TRUE(torch::equal(params_a[i].second, params_b[i].second)) << params_a[i].first;
  }
  EXPECT_EQ(restored->steps(), 4u);
}

// What the checkpoint thread serializes: a copy taken at once, unaffected by
// the training steps that follow it.
TEST(Checkpoint, SnapshotIsACopyTakenAtOnce) {
  test::TempDir dir;
  auto original = make_backend("ffn.4.4", 1);
  train(*original, 2);
  auto& optimizer = *original->optimizer();
  std::vector<torch::Tensor> params, exp_avg, exp_avg_sq;
  for (const auto& p : original->module().parameters()) {
    params.push_back(p.detach().clone());
    exp_avg.push_back(adam_state(optimizer, p).exp_avg().clone());
    exp_avg_sq.push_back(adam_state(optimizer, p).exp_avg_sq().clone());
  }
  const auto snapshot = take_snapshot(*original, kHidden);
  train(*original, 2, 4);  // moves everything the snapshot holds
  const auto path = dir.file("ffn.4.4.pt");
  write_file_atomically(path, serialize_checkpoint(*snapshot));

  auto restored = make_backend("ffn.4.4", 2);
  restore_checkpoint(*restored, kHidden, path);
  EXPECT_EQ(restored->steps(), 2u);
  EXPECT_EQ(restored->examples_processed(), 8u);
  const auto restored_params = restored->module().parameters();
  for (size_t i = 0; i < params.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_FALSE(torch::equal(original->module().parameters()[i], params[i]));
    EXPECT_TRUE(torch::equal(restored_params[i], params[i]));
    const auto& state = adam_state(*restored->optimizer(), restored_params[i]);
    EXPECT_EQ(state.step(), 2);
    EXPECT_TRUE(torch::equal(state.exp_avg(), exp_avg[i]));
    EXPECT_TRUE(torch::equal(state.exp_avg_sq(), exp_avg_sq[i]));
  }
}

TEST(Checkpoint, RestoresSgdAndOptimizerNone) {
  test::TempDir dir;
  auto sgd = make_backend("s.0", 1, "sgd");
  train(*sgd, 2);
  auto sgd_restored = make_backend("s.0", 2, "sgd");
  restore_checkpoint(*sgd_restored, kHidden, save(*sgd, dir));
  EXPECT_TRUE(torch::equal(sgd->module().parameters()[0], sgd_restored->module().parameters()[0]));
  EXPECT_EQ(sgd_restored->steps(), 2u);
  // Saved with adam, served with none: weights only.
  auto adam = make_backend("n.0", 1);
  train(*adam, 1);
  auto frozen = make_backend("n.0", 2, "none");
  restore_checkpoint(*frozen, kHidden, save(*adam, dir));
  EXPECT_TRUE(torch::equal(adam->module().parameters()[1], frozen->module().parameters()[1]));
  EXPECT_EQ(frozen->optimizer(), nullptr);
}

TEST(Checkpoint, RefusesAnotherKindHiddenDimOrShape) {
  test::TempDir dir;
  auto small = make_backend("ffn.0.0", 1);
  const auto path = save(*small, dir);
  auto wide = make_backend("ffn.0.0", 1, "adam", 16);
  const auto before = clones(wide->module().parameters());
  EXPECT_EQ(error_of([&] { restore_checkpoint(*wide, 16, path); }),
            path + ": saved with hidden dim 8, but this server has 16");
  auto nop = make_backend("ffn.0.0", 1, "adam", kHidden, "det_dropout");
  EXPECT_EQ(error_of([&] { restore_checkpoint(*nop, kHidden, path); }),
            path + ": a ffn expert, but this server hosts det_dropout experts");
  // The header agrees but the tensors do not.
  write_file_atomically(path, serialize_checkpoint(*small, 16));
  EXPECT_EQ(error_of([&] { restore_checkpoint(*wide, 16, path); }),
            path +
                ": parameter ffn.weight is float32[32, 8] in the checkpoint, "
                "float32[64, 16] here");
  const auto after = wide->module().parameters();
  for (size_t i = 0; i < before.size(); ++i) EXPECT_TRUE(torch::equal(before[i], after[i]));
}

TEST(Checkpoint, DetectsTruncationCorruptionAndStrangers) {
  test::TempDir dir;
  auto backend = make_backend("ffn.0.1", 1);
  train(*backend, 1);
  const auto path = save(*backend, dir);
  const auto good = read_bytes(path);
  auto target = make_backend("ffn.0.1", 2);
  const auto before = clones(target->module().parameters());

  write_bytes(path, good.substr(0, good.size() - 100));
  EXPECT_EQ(corrupt_error_of([&] { restore_checkpoint(*target, kHidden, path); }),
            fmt::format("{}: truncated: header says {} bytes of data, file has {}", path,
                        good.size() - 24, good.size() - 124));
  write_bytes(path, good + "x");
  EXPECT_EQ(corrupt_error_of([&] { read_checkpoint_header(path); }),
            fmt::format("{}: trailing data: header says {} bytes of data, file has {}", path,
                        good.size() - 24, good.size() - 23));
  auto flipped = good;
  flipped[good.size() / 2] ^= 0x10;
  write_bytes(path, flipped);
  EXPECT_NE(corrupt_error_of([&] {
              restore_checkpoint(*target, kHidden, path);
            }).find(path + ": checksum mismatch (header "),
            std::string::npos);
  write_bytes(path, "PK\x03\x04 not ours");
  EXPECT_EQ(corrupt_error_of([&] { restore_checkpoint(*target, kHidden, path); }),
            path + ": not an hm checkpoint (13 bytes, no HMCKPT02 header)");
  // Format 1 was a TorchScript archive, which LibTorch compiles: refused.
  write_bytes(path, "HMCKPT01" + good.substr(8));
  EXPECT_EQ(corrupt_error_of([&] { restore_checkpoint(*target, kHidden, path); }),
            path + ": checkpoint format 1 (HMCKPT01), written by an earlier hm: no longer read, "
                   "since LibTorch compiles the code inside it (and crashes on crafted code)");
  write_bytes(path, good);
  auto other = make_backend("ffn.0.2", 2);
  EXPECT_EQ(corrupt_error_of([&] { restore_checkpoint(*other, kHidden, path); }),
            path + ": holds expert 'ffn.0.1', not 'ffn.0.2' (renamed?)");
  // None of that touched the target.
  const auto after = target->module().parameters();
  for (size_t i = 0; i < before.size(); ++i) EXPECT_TRUE(torch::equal(before[i], after[i]));
  EXPECT_EQ(target->steps(), 0u);
  EXPECT_EQ(corrupt_error_of([&] { read_checkpoint_header(dir.file("missing.pt")); }),
            dir.file("missing.pt") + ": cannot open: No such file or directory");
}

// A checkpoint file around `payload` (magic, size, checksum), as a save
// writes one: what a hostile file that passes the framing looks like.
std::string framed(const std::string& payload) {
  std::string file = "HMCKPT02";
  const uint64_t header[2] = {payload.size(),
                              checksum64(std::as_bytes(std::span(payload.data(), payload.size())))};
  for (uint64_t value : header) {
    for (int i = 0; i < 8; ++i) file.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
  }
  return file + payload;
}

// LibTorch 1.13 would zero-fill the 4 GiB this string declares before
// finding it missing; the archive check refuses it first.
TEST(Checkpoint, AStringLongerThanItsArchiveIsCorrupt) {
  test::TempDir dir;
  auto backend = make_backend("ffn.0.1", 1);
  auto payload = serialize_checkpoint(*backend, kHidden).substr(24);
  const std::string length_and_key("\x0d\x00\x00\x00hm checkpoint", 17);
  const size_t at = payload.find(length_and_key);
  ASSERT_NE(at, std::string::npos);
  payload.replace(at, 4, "\xf0\xff\xff\xff");
  const auto path = dir.file("ffn.0.1.pt");
  write_bytes(path, framed(payload));
  const auto error = corrupt_error_of([&] { read_checkpoint_header(path); });
  EXPECT_NE(error.find(path + ": unreadable archive: pickle archive/data.pkl, offset "),
            std::string::npos)
      << error;
  EXPECT_NE(error.find(": string of 4294967280 bytes, "),
            std::string::npos)
      << error;
}

// LibTorch gives a loaded tensor the sizes and strides its archive says,
// whatever its storage holds: such a parameter is corrupt, not read.
TEST(Checkpoint, ATensorReachingPastItsStorageIsCorrupt) {
  test::TempDir dir;
  auto backend = make_backend("ffn.0.1", 1);
  auto weight = backend->module().named_parameters()[0];
  auto* impl = weight.second.unsafeGetTensorImpl();
  impl->set_sizes_and_strides(weight.second.sizes(), {weight.second.stride(0) * 2, 1});
  const auto path = save(*backend, dir);
  auto target = make_backend("ffn.0.1", 2);
  const auto error = corrupt_error_of([&] { restore_checkpoint(*target, kHidden, path); });
  EXPECT_NE(error.find(fmt::format("{}: parameter {} float32", path, weight.first)),
            std::string::npos)
      << error;
  EXPECT_NE(error.find("reaches past its"), std::string::npos) << error;
}

// LibTorch's optimizer load takes state of any shape; a step would then fail
// on every batch.
TEST(Checkpoint, OptimizerStateOfAnotherShapeIsCorrupt) {
  test::TempDir dir;
  auto backend = make_backend("ffn.0.1", 1);
  train(*backend, 1);
  const auto weight = backend->module().parameters()[0];
  auto& state = const_cast<torch::optim::AdamParamState&>(adam_state(*backend->optimizer(), weight));
  state.exp_avg(torch::zeros({3}));
  const auto path = save(*backend, dir);
  auto target = make_backend("ffn.0.1", 2);
  const auto before = clones(target->module().parameters());
  EXPECT_NE(corrupt_error_of([&] { restore_checkpoint(*target, kHidden, path); })
                .find(": optimizer state float32[3] for a parameter float32["),
            std::string::npos);
  // Checked before anything changed: the weights are the target's own.
  const auto after = target->module().parameters();
  for (size_t i = 0; i < before.size(); ++i) EXPECT_TRUE(torch::equal(before[i], after[i]));
  EXPECT_TRUE(target->optimizer()->state().empty());
}

// A save cut short leaves only a temp file: the good checkpoint stays, and
// the next listing removes the leftover.
TEST(Checkpoint, AnInterruptedSaveNeverReplacesAGoodOne) {
  test::TempDir dir;
  auto backend = make_backend("ffn.3.3", 1);
  train(*backend, 2);
  const auto path = save(*backend, dir);
  const auto good = read_bytes(path);
  train(*backend, 1);
  const auto newer = serialize_checkpoint(*backend, kHidden);
  write_bytes(path + ".tmp", newer.substr(0, newer.size() / 2));  // the crash
  write_bytes(dir.file("notes.txt"), "unrelated");
  EXPECT_EQ(read_bytes(path), good);

  const auto found = list_checkpoints(dir.path().string());
  EXPECT_EQ(found, (std::map<std::string, std::string>{{"ffn.3.3", path}}));
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  EXPECT_TRUE(std::filesystem::exists(dir.file("notes.txt")));
  EXPECT_EQ(read_checkpoint_header(path).steps, 2u);

  // A save that fails midway leaves the old file as it was.
  EXPECT_EQ(
      error_of([&] { write_file_atomically(dir.file("no/such/dir.pt"), newer); }),
      "checkpoint " + dir.file("no/such/dir.pt") + ": open failed: No such file or directory");
  write_file_atomically(path, newer);
  EXPECT_EQ(read_checkpoint_header(path).steps, 3u);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
}

}  // namespace
}  // namespace hm::moe
