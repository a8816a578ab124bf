// Just enough of the protobuf wire format to write TensorBoard's Event, Summary and HParams messages without
// the protobuf library: varints, 64- and 32-bit fixed numbers, and length-delimited fields (strings, bytes,
// nested messages). Fields are written in the order the caller adds them; a field left out reads as its
// default, as proto3 does.
//
// Plain value; any thread.
#pragma once

#include <cstdint>
#include <string>

namespace hyperion {

class ProtoWriter {
 public:
  ProtoWriter& Varint(int field, uint64_t value);
  ProtoWriter& Double(int field, double value);  // fixed64
  ProtoWriter& Float(int field, float value);    // fixed32
  ProtoWriter& Bytes(int field, const std::string& bytes);
  ProtoWriter& Message(int field, const ProtoWriter& message) { return Bytes(field, message.data()); }

  const std::string& data() const { return data_; }

 private:
  void Tag(int field, int wire_type);
  void RawVarint(uint64_t value);

  std::string data_;
};

// CRC-32C (Castagnoli), as TFRecord framing uses it.
uint32_t Crc32c(const std::string& bytes);
// TFRecord's masked CRC: ((crc >> 15) | (crc << 17)) + 0xa282ead8.
uint32_t MaskedCrc32c(const std::string& bytes);

}  // namespace hyperion
