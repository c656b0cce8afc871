//===- BytecodeGuard.cpp - counts MLIR 22's bytecode reader trusts --------===//
//
// MLIR 22's BytecodeReader sizes lists from the counts it reads (values and
// blocks of a region, results, operands, successors and regions of an op,
// arguments of a block, strings, dialects, op names, attributes, types,
// properties) before it reads their elements: a 441-byte file made it
// allocate 7 GB, another aborted with "SmallVector unable to grow". This walk
// reads the structure of the file (mlir/docs/BytecodeFormat.md) without
// building anything and refuses any such count that exceeds what the bytes
// left in its section can encode (each element takes at least one byte), a
// region declaring more values than its blocks define, and regions nested
// deeper than kMaxRegionDepth. It is linear in the size of the file and
// iterative (no recursion). A file it cannot follow is refused too: every
// such file is one the reader refuses as well.
//
//===----------------------------------------------------------------------===//

#include "qat/Tools/ParseGuard.h"

#include "mlir/Bytecode/Encoding.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/MathExtras.h"

#include <cstdint>
#include <cstring>
#include <vector>

using namespace mlir;
using namespace mlir::qat;

namespace {

namespace Section = mlir::bytecode::Section;
namespace Mask = mlir::bytecode::OpEncodingMask;

/// Region nesting deeper than this is refused: the reader itself is
/// iterative, but the verifier, the printer and walks over the IR recurse.
constexpr unsigned kMaxRegionDepth = 256;

const char *sectionName(unsigned id) {
  switch (id) {
  case Section::kString:
    return "string";
  case Section::kDialect:
    return "dialect";
  case Section::kAttrType:
    return "attribute/type";
  case Section::kAttrTypeOffset:
    return "attribute/type offset";
  case Section::kIR:
    return "IR";
  case Section::kResource:
    return "resource";
  case Section::kResourceOffset:
    return "resource offset";
  case Section::kDialectVersions:
    return "dialect version";
  case Section::kProperties:
    return "properties";
  default:
    return "unknown";
  }
}

/// The first problem the walk found: where (from the start of the file), what.
struct Failure {
  size_t offset;
  std::string message;
};

/// A cursor over one section of the file, reading as EncodingReader does.
class Cursor {
public:
  Cursor(const uint8_t *begin, const uint8_t *end, const uint8_t *file,
         const char *section)
      : pos(begin), end(end), file(file), name(section) {}

  size_t left() const { return end - pos; }
  bool empty() const { return pos == end; }
  size_t offset() const { return pos - file; }
  const uint8_t *current() const { return pos; }

  /// Records the first failure (at the current position) and returns false.
  bool fail(const llvm::Twine &what) {
    if (!failure)
      failure = Failure{offset(), ("malformed MLIR bytecode (" +
                                   llvm::Twine(name) + " section, byte " +
                                   llvm::Twine(offset()) + "): " + what)
                                      .str()};
    return false;
  }

  bool byte(uint8_t &value) {
    if (pos == end)
      return fail("truncated");
    value = *pos++;
    return true;
  }

  bool skip(uint64_t n) {
    if (n > left())
      return fail(llvm::Twine(n) + " bytes expected, " + llvm::Twine(left()) +
                  " left");
    pos += n;
    return true;
  }

  /// A PrefixVarInt: the number of trailing zeros of the first byte is the
  /// number of bytes that follow (all nine bytes when it is zero).
  bool varint(uint64_t &value) {
    uint8_t first;
    if (!byte(first))
      return false;
    if (first & 1) {
      value = first >> 1;
      return true;
    }
    unsigned more = first == 0 ? 8 : llvm::countr_zero<unsigned>(first);
    if (more > left())
      return fail("truncated variable-width integer");
    uint64_t raw = first == 0 ? 0 : first;
    for (unsigned i = 0; i < more; ++i)
      raw |= uint64_t(pos[i]) << (8 * (first == 0 ? i : i + 1));
    pos += more;
    value = first == 0 ? raw : raw >> (more + 1);
    return true;
  }

  bool varint(uint64_t &value, bool &flag) {
    if (!varint(value))
      return false;
    flag = value & 1;
    value >>= 1;
    return true;
  }

