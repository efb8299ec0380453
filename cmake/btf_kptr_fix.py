#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Gives a struct member the BTF of a referenced kptr, which clang 14 cannot emit.

The kernel finds the kptr fields of a map value by their BTF: member -> PTR -> TYPE_TAG "kptr" ->
STRUCT. clang 14 (Debian 12's) drops btf_type_tag on struct members (fixed in clang 15) but keeps
it on function parameters, so the object declares an extern kfunc whose parameter is
`struct X __kptr *`; that PTR -> TYPE_TAG "kptr" -> STRUCT X chain is in the object's BTF. This
script points the member (a plain PTR -> STRUCT X) at that chain: one 4-byte type id rewritten in
place in the .BTF section, nothing else changes.

usage: btf_kptr_fix.py OBJECT STRUCT MEMBER
Exits 1 with a message when the struct, the member or a tagged pointer to its struct is missing.
"""
import struct
import sys

KIND_PTR, KIND_STRUCT, KIND_UNION, KIND_TYPE_TAG = 2, 4, 5, 18


def fail(msg):
    print(f"btf_kptr_fix: {msg}", file=sys.stderr)
    sys.exit(1)


def btf_section(data):
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        fail("not a little-endian ELF64 object")
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    sections = []
    for i in range(shnum):
        name, _, _, _, off, size = struct.unpack_from("<IIQQQQ", data, shoff + i * shentsize)
        sections.append((name, off, size))
    stroff = sections[shstrndx][1]
    for name, off, size in sections:
        end = data.index(b"\0", stroff + name)
        if data[stroff + name:end] == b".BTF":
            return off, size
    fail("no .BTF section")


def parse(data, off):
    magic, _, _, hdr_len, type_off, type_len, str_off, _ = struct.unpack_from("<HBBIIIII", data, off)
    if magic != 0xEB9F:
        fail("bad BTF magic")
    types_at = off + hdr_len + type_off
    strs_at = off + hdr_len + str_off

    def name(n):
        return data[strs_at + n:data.index(b"\0", strs_at + n)].decode()

    types = [None]  # id 0 is void
    pos = types_at
    while pos < types_at + type_len:
        name_off, info, size_type = struct.unpack_from("<III", data, pos)
        kind, vlen = (info >> 24) & 0x1F, info & 0xFFFF
        t = {"at": pos, "name": name(name_off), "kind": kind, "type": size_type, "members": []}
        pos += 12
        if kind in (KIND_STRUCT, KIND_UNION):
            for _ in range(vlen):
                m_name, m_type, _ = struct.unpack_from("<III", data, pos)
                t["members"].append((name(m_name), m_type, pos + 4))
                pos += 12
        elif kind == 1 or kind == 14 or kind == 17:  # INT, VAR, DECL_TAG: one extra u32
            pos += 4
        elif kind == 3:  # ARRAY
            pos += 12
        elif kind == 6 or kind == 13:  # ENUM, FUNC_PROTO
            pos += 8 * vlen
        elif kind == 15:  # DATASEC
            pos += 12 * vlen
        elif kind == 19:  # ENUM64
            pos += 12 * vlen
        types.append(t)
    return types


def main():
    if len(sys.argv) != 4:
        fail("usage: btf_kptr_fix.py OBJECT STRUCT MEMBER")
    path, sname, mname = sys.argv[1:]
    data = bytearray(open(path, "rb").read())
    off, _ = btf_section(data)
    types = parse(data, off)
    owner = next((t for t in types[1:] if t["kind"] == KIND_STRUCT and t["name"] == sname), None)
    if owner is None:
        fail(f"no struct {sname}")
    member = next((m for m in owner["members"] if m[0] == mname), None)
    if member is None:
        fail(f"struct {sname} has no member {mname}")
    ptr = types[member[1]]
    if ptr["kind"] != KIND_PTR:
        fail(f"{sname}.{mname} is not a pointer")
    target = types[ptr["type"]]
    if target["kind"] == KIND_TYPE_TAG and target["name"] == "kptr":
        return  # already tagged (a newer clang)
    if target["kind"] != KIND_STRUCT:
        fail(f"{sname}.{mname} does not point to a struct")
    for i, t in enumerate(types[1:], 1):
        if t["kind"] != KIND_PTR:
            continue
        tag = types[t["type"]]
        if (tag["kind"] == KIND_TYPE_TAG and tag["name"] == "kptr" and
                types[tag["type"]]["kind"] == KIND_STRUCT and
                types[tag["type"]]["name"] == target["name"]):
            struct.pack_into("<I", data, member[2], i)
            open(path, "wb").write(data)
            return
    fail(f"no PTR -> TYPE_TAG kptr -> struct {target['name']} in the BTF to point at")


main()
