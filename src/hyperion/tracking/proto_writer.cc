#include "hyperion/tracking/proto_writer.h"

#include <array>
#include <cstring>

namespace hyperion {

void ProtoWriter::RawVarint(uint64_t value) {
  while (value >= 0x80) {
    data_.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  data_.push_back(static_cast<char>(value));
}

void ProtoWriter::Tag(int field, int wire_type) {
  RawVarint((static_cast<uint64_t>(field) << 3) | static_cast<uint64_t>(wire_type));
}

ProtoWriter& ProtoWriter::Varint(int field, uint64_t value) {
  Tag(field, 0);
  RawVarint(value);
  return *this;
}

ProtoWriter& ProtoWriter::Double(int field, double value) {
  Tag(field, 1);
  uint64_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  for (int i = 0; i < 8; ++i) data_.push_back(static_cast<char>((bits >> (8 * i)) & 0xff));
  return *this;
}

ProtoWriter& ProtoWriter::Float(int field, float value) {
  Tag(field, 5);
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  for (int i = 0; i < 4; ++i) data_.push_back(static_cast<char>((bits >> (8 * i)) & 0xff));
  return *this;
}

ProtoWriter& ProtoWriter::Bytes(int field, const std::string& bytes) {
  Tag(field, 2);
  RawVarint(bytes.size());
  data_ += bytes;
  return *this;
}

namespace {

// The reflected Castagnoli polynomial's table, built once.
const std::array<uint32_t, 256>& Crc32cTable() {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t crc = i;
      for (int bit = 0; bit < 8; ++bit) crc = (crc & 1) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
      t[i] = crc;
    }
    return t;
  }();
  return table;
}

}  // namespace

uint32_t Crc32c(const std::string& bytes) {
  const auto& table = Crc32cTable();
  uint32_t crc = 0xffffffffu;
  for (unsigned char c : bytes) crc = table[(crc ^ c) & 0xff] ^ (crc >> 8);
  return crc ^ 0xffffffffu;
}

uint32_t MaskedCrc32c(const std::string& bytes) {
  uint32_t crc = Crc32c(bytes);
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

}  // namespace hyperion