  /// A count of elements that each take at least `perElement` bytes of what
  /// is left: the reader allocates for all of them before reading one.
  bool count(uint64_t &n, const char *what, uint64_t perElement = 1) {
    if (!varint(n))
      return false;
    return check(n, what, perElement);
  }
  bool check(uint64_t n, const char *what, uint64_t perElement = 1) {
    if (n <= left() / perElement)
      return true;
    return fail(llvm::Twine(what) + " count " + llvm::Twine(n) +
                " exceeds the " + llvm::Twine(left()) +
                (left() == 1 ? " byte" : " bytes") +
                " left in the section (MLIR 22's bytecode reader would "
                "allocate for it)");
  }

  /// A section header (id, length, alignment and its 0xCB padding, aligned
  /// as the reader aligns: on the address in memory); `inner` is its data.
  bool section(uint8_t &id, Cursor &inner, const char *innerName) {
    uint8_t idAndAligned;
    uint64_t length;
    if (!byte(idAndAligned) || !varint(length))
      return false;
    id = idAndAligned & 0x7f;
    if (id >= Section::kNumSections)
      return fail("invalid section id " + llvm::Twine(unsigned(id)));
    if (idAndAligned & 0x80) {
      uint64_t alignment;
      if (!varint(alignment))
        return false;
      if (alignment > (uint64_t(1) << 31) || !llvm::isPowerOf2_64(alignment))
        return fail("section alignment " + llvm::Twine(alignment) +
                    " is not a power of two below 2^32");
      while (reinterpret_cast<uintptr_t>(pos) & (alignment - 1)) {
        uint8_t pad;
        if (!byte(pad))
          return false;
        if (pad != bytecode::kAlignmentByte)
          return fail("expected the alignment byte 0xCB");
      }
    }
    if (length > left())
      return fail("section length " + llvm::Twine(length) + " exceeds the " +
                  llvm::Twine(left()) + " bytes left");
    inner = Cursor(pos, pos + length, file, innerName);
    pos += length;
    return true;
  }

  std::optional<Failure> failure;

private:
  const uint8_t *pos;
  const uint8_t *end;
  const uint8_t *file;
  const char *name;
};

/// The walk of one file; `version` as read from its header.
class Walker {
public:
  Walker(const uint8_t *file, size_t size) : file(file), size(size) {}

  std::optional<Failure> run();

private:
  bool walkStrings(Cursor c);
  bool walkDialects(Cursor c);
  bool walkAttrTypeOffsets(Cursor c, Cursor data);
  bool walkProperties(Cursor c);
  bool textEntry(const Cursor &data, uint64_t offset, uint64_t size);
  bool walkIR(Cursor c);
  bool useListOrders(Cursor &c, uint64_t rangeSize);

  /// Fails with the failure of `c` (or of a copy it was made from).
  bool take(const Cursor &c) {
    if (c.failure && !failure)
      failure = c.failure;
    return false;
  }
  bool failAt(Cursor &c, const llvm::Twine &what) {
    c.fail(what);
    return take(c);
  }

  const uint8_t *file;
  size_t size;
  uint64_t version = 0;
  std::optional<Failure> failure;
};

bool Walker::walkStrings(Cursor c) {
  uint64_t n;
  // Each string has a length and at least its NUL byte.
  if (!c.count(n, "string", 2))
    return take(c);
  // The lengths (of the strings from the last one), then the strings, which
  // end the section. A length of 0 would make the reader drop the NUL of an
  // empty string: a string of 2^64 - 1 bytes.
  uint64_t data = c.left(), total = 0;
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t length;
    if (!c.varint(length))
      return take(c);
    if (length == 0 || length > data - total)
      return failAt(c, "string length " + llvm::Twine(length) +
                           (length == 0 ? " (at least its NUL byte)"
                                        : " exceeds the string data"));
    total += length;
  }
  if (c.left() != total)
    return failAt(c, "the string lengths do not end where the strings start");
  return true;
}

