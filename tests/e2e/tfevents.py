"""Reads TensorBoard event files without TensorFlow or protobuf, to check what Hyperion writes: TFRecord framing
with both masked CRC-32C checked, and the protobuf fields of Event, Summary and the HParams plugin's messages.
An implementation of its own, written from the formats' documentation, not from Hyperion's writer."""

import struct


def _crc32c_table():
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _crc32c_table()


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc = _TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc(data):
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def records(path):
    """The data of every record in the file; raises ValueError on a bad length or data CRC."""
    with open(path, "rb") as f:
        blob = f.read()
    out, pos = [], 0
    while pos < len(blob):
        header = blob[pos:pos + 8]
        (length,) = struct.unpack("<Q", header)
        (length_crc,) = struct.unpack("<I", blob[pos + 8:pos + 12])
        if length_crc != masked_crc(header):
            raise ValueError("%s: bad length CRC at offset %d" % (path, pos))
        data = blob[pos + 12:pos + 12 + length]
        (data_crc,) = struct.unpack("<I", blob[pos + 12 + length:pos + 16 + length])
        if len(data) != length or data_crc != masked_crc(data):
            raise ValueError("%s: bad data CRC at offset %d" % (path, pos))
        out.append(data)
        pos += 16 + length
    return out


def fields(buf):
    """[(field number, value)]: varints as int, fixed64/fixed32 as raw 8/4 bytes, length-delimited as bytes."""
    out, pos = [], 0

    def varint():
        nonlocal pos
        shift = value = 0
        while True:
            b = buf[pos]
            pos += 1
            value |= (b & 0x7F) << shift
            if not b & 0x80:
                return value
            shift += 7

    while pos < len(buf):
        key = varint()
        number, wire = key >> 3, key & 7
        if wire == 0:
            out.append((number, varint()))
        elif wire == 1:
            out.append((number, buf[pos:pos + 8]))
            pos += 8
        elif wire == 5:
            out.append((number, buf[pos:pos + 4]))
            pos += 4
        elif wire == 2:
            n = varint()
            out.append((number, buf[pos:pos + n]))
            pos += n
        else:
            raise ValueError("wire type %d" % wire)
    return out


def one(buf, number, default=None):
    for n, v in fields(buf):
        if n == number:
            return v
    return default


def many(buf, number):
    return [v for n, v in fields(buf) if n == number]


def double(raw):
    return struct.unpack("<d", raw)[0]


def float32(raw):
    return struct.unpack("<f", raw)[0]


def proto_value(buf):
    """google.protobuf.Value -> Python value."""
    for n, v in fields(buf):
        if n == 1:
            return None
        if n == 2:
            return double(v)
        if n == 3:
            return v.decode("utf-8")
        if n == 4:
            return bool(v)
    return None


def events(path):
    """Every event of a file as a dict: wall_time, step, and file_version or the summary's values. A value is
    {tag, simple_value} or {tag, plugin, hparams: decoded HParamsPluginData}."""
    out = []
    for data in records(path):
        e = {"wall_time": double(one(data, 1, b"\0" * 8)), "step": one(data, 2, 0)}
        if one(data, 3) is not None:
            e["file_version"] = one(data, 3).decode()
        summary = one(data, 5)
        if summary is not None:
            e["values"] = []
            for value in many(summary, 1):
                v = {"tag": one(value, 1).decode("utf-8")}
                if one(value, 2) is not None:
                    v["simple_value"] = float32(one(value, 2))
                metadata = one(value, 9)
                if metadata is not None:
                    plugin = one(metadata, 1)
                    v["plugin"] = one(plugin, 1).decode()
                    v["hparams"] = hparams_data(one(plugin, 2, b""))
                e["values"].append(v)
        out.append(e)
    return out


def hparams_data(buf):
    """HParamsPluginData -> {"version", and one of "experiment", "session_start", "session_end"}."""
    out = {"version": one(buf, 1, 0)}
    start, end, experiment = one(buf, 3), one(buf, 4), one(buf, 2)
    if start is not None:
        hp = {}
        for entry in many(start, 1):
            hp[one(entry, 1).decode("utf-8")] = proto_value(one(entry, 2, b""))
        out["session_start"] = {"hparams": hp, "group_name": (one(start, 4) or b"").decode("utf-8"),
                                "start_time_secs": double(one(start, 5, b"\0" * 8))}
    if end is not None:
        out["session_end"] = {"status": one(end, 1, 0), "end_time_secs": double(one(end, 2, b"\0" * 8))}
    if experiment is not None:
        infos = []
        for info in many(experiment, 4):
            item = {"name": one(info, 1).decode("utf-8"), "type": one(info, 4, 0)}
            discrete, interval = one(info, 5), one(info, 6)
            if discrete is not None:
                item["values"] = [proto_value(v) for v in many(discrete, 1)]
            if interval is not None:
                item["interval"] = (double(one(interval, 1, b"\0" * 8)), double(one(interval, 2, b"\0" * 8)))
            infos.append(item)
        metrics = [one(one(m, 1), 2).decode("utf-8") for m in many(experiment, 5)]
        out["experiment"] = {"hparam_infos": infos, "metrics": metrics}
    return out
