// check_torch_archive on archives built here byte by byte: stored zips (with
// and without zip64 fields) holding pickles. The real archives LibTorch
// writes are checked in tests/unit/torch/checkpoint_test.cpp.
#include "hm/data/torch_archive.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdint>
#include <string>
#include <vector>

#include "hm/base/error.h"

namespace hm::data {
namespace {

void put_le(std::string& out, uint64_t value, int width) {
  for (int i = 0; i < width; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

// A zip as miniz writes one: local header + data per record, the central
// directory, the end record; `zip64` adds a zip64 end record and locator
// and moves every size and offset into zip64 extra fields.
struct ZipSpec {
  struct Record {
    std::string name;
    std::string data;
    uint16_t method = 0;
    int64_t declared_size = -1;  // the uncompressed size to declare, when not the data's
  };
  std::vector<Record> records;
  bool zip64 = false;
};

std::string build_zip(const ZipSpec& spec) {
  std::string zip, directory;
  for (const auto& record : spec.records) {
    const uint64_t offset = zip.size();
    const uint64_t size = record.data.size();
    const uint64_t declared = record.declared_size >= 0 ? record.declared_size : size;
    put_le(zip, 0x04034b50, 4);
    put_le(zip, 20, 2);  // version
    put_le(zip, 0, 2);   // flags
    put_le(zip, record.method, 2);
    put_le(zip, 0, 4);  // time, date
    put_le(zip, 0, 4);  // crc
    put_le(zip, size, 4);
    put_le(zip, declared, 4);
    put_le(zip, record.name.size(), 2);
    put_le(zip, 3, 2);  // extra: 3 bytes of padding, as LibTorch aligns data
    zip += record.name + "FB";
    zip.push_back('\0');
    zip += record.data;

    std::string extra;
    if (spec.zip64) {
      put_le(extra, 1, 2);
      put_le(extra, 24, 2);
      put_le(extra, declared, 8);
      put_le(extra, size, 8);
      put_le(extra, offset, 8);
    }
    put_le(directory, 0x02014b50, 4);
    put_le(directory, 20, 2);
    put_le(directory, 20, 2);
    put_le(directory, 0, 2);
    put_le(directory, record.method, 2);
    put_le(directory, 0, 4);
    put_le(directory, 0, 4);
    put_le(directory, spec.zip64 ? 0xffffffff : size, 4);
    put_le(directory, spec.zip64 ? 0xffffffff : declared, 4);
    put_le(directory, record.name.size(), 2);
    put_le(directory, extra.size(), 2);
    put_le(directory, 0, 2);  // comment
    put_le(directory, 0, 2);  // disk
    put_le(directory, 0, 2);
    put_le(directory, 0, 4);
    put_le(directory, spec.zip64 ? 0xffffffff : offset, 4);
    directory += record.name + extra;
  }
  const uint64_t directory_offset = zip.size();
  zip += directory;
  const uint64_t count = spec.records.size();
  if (spec.zip64) {
    const uint64_t end64 = zip.size();
    put_le(zip, 0x06064b50, 4);
    put_le(zip, 44, 8);
    put_le(zip, 45, 2);
    put_le(zip, 45, 2);
    put_le(zip, 0, 8);  // disks
    put_le(zip, count, 8);
    put_le(zip, count, 8);
    put_le(zip, directory.size(), 8);
    put_le(zip, directory_offset, 8);
    put_le(zip, 0x07064b50, 4);
    put_le(zip, 0, 4);
    put_le(zip, end64, 8);
    put_le(zip, 1, 4);
  }
  put_le(zip, 0x06054b50, 4);
  put_le(zip, 0, 4);
  put_le(zip, spec.zip64 ? 0xffff : count, 2);
  put_le(zip, spec.zip64 ? 0xffff : count, 2);
  put_le(zip, spec.zip64 ? 0xffffffff : directory.size(), 4);
  put_le(zip, spec.zip64 ? 0xffffffff : directory_offset, 4);
  put_le(zip, 0, 2);
  return zip;
}

// Pickle protocol 2 as LibTorch's pickler writes it.
class Pickle {
 public:
  Pickle() { bytes_ = "\x80\x02"; }
  Pickle& op(char opcode) {
    bytes_.push_back(opcode);
    return *this;
  }
  Pickle& text(const std::string& value) {
    bytes_.push_back('X');
    put_le(bytes_, value.size(), 4);
    bytes_ += value;
    return *this;
  }
  Pickle& int32(int32_t value) {
    bytes_.push_back('J');
    put_le(bytes_, static_cast<uint32_t>(value), 4);
    return *this;
  }
  Pickle& global(const std::string& module, const std::string& name) {
    bytes_ += "c" + module + "\n" + name + "\n";
    return *this;
  }
  Pickle& raw(const std::string& bytes) {
    bytes_ += bytes;
    return *this;
  }
  // ("storage", torch.FloatStorage, key, "cpu", numel) then BINPERSID.
  Pickle& float_storage(const std::string& key, int32_t numel) {
    op('(').text("storage").global("torch", "FloatStorage").text(key).text("cpu").int32(numel);
    return op('t').op('Q');
  }
  std::string done() const { return bytes_ + "."; }

 private:
  std::string bytes_;
};

void check(const std::string& zip) {
  check_torch_archive(std::as_bytes(std::span(zip.data(), zip.size())));
}

std::string refusal(const std::string& zip) {
  try {
    check(zip);
  } catch (const Error& error) {
    return error.what();
  }
  return "accepted";
}

std::string one_pickle(const std::string& pickle, bool zip64 = false) {
  return build_zip({{{"archive/data.pkl", pickle}, {"archive/version", "3\n"}}, zip64});
}

TEST(TorchArchive, AcceptsWhatLibTorchWrites) {
  const auto pickle = Pickle()
                          .global("__torch__", "Expert")
                          .op(')')
                          .op(0x81)  // NEWOBJ
                          .op('}')
                          .op('(')
                          .text("weight")
                          .float_storage("0", 4)
                          .op('u')
                          .op('b')
                          .done();
  ZipSpec spec{{{"archive/data.pkl", pickle},
                {"archive/data/0", std::string(16, '\1')},
                {"archive/version", "3\n"}}};
  EXPECT_NO_THROW(check(build_zip(spec)));
  spec.zip64 = true;
  EXPECT_NO_THROW(check(build_zip(spec)));
}

TEST(TorchArchive, TensorsOnlyArchivesNameNoClass) {
  const auto tensors = Pickle()
                           .global("torch._utils", "_rebuild_tensor_v2")
                           .op('(')
                           .float_storage("0", 4)
                           .global("collections", "OrderedDict")
                           .op(')')
                           .op('R')
                           .op('t')
                           .op('R')
                           .done();
  const auto zip = build_zip({{{"archive/data.pkl", tensors}, {"archive/data/0", "0123456789abcdef"}}});
  EXPECT_NO_THROW(check_torch_archive(std::as_bytes(std::span(zip.data(), zip.size())),
                                      PickleGlobals::kTensorsOnly));
  for (const auto& [module, name] : {std::pair{"__torch__", "Expert"},
                                     {"torch.jit._pickle", "restore_type_tag"},
                                     {"torch", "device"},
                                     {"torch._utils", "_rebuild_sparse_tensor"}}) {
    const auto pickle = Pickle().global(module, name).done();
    const auto other = one_pickle(pickle);
    EXPECT_NO_THROW(check(other));
    try {
      check_torch_archive(std::as_bytes(std::span(other.data(), other.size())),
                          PickleGlobals::kTensorsOnly);
      ADD_FAILURE() << module << "." << name << " accepted";
    } catch (const Error& error) {
      EXPECT_NE(std::string(error.what()).find(fmt::format("global {}.{}, where only tensors may be", module, name)),
                std::string::npos)
          << error.what();
    }
  }
}

TEST(TorchArchive, RefusesAStringLongerThanItsRecord) {
  // The 4 GiB that LibTorch 1.13 would zero-fill before finding it missing.
  const auto pickle = Pickle().raw("X\xff\xff\xff\xff" "abc").done();
  EXPECT_NE(refusal(one_pickle(pickle)).find("string of 4294967295 bytes"), std::string::npos)
      << refusal(one_pickle(pickle));
}

TEST(TorchArchive, RefusesAMemoIdThatSkipsAhead) {
  const auto pickle = Pickle().op('N').raw("r\xff\xff\xff\xff").done();
  EXPECT_NE(refusal(one_pickle(pickle)).find("memo id 4294967295 skips ahead"), std::string::npos);
  EXPECT_NO_THROW(check(one_pickle(Pickle().op('N').raw(std::string("q\0h\0", 4)).done())));
}

TEST(TorchArchive, RefusesAStorageLongerThanItsRecord) {
  const auto pickle = Pickle().float_storage("0", 100).done();
  const auto zip = build_zip({{{"archive/data.pkl", pickle}, {"archive/data/0", "abcd"}}});
  EXPECT_NE(refusal(zip).find("storage 0 declares 400 bytes, its record has 4"),
            std::string::npos)
      << refusal(zip);
  const auto missing = build_zip({{{"archive/data.pkl", pickle}}});
  EXPECT_NE(refusal(missing).find("storage 0 has no record"), std::string::npos);
}

TEST(TorchArchive, RefusesStorageReferencesItCannotFollow) {
  // The tuple comes out of a global: what it holds is LibTorch's to decide.
  const auto pickle =
      Pickle().global("torch.jit._pickle", "restore_type_tag").op('N').op('R').op('Q').done();
  EXPECT_NE(refusal(one_pickle(pickle)).find("not a literal"), std::string::npos);
}

TEST(TorchArchive, RefusesDeepNesting) {
  Pickle pickle;
  pickle.op(')');
  for (int i = 0; i < 1500; ++i) pickle.op(0x85);  // TUPLE1
  EXPECT_NE(refusal(one_pickle(pickle.done())).find("nested over 1000 deep"), std::string::npos);
  Pickle lists;
  for (int i = 0; i < 1500; ++i) lists.op(']').op('(');
  for (int i = 0; i < 1500; ++i) lists.op('e');
  EXPECT_NE(refusal(one_pickle(lists.done())).find("nested over 1000 deep"), std::string::npos);
}

TEST(TorchArchive, RefusesMalformedPickles) {
  const std::pair<std::string, std::string> cases[] = {
      {"\x80\x03.", "not pickle protocol 2"},
      {"N.", "starts without PROTO"},
      {Pickle().op('N').done().substr(0, 3), "truncated"},
      {Pickle().op('N').op('(').op('0').done(), "0x30, which LibTorch does not read"},
      {Pickle().op('N').op('(').op('R').done(), "below its mark"},
      {Pickle().op('(').op('N').op('d').done(), "a key without its value"},
      {Pickle().op('t').done(), "no MARK to close"},
      {Pickle().raw("c__torch__\nExpert").done(), "without its newline"},
      {Pickle().raw("\x8a\x04\x01\x02\x03\x04").done(), "LONG1 of other than 8 bytes"},
      {Pickle().global("torch._tensor", "_rebuild_from_type_v2").done(), "tensor subclass"},
  };
  for (const auto& [pickle, expected] : cases) {
    const auto message = refusal(one_pickle(pickle));
    EXPECT_NE(message.find(expected), std::string::npos) << message << " != " << expected;
    EXPECT_NE(message.find("pickle archive/data.pkl, offset "), std::string::npos) << message;
  }
}

TEST(TorchArchive, ChecksDebugPickles) {
  const auto zip = build_zip({{{"archive/data.pkl", Pickle().op('N').done()},
                               {"archive/code/__torch__.py.debug_pkl", "\x80\x02X\xff\xff"}}});
  EXPECT_NE(refusal(zip).find("pickle archive/code/__torch__.py.debug_pkl"), std::string::npos);
}

// Raw deflate (no zlib header), as zip records hold it.
std::string raw_deflate(const std::string& bytes) {
  z_stream stream{};
  EXPECT_EQ(deflateInit2(&stream, 9, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&stream, bytes.size()), '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  stream.avail_in = static_cast<uInt>(bytes.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&stream, Z_FINISH), Z_STREAM_END);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

TEST(TorchArchive, InflatesDeflatedPicklesToCheckThem) {
  // LibTorch deflates its debug pickles.
  const std::string name = "archive/code/__torch__.py.debug_pkl";
  const auto good = Pickle().text(std::string(500, 'a')).done();
  EXPECT_NO_THROW(check(build_zip({{{name, raw_deflate(good), 8, int64_t(good.size())}}})));
  const auto bad = Pickle().raw("X\xff\xff\xff\x7f").raw(std::string(500, 'a')).done();
  EXPECT_NE(refusal(build_zip({{{name, raw_deflate(bad), 8, int64_t(bad.size())}}}))
                .find("string of 2147483647 bytes"),
            std::string::npos);
  // Declaring more or less than the stream inflates to.
  EXPECT_NE(refusal(build_zip({{{name, raw_deflate(good), 8, int64_t(good.size()) + 1}}}))
                .find("deflate data ends early"),
            std::string::npos);
  EXPECT_NE(refusal(build_zip({{{name, raw_deflate(good), 8, int64_t(good.size()) - 1}}}))
                .find("deflate data is corrupt or longer"),
            std::string::npos);
}

TEST(TorchArchive, RefusesZipsLibTorchDoesNotWrite) {
  const auto pickle = Pickle().op('N').done();
  EXPECT_NE(refusal(build_zip({{{"archive/data.pkl", pickle, 8}}})).find("deflate data is corrupt"),
            std::string::npos);
  EXPECT_NE(refusal(build_zip({{{"archive/code/x.py", "abc", 12}}})).find("compression method 12"),
            std::string::npos);
  // A deflated record may declare what deflate can make of it, no more.
  EXPECT_NO_THROW(check(build_zip({{{"archive/code/x.py", "abc", 8, 1 << 20}}})));
  EXPECT_NE(refusal(build_zip({{{"archive/code/x.py", "abc", 8, (1 << 20) + 193}}}))
                .find("declares 1048769 bytes inflated from 3"),
            std::string::npos);
  EXPECT_NE(refusal(build_zip({{{"archive/data.pkl", pickle, 0, 1 << 30}}}))
                .find("stores 4 bytes but declares 1073741824"),
            std::string::npos);
  EXPECT_NE(refusal(build_zip({{{"archive/data.pkl", pickle}, {"ARCHIVE/DATA.PKL", pickle}}}))
                .find("two records named ARCHIVE/DATA.PKL"),
            std::string::npos);
  EXPECT_NE(refusal(build_zip({{{"archive/model.json", "{}"}}})).find("legacy"),
            std::string::npos);
  EXPECT_NE(refusal("not a zip at all, not even close").find("no end-of-central-directory"),
            std::string::npos);

  const auto good = one_pickle(pickle);
  EXPECT_NO_THROW(check(good));
  // Truncation anywhere leaves no valid directory or a record past the end.
  for (size_t keep = 0; keep < good.size(); keep += 7) {
    EXPECT_NE(refusal(good.substr(0, keep)), "accepted") << keep;
  }
  // A local-header offset past the end of the archive.
  std::string bad_offset = good;
  const size_t directory = bad_offset.find("PK\x01\x02");
  bad_offset[directory + 42] = '\x7f';
  bad_offset[directory + 45] = '\x7f';
  EXPECT_NE(refusal(bad_offset).find("no local header at offset"), std::string::npos);
  // A comment length that disagrees with the bytes after the end record.
  EXPECT_NE(refusal(good + "junk").find("comment says 0"), std::string::npos);
}

TEST(TorchArchive, RefusesAZip64RecordPastTheEnd) {
  auto zip = one_pickle(Pickle().op('N').done(), /*zip64=*/true);
  const size_t directory = zip.find("PK\x01\x02");
  // The zip64 extra field's compressed and uncompressed sizes: 2^40.
  const size_t extra = directory + 46 + std::string("archive/data.pkl").size() + 4;
  zip[extra + 5] = '\x01';
  zip[extra + 13] = '\x01';
  EXPECT_NE(refusal(zip).find("past the archive"), std::string::npos) << refusal(zip);
}

}  // namespace
}  // namespace hm::data