bool Walker::walkDialects(Cursor c) {
  uint64_t numDialects;
  if (!c.count(numDialects, "dialect"))
    return take(c);
  for (uint64_t i = 0; i < numDialects; ++i) {
    uint64_t name;
    bool hasVersion = false;
    if (version < bytecode::kDialectVersioning ? !c.varint(name)
                                               : !c.varint(name, hasVersion))
      return take(c);
    if (hasVersion) {
      uint8_t id;
      Cursor inner = c;
      if (!c.section(id, inner, "dialect version"))
        return take(c);
    }
  }
  if (version >= bytecode::kElideUnknownBlockArgLocation) {
    uint64_t numOps;
    if (!c.count(numOps, "operation name"))
      return take(c);
  }
  return true;
}

bool Walker::walkAttrTypeOffsets(Cursor c, Cursor data) {
  uint64_t numAttrs, numTypes;
  if (!c.count(numAttrs, "attribute") || !c.count(numTypes, "type") ||
      !c.check(numAttrs + numTypes, "attribute and type"))
    return take(c);
  // Groups by dialect: the reader writes each group's entries at the next
  // index without checking it against the count (a heap overflow).
  // The entries follow each other in the attribute/type section.
  uint64_t entryOffset = 0;
  for (uint64_t total : {numAttrs, numTypes}) {
    uint64_t left = total;
    while (left > 0) {
      uint64_t dialect, n, size;
      bool custom;
      if (!c.varint(dialect) || !c.varint(n))
        return take(c);
      if (n > left)
        return failAt(c, "a group of " + llvm::Twine(n) +
                             " attribute or type entries where " +
                             llvm::Twine(left) + " are left");
      for (uint64_t i = 0; i < n; ++i) {
        if (!c.varint(size, custom))
          return take(c);
        if (size > data.left() - entryOffset)
          return failAt(c, "an attribute or type entry of " +
                               llvm::Twine(size) +
                               " bytes past the end of its section");
        if (!custom && !textEntry(data, entryOffset, size))
          return false;
        entryOffset += size;
      }
      left -= n;
    }
  }
  return true;
}

/// An entry without a dialect encoding is the text of the attribute or type
/// up to a NUL byte, which the reader hands to MLIR 22's parser
/// (parseAttribute, parseType): the text parser's hazards are refused there
/// too (`array<index: 1>` crashed it from bytecode).
bool Walker::textEntry(const Cursor &data, uint64_t offset, uint64_t size) {
  const uint8_t *begin = data.current() + offset;
  const void *nul = std::memchr(begin, 0, size);
  if (!nul)
    return true; // the reader's error
  llvm::StringRef text(reinterpret_cast<const char *>(begin),
                       static_cast<const uint8_t *>(nul) - begin);
  std::optional<ParserHazard> hazard = findTextHazard(text);
  if (!hazard)
    return true;
  Cursor at(begin + hazard->offset, data.current() + data.left(), file,
            "attribute/type");
  return failAt(at, "an attribute or type stored as text: " +
                        llvm::Twine(hazard->message));
}

bool Walker::walkProperties(Cursor c) {
  if (c.empty())
    return true;
  uint64_t n;
  if (!c.count(n, "properties"))
    return take(c);
  return true;
}

/// A use-list order for a range of `rangeSize` values (the reader reads the
/// indices one by one: no count to check, but the bytes must be there).
bool Walker::useListOrders(Cursor &c, uint64_t rangeSize) {
  uint64_t numValues = 1;
  if (rangeSize > 1 && !c.varint(numValues))
    return false;
  for (uint64_t v = 0; v < numValues; ++v) {
    uint64_t index, numIndices;
    bool pairs;
    if ((rangeSize > 1 && !c.varint(index)) || !c.varint(numIndices, pairs))
      return false;
    for (uint64_t i = 0; i < numIndices; ++i)
      if (!c.varint(index))
        return false;
  }
  return true;
}

