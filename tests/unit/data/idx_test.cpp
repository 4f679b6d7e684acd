#include "hm/data/idx.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <bit>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <random>

#include "hm/base/error.h"

namespace hm::data {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<unsigned char>;

constexpr const char* kFashion = "/usr/share/datasets/fashion-mnist";

class TempDir {
 public:
  TempDir() {
    std::random_device random;
    path_ = fs::temp_directory_path() /
            ("hm_idx_test_" + std::to_string(random()) + std::to_string(random()));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

void put_u32(Bytes& out, uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back((value >> shift) & 0xff);
}

// An IDX file: header for `type` and `dims`, then `data` as given (already
// big-endian).
Bytes idx(unsigned type, std::vector<uint32_t> dims, const Bytes& data) {
  Bytes out{0, 0, static_cast<unsigned char>(type), static_cast<unsigned char>(dims.size())};
  for (auto dim : dims) put_u32(out, dim);
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

// The big-endian bytes of `values`.
template <typename T>
Bytes big_endian(std::vector<T> values) {
  Bytes out;
  for (T value : values) {
    unsigned char raw[sizeof(T)];
    std::memcpy(raw, &value, sizeof(T));
    if constexpr (std::endian::native == std::endian::little) std::reverse(raw, raw + sizeof(T));
    out.insert(out.end(), raw, raw + sizeof(T));
  }
  return out;
}

Bytes gzip(const Bytes& plain) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  Bytes out(deflateBound(&zs, plain.size()));
  zs.next_in = const_cast<unsigned char*>(plain.data());
  zs.avail_in = static_cast<uInt>(plain.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

std::string write(const TempDir& dir, const std::string& name, const Bytes& bytes) {
  const auto path = dir.file(name);
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
  return path;
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& error) {
    return error.what();
  }
  return "";
}

std::string read_error(const std::string& path, const TensorLimits& limits = {}) {
  return error_of([&] { read_idx(path, limits); });
}

template <typename T>
std::vector<T> values_of(const HostTensor& tensor) {
  auto span = tensor.as<T>();
  return {span.begin(), span.end()};
}

TEST(Idx, ReadsEveryTypePlainAndGzipped) {
  TempDir dir;
  const std::vector<int16_t> i16{-2, 300, 32767, -32768, 0, 1};
  const std::vector<int32_t> i32{-1, 1 << 30, 7, -123456, 0, 42};
  const std::vector<float> f32{1.5f, -0.25f, 3e38f, 0.f, -1e-30f, 2.f};
  const std::vector<double> f64{1e300, -2.5, 0.1, 0, 3, -7};
  const std::vector<int8_t> i8{-128, 127, 0, -1, 5, 6};
  const std::vector<uint8_t> u8{0, 255, 1, 2, 128, 9};
  for (bool gz : {false, true}) {
    SCOPED_TRACE(gz ? "gzipped" : "plain");
    auto file = [&](const std::string& name, const Bytes& bytes) {
      return gz ? write(dir, name + ".gz", gzip(bytes)) : write(dir, name, bytes);
    };
    const auto a = read_idx(file("u8", idx(0x08, {2, 3}, big_endian(u8))));
    EXPECT_EQ(a.dtype, DType::UInt8);
    EXPECT_EQ(a.shape, (std::vector<int64_t>{2, 3}));
    EXPECT_EQ(values_of<uint8_t>(a), u8);
    const auto b = read_idx(file("i8", idx(0x09, {6}, big_endian(i8))));
    EXPECT_EQ(b.dtype, DType::Int8);
    EXPECT_EQ(values_of<int8_t>(b), i8);
    const auto c = read_idx(file("i16", idx(0x0B, {3, 1, 2}, big_endian(i16))));
    EXPECT_EQ(c.dtype, DType::Int16);
    EXPECT_EQ(c.shape, (std::vector<int64_t>{3, 1, 2}));
    EXPECT_EQ(values_of<int16_t>(c), i16);
    const auto d = read_idx(file("i32", idx(0x0C, {6}, big_endian(i32))));
    EXPECT_EQ(d.dtype, DType::Int32);
    EXPECT_EQ(values_of<int32_t>(d), i32);
    const auto e = read_idx(file("f32", idx(0x0D, {2, 3}, big_endian(f32))));
    EXPECT_EQ(e.dtype, DType::Float32);
    EXPECT_EQ(values_of<float>(e), f32);
    const auto f = read_idx(file("f64", idx(0x0E, {6}, big_endian(f64))));
    EXPECT_EQ(f.dtype, DType::Float64);
    EXPECT_EQ(values_of<double>(f), f64);
    const auto empty = read_idx(file("empty", idx(0x08, {0, 28, 28}, {})));
    EXPECT_EQ(empty.shape, (std::vector<int64_t>{0, 28, 28}));
    EXPECT_EQ(empty.nbytes(), 0u);
  }
}

TEST(Idx, ReadsConcatenatedGzipMembers) {
  TempDir dir;
  const auto whole = idx(0x08, {4}, {1, 2, 3, 4});
  auto bytes = gzip(Bytes(whole.begin(), whole.begin() + 6));
  const auto rest = gzip(Bytes(whole.begin() + 6, whole.end()));
  bytes.insert(bytes.end(), rest.begin(), rest.end());
  EXPECT_EQ(values_of<uint8_t>(read_idx(write(dir, "two.gz", bytes))),
            (std::vector<uint8_t>{1, 2, 3, 4}));
}

TEST(Idx, NamesAMissingFile) {
  EXPECT_EQ(read_error("/nonexistent/train-images-idx3-ubyte.gz"),
            "/nonexistent/train-images-idx3-ubyte.gz: cannot open: No such file or directory");
}

TEST(Idx, RefusesAWrongMagicOrType) {
  TempDir dir;
  const auto text = write(dir, "train-images-idx3-ubyte", {0x12, 0x34, 0x08, 0x01, 0, 0, 0, 0});
  EXPECT_EQ(read_error(text), text + ": not an IDX file (magic 0x1234)");
  // A gzipped file whose content is not IDX (a gzip inside a gzip, say).
  const auto nested = write(dir, "nested.gz", gzip(gzip(idx(0x08, {1}, {7}))));
  EXPECT_EQ(read_error(nested), nested + ": not an IDX file (magic 0x1f8b)");
  const auto type = write(dir, "type", idx(0x0A, {1}, {7}));
  EXPECT_EQ(read_error(type), type +
                                  ": unknown IDX type code 0x0A (valid: 0x08 uint8, 0x09 int8, "
                                  "0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64)");
  const auto scalar = write(dir, "scalar", idx(0x08, {}, {7}));
  EXPECT_EQ(read_error(scalar), scalar + ": IDX header declares 0 dimensions");
  const auto empty = write(dir, "empty", {});
  EXPECT_EQ(read_error(empty), empty + ": truncated IDX header: 0 bytes, expected at least 4");
}

TEST(Idx, RefusesTruncatedFiles) {
  TempDir dir;
  auto good = idx(0x0C, {2, 3}, big_endian(std::vector<int32_t>{1, 2, 3, 4, 5, 6}));
  const auto cut_data = write(dir, "cut", Bytes(good.begin(), good.end() - 5));
  EXPECT_EQ(read_error(cut_data), cut_data +
                                      ": truncated: header says 24 bytes of data "
                                      "(int32[2, 3]), got 19");
  const auto cut_dims = write(dir, "dims", Bytes(good.begin(), good.begin() + 9));
  EXPECT_EQ(read_error(cut_dims),
            cut_dims + ": truncated IDX header: 2 dimensions need 8 bytes, got 5");
  // A complete gzip stream of too little data, and a gzip stream cut short.
  const auto short_gz = write(dir, "short.gz", gzip(Bytes(good.begin(), good.end() - 4)));
  EXPECT_EQ(read_error(short_gz), short_gz +
                                      ": truncated: header says 24 bytes of data "
                                      "(int32[2, 3]), got 20");
  Bytes noise(4000);
  std::mt19937 random(7);
  for (auto& byte : noise) byte = random() & 0xff;
  const auto noisy = gzip(idx(0x08, {4000}, noise));
  const auto cut_gz = write(dir, "cut.gz", Bytes(noisy.begin(), noisy.begin() + 2000));
  const auto cut_error = read_error(cut_gz);
  EXPECT_EQ(cut_error.rfind(
                cut_gz + ": truncated: header says 4000 bytes of data (uint8[4000]), got ", 0),
            0u)
      << cut_error;
  EXPECT_NE(cut_error.find("(the gzip stream ends early)"), std::string::npos) << cut_error;
  const auto zipped = gzip(good);
  // Only the 8-byte trailer (CRC and length) missing: the data is all there.
  const auto no_trailer = write(dir, "trailer.gz", Bytes(zipped.begin(), zipped.end() - 8));
  EXPECT_EQ(read_error(no_trailer),
            no_trailer + ": truncated gzip stream (the data is complete, its end is not)");
}

TEST(Idx, RefusesHugeDimsBeforeAllocating) {
  TempDir dir;
  // 4 G elements and 2^64-overflowing products: only the limits can stop them
  // (the file holds no data, so an attempt to read it would say "truncated").
  const auto big = write(dir, "big", idx(0x08, {0xffffffffu}, {}));
  EXPECT_EQ(read_error(big), big + ": shape [4294967295] has more than 2147483648 elements");
  const auto overflow =
      write(dir, "overflow", idx(0x0E, {0xffffffffu, 0xffffffffu, 0xffffffffu}, {}));
  EXPECT_EQ(read_error(overflow),
            overflow +
                ": shape [4294967295, 4294967295, 4294967295] has more than 2147483648 "
                "elements");
  TensorLimits small{1000, 1 << 20};
  const auto images = write(dir, "images", idx(0x08, {60000, 28, 28}, {}));
  EXPECT_EQ(read_error(images, small),
            images + ": shape [60000, 28, 28] has more than 1000 elements");
  TensorLimits few_bytes{1000, 100};
  const auto doubles = write(dir, "doubles", idx(0x0E, {20}, {}));
  EXPECT_EQ(read_error(doubles, few_bytes),
            doubles + ": 20 elements of 8 bytes exceed the limit of 100 bytes");
}

TEST(Idx, RefusesTrailingData) {
  TempDir dir;
  auto good = idx(0x08, {2, 2}, {1, 2, 3, 4});
  auto longer = good;
  longer.push_back(5);
  const auto plain = write(dir, "plain", longer);
  EXPECT_EQ(read_error(plain), plain + ": trailing data after the 4 bytes of uint8[2, 2]");
  const auto inner = write(dir, "inner.gz", gzip(longer));
  EXPECT_EQ(read_error(inner), inner + ": trailing data after the 4 bytes of uint8[2, 2]");
  auto outer_bytes = gzip(good);
  outer_bytes.insert(outer_bytes.end(), {'j', 'u', 'n', 'k'});
  const auto outer = write(dir, "outer.gz", outer_bytes);
  EXPECT_EQ(read_error(outer), outer + ": trailing data after the gzip stream");
}

TEST(Idx, RefusesCorruptGzip) {
  TempDir dir;
  Bytes data(4000);
  std::iota(data.begin(), data.end(), 0);
  auto zipped = gzip(idx(0x08, {4000}, data));
  auto bad_crc = zipped;
  bad_crc[bad_crc.size() - 6] ^= 0xff;  // inside the CRC-32 of the trailer
  const auto crc = write(dir, "crc.gz", bad_crc);
  EXPECT_EQ(read_error(crc), crc + ": corrupt gzip data (incorrect data check)");
  auto bad_method = zipped;
  bad_method[2] = 7;  // compression method must be 8 (deflate)
  const auto method = write(dir, "method.gz", bad_method);
  EXPECT_EQ(read_error(method), method + ": corrupt gzip data (unknown compression method)");
}

TEST(IdxSplit, ChecksShapesAndCounts) {
  TempDir dir;
  Bytes pixels(3 * 2 * 2, 200);
  write(dir, "train-images-idx3-ubyte.gz", gzip(idx(0x08, {3, 2, 2}, pixels)));
  write(dir, "train-labels-idx1-ubyte", idx(0x08, {3}, {4, 0, 11}));
  const auto split = load_idx_split(dir.path().string(), "train");
  EXPECT_EQ(split.images.shape, (std::vector<int64_t>{3, 2, 2}));
  EXPECT_EQ(values_of<uint8_t>(split.labels), (std::vector<uint8_t>{4, 0, 11}));
  EXPECT_EQ(split.num_classes, 12);

  const auto d = dir.path().string();
  EXPECT_EQ(error_of([&] { load_idx_split(d, "t10k"); }),
            "--data " + d +
                ": no t10k-images-idx3-ubyte(.gz) there (Debian: apt install "
                "dataset-fashion-mnist, files in /usr/share/datasets/fashion-mnist)");
  write(dir, "t10k-images-idx3-ubyte", idx(0x08, {2, 2, 2}, Bytes(8)));
  EXPECT_EQ(error_of([&] { load_idx_split(d, "t10k"); }),
            "--data " + d +
                ": no t10k-labels-idx1-ubyte(.gz) there (Debian: apt install "
                "dataset-fashion-mnist, files in /usr/share/datasets/fashion-mnist)");
  write(dir, "t10k-labels-idx1-ubyte.gz", gzip(idx(0x08, {3}, {1, 2, 3})));
  EXPECT_EQ(error_of([&] { load_idx_split(d, "t10k"); }),
            "--data " + d + ": 2 images but 3 labels (" + d + "/t10k-images-idx3-ubyte and " + d +
                "/t10k-labels-idx1-ubyte.gz)");
  write(dir, "t10k-labels-idx1-ubyte.gz", gzip(idx(0x0C, {2}, Bytes(8))));
  EXPECT_EQ(error_of([&] { load_idx_split(d, "t10k"); }),
            d + "/t10k-labels-idx1-ubyte.gz: expected uint8 labels [N], got int32[2]");
  write(dir, "t10k-images-idx3-ubyte", idx(0x08, {2, 4}, Bytes(8)));
  EXPECT_EQ(error_of([&] { load_idx_split(d, "t10k"); }),
            d + "/t10k-images-idx3-ubyte: expected uint8 images [N, rows, cols], got uint8[2, 4]");
  EXPECT_EQ(error_of([&] { load_idx_split(d + "/nope", "train"); }),
            "--data " + d +
                "/nope: no such directory (Debian: apt install dataset-fashion-mnist, "
                "files in /usr/share/datasets/fashion-mnist)");
}

// The real dataset (Debian's dataset-fashion-mnist), checked against numbers
// numpy computed from the same files.
TEST(IdxSplit, ReadsFashionMnist) {
  if (!fs::exists(fs::path(kFashion) / "t10k-labels-idx1-ubyte.gz")) {
    GTEST_SKIP() << kFashion << " is not installed (apt install dataset-fashion-mnist)";
  }
  struct Expected {
    const char* name;
    int64_t n;
    uint8_t first_labels[5];
    uint64_t first_image_sum, last_image_sum, pixel_sum;
  };
  for (const Expected& want :
       {Expected{"train", 60000, {9, 0, 0, 3, 0}, 76247, 16684, 3431114169ull},
        Expected{"t10k", 10000, {9, 2, 1, 1, 6}, 33456, 24390, 573469082ull}}) {
    SCOPED_TRACE(want.name);
    const auto split = load_idx_split(kFashion, want.name);
    ASSERT_EQ(split.images.shape, (std::vector<int64_t>{want.n, 28, 28}));
    ASSERT_EQ(split.labels.shape, (std::vector<int64_t>{want.n}));
    EXPECT_EQ(split.num_classes, 10);
    const auto labels = split.labels.as<uint8_t>();
    EXPECT_TRUE(std::equal(want.first_labels, want.first_labels + 5, labels.begin()));
    std::vector<int64_t> per_class(10);
    for (auto label : labels) per_class[label]++;
    EXPECT_EQ(per_class, std::vector<int64_t>(10, want.n / 10));
    const auto pixels = split.images.as<uint8_t>();
    EXPECT_EQ(std::accumulate(pixels.begin(), pixels.begin() + 784, uint64_t{0}),
              want.first_image_sum);
    EXPECT_EQ(std::accumulate(pixels.end() - 784, pixels.end(), uint64_t{0}), want.last_image_sum);
    EXPECT_EQ(std::accumulate(pixels.begin(), pixels.end(), uint64_t{0}), want.pixel_sum);
  }
}

}  // namespace
}  // namespace hm::data
