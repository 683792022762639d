"""Compiled scanner of NTU ``.skeleton`` bytes: tokens, structure checks and exactly rounded numbers (numba).

``scan_ntu`` accepts only plain regular syntax and gives up (-1) on anything else without saying why; the
token-by-token parser then decides, and names the line and reason of a real error. Plain syntax: tokens split by
spaces, CRs and LFs only (CRLF and LF line ends both work), every line starting with its first token, no blank
line before the last token, counts and body ids as digit strings, numbers as ``[+-]digits[.digits][e[+-]digits]``.
Numbers are converted by Clinger's fast path: with a decimal mantissa <= 2**53 and a decimal exponent within
+-22, one float64 multiply or divide by an exact power of ten gives the correctly rounded double, the one Python's
``float`` gives; longer mantissas, larger exponents, ``inf`` or ``nan`` make it give up.

Speed (about 0.5 ms for a 360 KB file): a byte-by-byte loop mispredicts a branch at the end of every token, and
the next token waits for it. Here a first pass builds a bitmap of token starts eight bytes at a time (SWAR: bit
tricks on 64-bit words), and the second walks that bitmap and converts each number with 8-digits-at-once
arithmetic, without data-dependent branches in the common case, so tokens no longer wait for each other.
The helpers take the address of the bytes, not the array, so no reference counting happens per token.
Little-endian machines only (x86-64, arm64). Compiled on first use and cached next to this file (cache=True):
about 3 s once, then about 0.3 s per fresh process, most of it importing numba.
"""

from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

_U = np.uint64
_U0, _U1, _U3, _U4, _U7, _U8, _U10, _U16, _U32, _U56, _U63 = (_U(v) for v in (0, 1, 3, 4, 7, 8, 10, 16, 32, 56, 63))
_HIGH, _LOW7 = _U(0x8080808080808080), _U(0x7F7F7F7F7F7F7F7F)  # the high bit, the low 7 bits of each byte lane
_SPACES, _CRS, _LFS, _ZEROS = (_U(0x0101010101010101 * byte) for byte in (32, 13, 10, 48))  # a byte in all 8 lanes
_DIGIT_OVER = _U(0x7676767676767676)  # a lane holding d = byte - '0' gets its high bit from d + 0x76 when d > 9
_GATHER = _U(0x0102040810204080)  # multiplying lane low bits by this gathers them into the top byte
_PAIR_MASK, _PAIR_MUL1, _PAIR_MUL2 = _U(0x000000FF000000FF), _U(0x000F424000000064), _U(0x0000271000000001)
_LOW32 = _U(0xFFFFFFFF)
_POW10 = np.array([float(10**k) for k in range(23)])  # [23] 1e0 .. 1e22, all exact in float64
_POW10_INT = np.array([10**k for k in range(19)], dtype=np.uint64)  # [19]
_MAX_MANTISSA = _U(2**53)  # every integer up to here is exact in float64
SPACE, CR, LF = 32, 13, 10
PAD = 128  # spaces after the data, so that 8-byte loads never pass the end and the bitmap covers whole words


@intrinsic
def _load8(typingctx, address, pos):
    """The 8 bytes at address + pos as one little-endian uint64 (an unaligned load; no bounds check)."""

    def codegen(context, builder, signature, args):
        pointer = builder.inttoptr(builder.add(args[0], args[1]), ir.IntType(64).as_pointer())
        return builder.load(pointer, align=1, typ=ir.IntType(64))

    return types.uint64(types.intp, types.intp), codegen


@intrinsic
def _byte(typingctx, address, pos):
    """The byte at address + pos (no bounds check)."""

    def codegen(context, builder, signature, args):
        pointer = builder.inttoptr(builder.add(args[0], args[1]), ir.IntType(8).as_pointer())
        return builder.load(pointer, typ=ir.IntType(8))

    return types.uint8(types.intp, types.intp), codegen


@intrinsic
def _ctz(typingctx, value):
    """Trailing zero bits of a uint64 (64 for zero)."""

    def codegen(context, builder, signature, args):
        return builder.cttz(args[0], ir.Constant(ir.IntType(1), 0))

    return types.uint64(types.uint64), codegen


@intrinsic
def _popcount(typingctx, value):
    """Set bits of a uint64."""

    def codegen(context, builder, signature, args):
        return builder.ctpop(args[0])

    return types.uint64(types.uint64), codegen