/// The IR section: the top-level block, then every op, region and block in
/// the reader's order, on an explicit stack.
bool Walker::walkIR(Cursor top) {
  // One frame per op whose regions are being read.
  struct Frame {
    size_t cursor;           // index in `cursors`
    uint64_t regionsLeft;    // regions of the op not started yet
    bool inRegion = false;   // a region of the op is being read
    uint64_t blocksLeft = 0; // blocks of that region not started yet
    uint64_t opsLeft = 0;    // ops of the current block not read yet
    uint64_t declared = 0;   // values the region declares
    uint64_t defined = 0;    // values its blocks define (arguments, results)
    size_t regionOffset = 0; // where the region starts, for the message
    bool ownsCursor = false; // its regions are a section of their own
  };
  std::vector<Cursor> cursors{top};
  std::vector<Frame> stack;

  // A block header: ops, arguments, their use-list orders.
  auto blockHeader = [&](Cursor &c, Frame &f, bool topLevel = false) -> bool {
    uint64_t numOps, numArgs = 0;
    bool hasArgs;
    if (!c.varint(numOps, hasArgs))
      return false;
    // The reader defines the arguments of the top-level block before it has
    // a scope for values: SIGSEGV (found by mutating the corpus's bytecode).
    if (topLevel && hasArgs)
      return c.fail("the top-level block has arguments");
    f.opsLeft = numOps;
    if (hasArgs) {
      if (!c.count(numArgs, "block argument"))
        return false;
      for (uint64_t i = 0; i < numArgs; ++i) {
        uint64_t type, loc;
        bool hasLoc = true;
        if (version >= bytecode::kElideUnknownBlockArgLocation
                ? !c.varint(type, hasLoc)
                : !c.varint(type))
          return false;
        if (hasLoc && !c.varint(loc))
          return false;
      }
      f.defined += numArgs;
    }
    if (version < bytecode::kUseListOrdering || !hasArgs)
      return true;
    uint8_t hasOrders;
    if (!c.byte(hasOrders))
      return false;
    return !hasOrders || useListOrders(c, numArgs);
  };

  // The top-level block belongs to no region (no values declared).
  stack.push_back(Frame{0, 0});
  stack.back().inRegion = true;
  if (!blockHeader(cursors[0], stack.back(), /*topLevel=*/true))
    return take(cursors[0]);
  stack.back().declared = ~uint64_t(0); // not checked

  while (!stack.empty()) {
    Frame &f = stack.back();
    Cursor &c = cursors[f.cursor];
    if (f.inRegion && f.opsLeft > 0) {
      // An op without its regions.
      --f.opsLeft;
      uint64_t name, loc, attrs, n, x;
      uint8_t mask;
      if (!c.varint(name) || !c.byte(mask) || !c.varint(loc))
        return take(c);
      if ((mask & Mask::kHasAttrs) && !c.varint(attrs))
        return take(c);
      if ((mask & Mask::kHasProperties) && !c.varint(x))
        return take(c);
      uint64_t numResults = 0;
      if (mask & Mask::kHasResults) {
        if (!c.count(numResults, "op result"))
          return take(c);
        for (uint64_t i = 0; i < numResults; ++i)
          if (!c.varint(x))
            return take(c);
        f.defined += numResults;
      }
      if (mask & Mask::kHasOperands) {
        if (!c.count(n, "op operand"))
          return take(c);
        for (uint64_t i = 0; i < n; ++i)
          if (!c.varint(x))
            return take(c);
      }
      if (mask & Mask::kHasSuccessors) {
        if (!c.count(n, "op successor"))
          return take(c);
        for (uint64_t i = 0; i < n; ++i)
          if (!c.varint(x))
            return take(c);
      }
      if (version >= bytecode::kUseListOrdering &&
          (mask & Mask::kHasUseListOrders) && !useListOrders(c, numResults))
        return take(c);
      uint64_t numRegions = 0;
      bool isolated = false;
      if ((mask & Mask::kHasInlineRegions) &&
          !(c.varint(numRegions, isolated) && c.check(numRegions, "op region")))
        return take(c);
      if (numRegions == 0)
        continue;
      if (stack.size() > kMaxRegionDepth)
        return failAt(c, "regions nested deeper than " +
                             llvm::Twine(kMaxRegionDepth));
      size_t cursor = f.cursor;
      if (isolated && version >= bytecode::kLazyLoading) {
        // The regions of an isolated op are a section of their own.
        uint8_t id;
        Cursor inner = c;
        if (!c.section(id, inner, "IR"))
          return take(c);
        if (id != Section::kIR)
          return failAt(c, "expected an IR section for the regions of an "
                           "isolated op, found the " +
                               llvm::Twine(sectionName(id)) + " section");
        if (!inner.check(numRegions, "op region"))
          return take(inner);
        cursors.push_back(inner);
        cursor = cursors.size() - 1;
      }
      stack.push_back(Frame{cursor, numRegions}); // invalidates f and c
      stack.back().ownsCursor = cursor != stack[stack.size() - 2].cursor;
      continue;
    }
    if (f.inRegion && f.blocksLeft > 0) {
      --f.blocksLeft;
      if (!blockHeader(c, f))
        return take(c);
      continue;
    }
    if (f.inRegion) {
      // The region is complete: the reader reserved `declared` values.
      if (f.declared != ~uint64_t(0) && f.declared > f.defined) {
        Cursor at(file + f.regionOffset, file + size, file, "IR");
        return failAt(at, "a region declares " + llvm::Twine(f.declared) +
                              " values but defines " + llvm::Twine(f.defined) +
                              " (MLIR 22's bytecode reader would allocate "
                              "for them)");
      }
      f.inRegion = false;
    }
    if (f.regionsLeft > 0) {
      --f.regionsLeft;
      f.regionOffset = c.offset();
      uint64_t numBlocks;
      if (!c.count(numBlocks, "region block"))
        return take(c);
      if (numBlocks == 0)
        continue;
      uint64_t numValues;
      if (!c.count(numValues, "region value"))
        return take(c);
      f.inRegion = true;
      f.blocksLeft = numBlocks - 1;
      f.declared = numValues;
      f.defined = 0;
      if (!blockHeader(c, f))
        return take(c);
      continue;
    }
    // Every region of the op is read: back to its parent's cursor.
    if (f.ownsCursor)
      cursors.pop_back();
    stack.pop_back();
  }
  return true;
}

std::optional<Failure> Walker::run() {
  Cursor c(file, file + size, file, "header");
  // Magic "ML\xEFR" (checked by the caller), version, producer.
  if (!c.skip(4) || !c.varint(version))
    return c.failure;
  if (version > bytecode::kVersion)
    return std::nullopt; // the reader refuses it before reading anything
  const void *nul = std::memchr(file + c.offset(), 0, c.left());
  if (!nul)
    return c.fail("the producer string has no NUL"), c.failure;
  c.skip(static_cast<const uint8_t *>(nul) - (file + c.offset()) + 1);

  std::optional<Cursor> sections[Section::kNumSections];
  while (!c.empty()) {
    uint8_t id;
    Cursor inner = c;
    if (!c.section(id, inner, "?"))
      return c.failure;
    if (sections[id])
      return c.fail("a second " + llvm::Twine(sectionName(id)) + " section"),
             c.failure;
    sections[id] = inner;
  }
  // Name each section's cursor for its messages.
  for (unsigned id = 0; id < Section::kNumSections; ++id)
    if (sections[id]) {
      Cursor &s = *sections[id];
      s = Cursor(file + s.offset(), file + s.offset() + s.left(), file,
                 sectionName(id));
    }
  // A missing section is the reader's error (it reads none of them then).
  if (!sections[Section::kString] || !sections[Section::kDialect] ||
      !sections[Section::kAttrType] || !sections[Section::kAttrTypeOffset] ||
      !sections[Section::kIR])
    return std::nullopt;
  if (!walkStrings(*sections[Section::kString]) ||
      (sections[Section::kProperties] &&
       !walkProperties(*sections[Section::kProperties])) ||
      !walkDialects(*sections[Section::kDialect]) ||
      !walkAttrTypeOffsets(*sections[Section::kAttrTypeOffset],
                           *sections[Section::kAttrType]) ||
      !walkIR(*sections[Section::kIR]))
    return failure;
  return std::nullopt;
}

} // namespace

std::optional<ParserHazard> qat::findBytecodeHazard(llvm::StringRef bytes) {
  if (!bytes.starts_with("ML\xef"
                         "R"))
    return std::nullopt;
  Walker walker(reinterpret_cast<const uint8_t *>(bytes.data()), bytes.size());
  std::optional<Failure> failure = walker.run();
  if (!failure)
    return std::nullopt;
  return ParserHazard{failure->offset, failure->message};
}