@numba.njit(cache=True, nogil=True)
def _nonzero_lanes(lanes):
    """High bit set in each byte lane of a uint64 that is not zero (exact: no carries between lanes)."""
    return ((lanes & _LOW7) + _LOW7) | lanes


@numba.njit(cache=True, nogil=True)
def _token_starts(address, size):
    """(bitmap, LF count) of the size bytes at address (size a multiple of 64): bit i of word w is set when byte
    64 w + i is a token byte (not a space, CR or LF) after a separator, or byte 0 is a token byte."""
    words = np.empty(size // 64, dtype=np.uint64)  # [W]
    previous, line_feeds = _U0, _U0  # whether the last byte of the previous word is a token byte
    for w in range(words.size):
        token = _U0  # bit i: byte 64 w + i is a token byte
        for lane in range(8):
            x = _load8(address, 64 * w + 8 * lane)
            space, cr, lf = _nonzero_lanes(x ^ _SPACES), _nonzero_lanes(x ^ _CRS), _nonzero_lanes(x ^ _LFS)
            token |= ((((space & cr & lf & _HIGH) >> _U7) * _GATHER) >> _U56) << _U(8 * lane)
            line_feeds += _popcount(~lf & _HIGH)
        words[w] = token & ~((token << _U1) | previous)
        previous = token >> _U63
    return words, np.int64(line_feeds)


@numba.njit(cache=True, nogil=True)
def _eight_digits(address, pos):
    """(value, count) of the run of decimal digits at pos, looking at 8 bytes only: count 8 means "8 or more"."""
    digits = _load8(address, pos) - _ZEROS  # [8 lanes] byte - '0'; lanes after a non-digit may be garbage
    run = _ctz(((digits + _DIGIT_OVER) | digits) & _HIGH) >> _U3  # digits before the first non-digit, 0..8
    half = (_U8 - run) * _U4  # shift the run to the top lanes (in two steps: a 64-bit shift is undefined)
    lanes = (digits << half) << half  # [8 lanes] the run's digits, zeros before them
    lanes = lanes * _U10 + (lanes >> _U8)  # pairs of digits
    lanes = (((lanes & _PAIR_MASK) * _PAIR_MUL1 + ((lanes >> _U16) & _PAIR_MASK) * _PAIR_MUL2) >> _U32) & _LOW32
    return lanes, np.int64(run)


@numba.njit(cache=True, nogil=True)
def _digit_run(address, pos):
    """(value, count) of the whole run of decimal digits at pos; value is exact while count <= 18."""
    value, count = _eight_digits(address, pos)
    while count % 8 == 0 and 0 < count < 19:  # the last 8 bytes were all digits: the run may go on
        more, run = _eight_digits(address, pos + count)
        value = value * _POW10_INT[run] + more
        count += run
        if run < 8:
            break
    return value, count


@numba.njit(cache=True, nogil=True)
def _ends_token(address, pos):
    """Whether the byte at pos is a space, CR or LF."""
    byte = _byte(address, pos)
    return (byte == SPACE) | (byte == CR) | (byte == LF)


@numba.njit(cache=True, nogil=True, inline="always")  # LLVM would not inline it: a call per token
def _number(address, pos):
    """(value, ok) of the number token at pos, for ``[+-]digits[.digits]`` with at most 7 digits before the point
    and 16 after it; ok is False for anything else (``_number_general`` takes those).

    Single exit and no data-dependent branch but one (a fraction of 8 or more digits): a random sign or length
    would mispredict.
    """
    byte = _byte(address, pos)
    negative = byte == 45  # '-'
    start = pos + (np.int64(negative) | np.int64(byte == 43))  # after a '-' or '+'
    whole, whole_digits = _eight_digits(address, start)
    point = start + whole_digits
    after_point = point + np.int64(_byte(address, point) == 46)  # no '.': the next run is empty (a non-digit)
    fraction, fraction_digits = _eight_digits(address, after_point)
    if fraction_digits == 8:
        more, more_digits = _eight_digits(address, after_point + 8)
        fraction = fraction * _POW10_INT[more_digits] + more
        fraction_digits += more_digits
    digits = whole_digits + fraction_digits
    mantissa = whole * _POW10_INT[fraction_digits] + fraction  # exact for digits <= 18 (< 10**18), else ignored
    ok = (
        _ends_token(address, after_point + fraction_digits) & (whole_digits < 8)  # 8: the whole part may go on
        & (digits > 0) & (digits <= 18) & (mantissa <= _MAX_MANTISSA)
    )
    value = float(np.int64(mantissa)) / _POW10[fraction_digits]  # correctly rounded: one exact-operand division
    return (-value if negative else value), ok


@numba.njit(cache=True, nogil=True)
def _number_general(address, pos):
    """``_number`` for any length and an exponent: exact for a mantissa <= 2**53 and a power of ten within +-22."""
    negative = _byte(address, pos) == 45
    pos += np.int64(negative) | np.int64(_byte(address, pos) == 43)
    whole, whole_digits = _digit_run(address, pos)
    pos += whole_digits
    pos += np.int64(_byte(address, pos) == 46)
    fraction, fraction_digits = _digit_run(address, pos)
    pos += fraction_digits
    digits, power = whole_digits + fraction_digits, -fraction_digits
    if _byte(address, pos) == 101 or _byte(address, pos) == 69:  # 'e' or 'E'
        pos += 1
        negative_exponent = _byte(address, pos) == 45
        pos += np.int64(negative_exponent) | np.int64(_byte(address, pos) == 43)
        exponent, exponent_digits = _digit_run(address, pos)
        pos += exponent_digits
        if exponent_digits == 0 or exponent_digits > 4:
            return 0.0, False
        power += -np.int64(exponent) if negative_exponent else np.int64(exponent)
    if digits == 0 or digits > 18 or power > 22 or power < -22 or not _ends_token(address, pos):
        return 0.0, False
    mantissa = whole * _POW10_INT[fraction_digits] + fraction
    if mantissa > _MAX_MANTISSA:
        return 0.0, False
    value = float(mantissa) * _POW10[max(power, 0)] / _POW10[max(-power, 0)]  # one of the two is 1: one rounding
    return (-value if negative else value), True


@numba.njit(cache=True, nogil=True)
def _count(address, pos):
    """The count token at pos (a digit string of at most 9 digits), or -1."""
    value, digits = _digit_run(address, pos)
    return np.int64(value) if 0 < digits <= 9 and _ends_token(address, pos + digits) else -1


@numba.njit(cache=True, nogil=True)
def _next_token(starts, word, bits):
    """(start of the next token, or -1 at the end; word; bits): one step of the iterator over the bitmap, whose
    state is the current word index and its bits not yet taken (start with word -1, bits 0)."""
    while bits == 0:
        word += 1
        if word >= starts.size:
            return -1, word, bits
        bits = starts[word]
    return 64 * word + np.int64(_ctz(bits)), word, bits & (bits - _U1)


@numba.njit(cache=True, nogil=True)
def _number_any(address, pos):
    """(value, ok) of the number token at pos by ``_number``, else by ``_number_general``."""
    value, ok = _number(address, pos)
    if not ok:
        value, ok = _number_general(address, pos)
    return value, ok


@numba.njit(cache=True, nogil=True)
def _joint_lines(address, starts, word, bits, out, general):
    """Read the next out.shape[0] lines of out.shape[1] numbers each into out [J, F], taking tokens from the bitmap
    iterator (word, bits), and check that each line's first number follows an LF (that no other token does is
    left to the LF count). Returns (status, last token start, word, bits); status 0, or -1 for irregular syntax,
    or -2 for a number that needs ``_number_general`` (only when general is False: the caller passes literal False,
    so that this hot loop holds no call to it, and True to read the same lines again when it gets -2)."""
    pos = -1
    for j in range(out.shape[0]):
        for f in range(out.shape[1]):
            pos, word, bits = _next_token(starts, word, bits)
            if pos < 0 or (f == 0 and _byte(address, pos - 1) != LF):
                return -1, pos, word, bits
            value, ok = _number(address, pos)
            if not ok and general:
                value, ok = _number_general(address, pos)
            if not ok:
                return (-1 if general else -2), pos, word, bits
            out[j, f] = value
    return 0, pos, word, bits


@numba.njit(cache=True, nogil=True)
def _walk(address, starts, line_feeds, occ_frame, id_span, body_values, joint_values):
    """Walk the token starts in file order, checking the structure and filling the arrays: (frames, K), or
    (-1, 0) for irregular syntax.

    A line's first token must follow an LF. That no other token does, and that no line is blank, follows from the
    count of LFs before the last token, which must be lines - 1: each line's first token takes one of them.
    """
    capacity, joint_count, joint_fields = joint_values.shape
    pos, word, bits = _next_token(starts, -1, _U0)
    frames = _count(address, pos) if pos == 0 else -1
    if frames < 0:
        return -1, 0
    lines, k = 1, 0
    for t in range(frames):
        pos, word, bits = _next_token(starts, word, bits)
        bodies = _count(address, pos) if pos > 0 and _byte(address, pos - 1) == LF else -1
        if bodies < 0:
            return -1, 0
        lines += 1
        first = k
        for _ in range(bodies):
            pos, word, bits = _next_token(starts, word, bits)
            if k == capacity or pos <= 0 or _byte(address, pos - 1) != LF:
                return -1, 0
            _, id_digits = _digit_run(address, pos)
            end = pos + id_digits
            if id_digits == 0 or not _ends_token(address, end):
                return -1, 0  # not a digit-string body id
            for other in range(first, k):
                other_start, other_end = id_span[other, 0], id_span[other, 1]
                if other_end - other_start == id_digits:
                    same = True
                    for i in range(id_digits):
                        same &= _byte(address, pos + i) == _byte(address, other_start + i)
                    if same:
                        return -1, 0  # one body id twice in a frame
            id_span[k, 0], id_span[k, 1] = pos, end
            for f in range(body_values.shape[1]):
                pos, word, bits = _next_token(starts, word, bits)
                value, ok = _number_any(address, pos) if pos >= 0 else (0.0, False)
                if not ok:
                    return -1, 0
                body_values[k, f] = value
            pos, word, bits = _next_token(starts, word, bits)
            if pos <= 0 or _byte(address, pos - 1) != LF or _count(address, pos) != joint_count:
                return -1, 0
            status, pos, next_word, next_bits = _joint_lines(address, starts, word, bits, joint_values[k], False)
            if status == -2:  # a number beyond the fast conversion: read the lines again with the general one
                status, pos, next_word, next_bits = _joint_lines(address, starts, word, bits, joint_values[k], True)
            if status < 0:
                return -1, 0
            word, bits = next_word, next_bits
            for j in range(joint_count):
                state = joint_values[k, j, joint_fields - 1]
                if not (state == 0.0 or state == 1.0 or state == 2.0):
                    return -1, 0
            lines += 2 + joint_count
            occ_frame[k] = t
            k += 1
    last = pos
    if _next_token(starts, word, bits)[0] >= 0:
        return -1, 0  # data after the last frame
    for i in range(last, 64 * starts.size):  # LFs after the last token: only whitespace follows it
        line_feeds -= np.int64(_byte(address, i) == LF)
    return (frames, k) if line_feeds == lines - 1 else (-1, 0)


@numba.njit(cache=True, nogil=True)
def _scan_padded(buf, occ_frame, id_span, body_values, joint_values):
    """``scan_ntu`` on the padded bytes."""
    address = buf.ctypes.data
    starts, line_feeds = _token_starts(address, buf.size)
    return _walk(address, starts, line_feeds, occ_frame, id_span, body_values, joint_values)


def scan_ntu(data: bytes, occ_frame, id_span, body_values, joint_values) -> tuple[int, int]:
    """Scan a whole NTU file and fill the arrays for its K body occurrences; returns (frames, K), or (-1, 0) when
    the file is not plain regular syntax (or holds more occurrences than the arrays' capacity).

    data: the file bytes. Filled: occ_frame int64 [capacity] (frame of each occurrence), id_span int64
    [capacity, 2] (byte start and end of its body id in data), body_values float64 [capacity, B] (the B fields
    after the id), joint_values float64 [capacity, J, F] (J joint lines of F fields; the last field is the
    tracking state, checked to be 0, 1 or 2; J is also the joint count the file must state).
    """
    padded = np.frombuffer(data + b" " * (PAD - len(data) % 64), dtype=np.uint8)  # [64 W] >= len(data) + 64
    return _scan_padded(padded, occ_frame, id_span, body_values, joint_values)
