#!/usr/bin/python3
"""dyesub.py - read back what a Gutenprint dye-sub queue sends to the printer.

Why: the agent's colour promise ends at the printer's input, not at its print
file. A Gutenprint queue (tests/jobs/fleet.py GutenprintCups) writes the
printer data stream of a DNP DS620 or Mitsubishi CP-D90DW to a file; this
module turns that stream back into the image the printer is told to print,
so a test compares it pixel by pixel with what the agent rendered. It also
decodes a JPEG the same way CUPS does (libjpeg, through the `vips` CLI of
libvips-tools), writes a test JPEG with an exact 300 dpi JFIF header, and
makes a test chart. Standard library only; it never guesses: a stream it
does not know is a DecodeError, with the reason.

The layouts (../shared/design/TEST-PEERS-gutenprint.md, seen with Gutenprint
5.3.4; a stream's raster is stored row after row, "cols" bytes or pixels a row):

  DNP DS620   32-byte commands: ESC P, a 22-character name, 8 ASCII digits
              (the payload length), the payload; "CNTRL START" (no payload)
              ends the page. IMAGE YPLANE / MPLANE / CPLANE hold the B, G, R
              values (255 = white, not inverted) as 8-bit BMPs.
  CP-D90      a 512-byte job header (ESC S P 0 0x00 0x33, cols, rows big-endian),
              a 512-byte plane header (ESC Z T 0x01, cols and rows again at
              10), cols x rows packed RGB, the trailer ESC B Q 1 0x00 0x05.

Where pixel (x, y) of the portrait image sent (the PPD's imageable area at
300 dpi) lies in the raster, by model and raster size (LAYOUTS): 4x6 is
printed across the head (rotated), 5x7 and 6x8 along it (mirrored on the
DS620); the rest of the raster is the white bleed Gutenprint adds.
"""

import math
import os
import random
import shutil
import struct
import subprocess
import tempfile


class DecodeError(ValueError):
    """A printer data stream this module cannot read (truncated, garbage, unknown layout)."""


# (model, raster cols, raster rows) -> (page, width, height, row(x, y), col(x, y)) with
# row and col as coefficients (of x, of y, constant): the raster pixel of image pixel (x, y).
LAYOUTS = {
    # PPD w288h432: 1240x1920 page, imageable 0 9.12 297.6 451.68 pt.
    ("dnp-ds620", 1920, 1240): ("w288h432", 1240, 1844, (1, 0, 0), (0, 1, 38)),
    # PPD w360h504: 1920x2138 page, imageable 44.64 0 416.16 513.12 pt.
    ("dnp-ds620", 1920, 2138): ("w360h504", 1548, 2138, (0, 1, 0), (-1, 0, 1733)),
    # PPD w288h432: 1226x1852, no margins.
    ("mitsubishi-d90dw", 1852, 1226): ("w288h432", 1226, 1852, (1, 0, 0), (0, -1, 1851)),
    # PPD w360h504: 372x510.72 pt, no margins; imagetoraster makes it 1550x2127 (it
    # rounds 2128.0 down), Gutenprint adds one white row.
    ("mitsubishi-d90dw", 1550, 2128): ("w360h504", 1550, 2127, (0, 1, 0), (1, 0, 0)),
    # PPD w432h576: 1920x2436 page, imageable 9.12 0 451.68 584.64 pt.
    ("dnp-ds620", 1920, 2436): ("w432h576", 1844, 2436, (0, 1, 0), (-1, 0, 1881)),
    # PPD w432h576: 444.48x582.72 pt, no margins; as 5x7, imagetoraster fills 2427 of the
    # 2428 rows and Gutenprint adds one white row.
    ("mitsubishi-d90dw", 1852, 2428): ("w432h576", 1852, 2427, (0, 1, 0), (1, 0, 0)),
}

DS620_COMMAND = 32  # ESC P + name (22) + length (8)
DS620_MAX_COMMANDS = 64  # a page has about 8
DS620_PLANES = {b"IMAGE YPLANE": 2, b"IMAGE MPLANE": 1, b"IMAGE CPLANE": 0}  # -> R G B index
D90_MAGIC = b"\x1bSP0\x00\x33"
D90_PLANE_MAGIC = b"\x1bZT\x01"
D90_TRAILER = b"\x1bBQ1\x00\x05"
D90_HEADER = 1024  # job header + plane header


class Stream:
    """One page of a printer data stream, parsed: model ("dnp-ds620" or
    "mitsubishi-d90dw"), cols and rows of its raster, params (DS620: {command name:
    payload text}, e.g. {"CNTRL QTY": "0000001", "IMAGE MULTICUT": "00000002"}; D90:
    {"overcoat", "color_correction_off", "sharpen"} from the job header) and channels:
    [(buffer, offset, stride)] for R, G, B: raster pixel p of channel c is
    buffer[offset + p * stride]."""

    def __init__(self, model, cols, rows, params, channels):
        self.model, self.cols, self.rows = model, cols, rows
        self.params, self.channels = params, channels

    def layout(self):
        """(page, width, height, row coefficients, col coefficients) of LAYOUTS."""
        key = (self.model, self.cols, self.rows)
        if key not in LAYOUTS:
            raise DecodeError("%s raster %dx%d: no known page layout (known: %s)"
                              % (self.model, self.cols, self.rows,
                                 ", ".join("%dx%d %s" % (k[1], k[2], v[0])
                                           for k, v in LAYOUTS.items() if k[0] == self.model)))
        return LAYOUTS[key]


def _ds620_bmp(payload, name):
    """An 8-bit BMP plane: (width, height, offset of the pixel data, row stride)."""
    if len(payload) < 54 or payload[:2] != b"BM":
        raise DecodeError("DS620 %s: not a BMP" % name)
    off = struct.unpack_from("<I", payload, 10)[0]
    dib, width, height, planes, bpp, compression = struct.unpack_from("<IiiHHI", payload, 14)
    if dib < 40 or width <= 0 or height <= 0 or planes != 1 or bpp != 8 or compression != 0:
        raise DecodeError("DS620 %s: unsupported BMP (header %d, %dx%d, %d bpp, compression %d)"
                          % (name, dib, width, height, bpp, compression))
    stride = (width + 3) & ~3
    if off < 54 or off + stride * height > len(payload):
        raise DecodeError("DS620 %s: %dx%d pixels from %d do not fit its %d bytes"
                          % (name, width, height, off, len(payload)))
    return width, height, off, stride


def parse_ds620(data):
    """A DNP DS620 stream -> Stream (DecodeError when it is not one)."""
    params, planes, i = {}, {}, 0
    for _ in range(DS620_MAX_COMMANDS):
        head = data[i:i + DS620_COMMAND]
        if len(head) < DS620_COMMAND:
            raise DecodeError("DS620: stream ends at byte %d inside a command (no CNTRL START)"
                              % i)
        if head[:2] != b"\x1bP":
            raise DecodeError("DS620: no ESC P command at byte %d (%r)" % (i, head[:8]))
        name = head[2:24].rstrip(b" ")
        if name == b"CNTRL START":
            if i + DS620_COMMAND != len(data):
                raise DecodeError("DS620: %d bytes after CNTRL START (a second page?)"
                                  % (len(data) - i - DS620_COMMAND))
            break
        if not head[24:32].isdigit():
            raise DecodeError("DS620: %s at byte %d: length %r is not 8 digits"
                              % (name.decode(errors="replace"), i, head[24:32]))
        n = int(head[24:32])
        payload = data[i + DS620_COMMAND:i + DS620_COMMAND + n]
        if len(payload) != n:
            raise DecodeError("DS620: %s at byte %d: %d payload bytes, %d left"
                              % (name.decode(errors="replace"), i, n, len(payload)))
        if name in DS620_PLANES:
            if name in planes:
                raise DecodeError("DS620: %s twice (more than one page?)" % name.decode())
            planes[name] = (i + DS620_COMMAND, _ds620_bmp(payload, name.decode()))
        else:
            params[name.decode(errors="replace")] = payload.decode(errors="replace").rstrip("\r")
        i += DS620_COMMAND + n
    else:
        raise DecodeError("DS620: no CNTRL START within %d commands" % DS620_MAX_COMMANDS)
    if len(planes) != 3:
        raise DecodeError("DS620: planes %s, want Y, M and C"
                          % sorted(p.decode() for p in planes))
    geometry = {bmp[:2] + bmp[3:] for _, bmp in planes.values()}
    if len(geometry) != 1:
        raise DecodeError("DS620: the planes differ in size: %s" % sorted(geometry))
    channels = [None] * 3
    for name, (start, (width, height, off, stride)) in planes.items():
        channels[DS620_PLANES[name]] = (data, start + off, 1)
    width, height, _, stride = next(iter(planes.values()))[1]
    if stride != width:
        raise DecodeError("DS620: padded BMP rows (%d of %d) are not supported" % (width, stride))
    return Stream("dnp-ds620", width, height, params, channels)


def parse_d90(data):
    """A Mitsubishi CP-D90 stream -> Stream (DecodeError when it is not one)."""
    if len(data) < D90_HEADER or not data.startswith(D90_MAGIC):
        raise DecodeError("CP-D90: no job header (%d bytes, starts %r)" % (len(data), data[:6]))
    cols, rows = struct.unpack_from(">HH", data, 6)
    if data[512:516] != D90_PLANE_MAGIC or struct.unpack_from(">HH", data, 522) != (cols, rows):
        raise DecodeError("CP-D90: no plane header of %dx%d at byte 512 (%r)"
                          % (cols, rows, data[512:526]))
    end = D90_HEADER + cols * rows * 3
    if data[end:] != D90_TRAILER:
        raise DecodeError("CP-D90: %dx%d RGB from byte %d, then %r, want only the trailer %r"
                          " (%d bytes in all)" % (cols, rows, D90_HEADER, data[end:end + 8],
                                                  D90_TRAILER, len(data)))
    params = {"overcoat": data[0x30], "color_correction_off": data[0x32],
              "sharpen": (data[0x33], data[0x34])}
    channels = [(data, D90_HEADER + c, 3) for c in range(3)]
    return Stream("mitsubishi-d90dw", cols, rows, params, channels)


def parse(data):
    """A DS620 or CP-D90 stream (bytes) -> Stream."""
    if data.startswith(b"\x1bP"):
        return parse_ds620(data)
    if data.startswith(D90_MAGIC):
        return parse_d90(data)
    raise DecodeError("neither a DS620 (ESC P) nor a CP-D90 (ESC S P 0) stream: starts %r"
                      % bytes(data[:8]))


def decode(data):
    """A DS620 or CP-D90 stream -> (width, height, RGB bytes) of the portrait image the
    queue was sent (the PPD's imageable area), as LAYOUTS places it."""
    s = parse(data)
    _, width, height, row, col = s.layout()
    # raster pixel of (x, y) = row(x, y) * cols + col(x, y) = base + x * sx + y * sy
    sx = row[0] * s.cols + col[0]
    sy = row[1] * s.cols + col[1]
    base = row[2] * s.cols + col[2]
    for x, y in ((0, 0), (width - 1, 0), (0, height - 1), (width - 1, height - 1)):
        if not 0 <= base + x * sx + y * sy < s.cols * s.rows:  # a wrong LAYOUTS entry
            raise DecodeError("%s layout %dx%d: pixel (%d, %d) outside the %dx%d raster"
                              % (s.model, width, height, x, y, s.cols, s.rows))
    out = bytearray(width * height * 3)
    for c, (buf, off, stride) in enumerate(s.channels):
        step = sx * stride
        for y in range(height):
            start = off + (base + y * sy) * stride
            stop = start + width * step
            out[y * width * 3 + c:(y + 1) * width * 3:3] = \
                buf[start:stop if stop >= 0 else None:step]
    return width, height, bytes(out)


# ---------------------------------------------------------------- images

def read_ppm(data):
    """A binary PPM (P6, maxval 255; '#' comment lines, as vips writes one) -> (width,
    height, RGB bytes)."""
    fields, i = [], 2
    if data[:2] != b"P6":
        raise DecodeError("not a binary PPM (P6): starts %r" % bytes(data[:8]))
    while len(fields) < 3 and i < min(len(data), 4096):
        if data[i:i + 1] == b"#":
            nl = data.find(b"\n", i)
            i = len(data) if nl < 0 else nl + 1
        elif data[i:i + 1].isspace():
            i += 1
        else:
            j = i
            while j < len(data) and data[j:j + 1].isdigit():
                j += 1
            if j == i:
                raise DecodeError("PPM header: unexpected byte %r at %d" % (data[i:i + 1], i))
            fields.append(int(data[i:j]))
            i = j
    if len(fields) != 3 or fields[2] != 255:
        raise DecodeError("PPM header %r: want width, height and maxval 255" % fields)
    width, height = fields[:2]
    pixels = data[i + 1:i + 1 + width * height * 3]  # one whitespace byte after maxval
    if len(pixels) != width * height * 3:
        raise DecodeError("PPM %dx%d: %d pixel bytes" % (width, height, len(pixels)))
    return width, height, bytes(pixels)


def write_ppm(path, image):
    width, height, rgb = image
    with open(path, "wb") as f:
        f.write(b"P6\n%d %d\n255\n" % (width, height) + rgb)


def _vips(*args):
    if shutil.which("vips") is None:
        raise AssertionError("the vips CLI is missing: apt-get install libvips-tools "
                             "(a <!nocheck> Build-Depends)")
    out = subprocess.run(["vips"] + list(args), capture_output=True, text=True, timeout=120,
                         stdin=subprocess.DEVNULL)
    if out.returncode != 0:
        raise AssertionError("vips %s failed: %s" % (" ".join(args), out.stderr))


def decode_jpeg(path):
    """A JPEG file -> (width, height, RGB bytes), decoded by libjpeg as CUPS'
    imagetoraster decodes it (vips copy to a PPM)."""
    with tempfile.TemporaryDirectory(prefix="dyesub-") as tmp:
        ppm = os.path.join(tmp, "decoded.ppm")
        _vips("copy", path, ppm)
        with open(ppm, "rb") as f:
            return read_ppm(f.read())


def with_jfif(jpeg, dpi=300):
    """JPEG bytes with a JFIF APP0 of exactly dpi dots per inch right after SOI (an
    existing APP0 replaced). CUPS' imagetoraster opens only a JPEG whose second marker
    is an APPn, and resamples unless the density is the printer's: libvips writes
    --xres 11.811 (pixels per mm) as 299 dpi."""
    if jpeg[:2] != b"\xff\xd8":
        raise DecodeError("not a JPEG (no SOI)")
    rest = jpeg[2:]
    if rest[:2] == b"\xff\xe0":
        rest = rest[2 + struct.unpack_from(">H", rest, 2)[0]:]
    app0 = b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x01" + struct.pack(">HH", dpi, dpi) + b"\x00\x00"
    return jpeg[:2] + app0 + rest


def write_jpeg(path, image, dpi=300, quality=95):
    """image (width, height, RGB) -> a baseline JPEG file with a JFIF header at dpi and
    nothing else (libvips, metadata stripped)."""
    with tempfile.TemporaryDirectory(prefix="dyesub-") as tmp:
        ppm, jpg = os.path.join(tmp, "in.ppm"), os.path.join(tmp, "out.jpg")
        write_ppm(ppm, image)
        _vips("jpegsave", ppm, jpg, "--Q", str(quality), "--strip")
        with open(jpg, "rb") as f:
            data = f.read()
    with open(path, "wb") as f:
        f.write(with_jfif(data, dpi))


def _segments(jpeg):
    """The marker segments of a JPEG before its scan: [(marker byte, start, end)]."""
    if jpeg[:2] != b"\xff\xd8":
        raise DecodeError("not a JPEG (no SOI)")
    out, i = [], 2
    while i + 4 <= len(jpeg) and jpeg[i] == 0xFF and jpeg[i + 1] != 0xDA:
        end = i + 2 + struct.unpack_from(">H", jpeg, i + 2)[0]
        out.append((jpeg[i + 1], i, end))
        i = end
    if jpeg[i:i + 2] != b"\xff\xda":
        raise DecodeError("JPEG: no scan after the marker segments (byte %d)" % i)
    return out


def without_app_markers(jpeg):
    """JPEG bytes with every APPn segment (JFIF, EXIF, ICC, ...) removed, the image data
    untouched: SOI is followed directly by DQT, which CUPS' imagetoraster refuses to open
    ("The print file could not be opened.")."""
    keep = bytearray(jpeg[:2])
    last = 2
    for marker, start, end in _segments(jpeg):
        if 0xE0 <= marker <= 0xEF:
            keep += jpeg[last:start]
            last = end
    return bytes(keep + jpeg[last:])


def with_exif_orientation(jpeg, orientation):
    """JPEG bytes whose EXIF (APP1) is replaced by one holding only the Orientation tag
    (1-8; 6: the stored image is shown turned 90 degrees clockwise), after any JFIF APP0."""
    tiff = (b"MM\x00\x2a\x00\x00\x00\x08" + b"\x00\x01"
            + b"\x01\x12\x00\x03\x00\x00\x00\x01" + struct.pack(">H", orientation) + b"\x00\x00"
            + b"\x00\x00\x00\x00")
    app1 = b"\xff\xe1" + struct.pack(">H", 2 + 6 + len(tiff)) + b"Exif\x00\x00" + tiff
    out, last, at = bytearray(), 0, 2
    for marker, start, end in _segments(jpeg):
        if marker == 0xE1 and jpeg[start + 4:start + 10] == b"Exif\x00\x00":
            out += jpeg[last:start]
            last = end
        elif marker == 0xE0 and start == 2:
            at = end
    rest = bytes(out + jpeg[last:])  # offsets before `at` are unchanged (APP0 comes first)
    return rest[:at] + app1 + rest[at:]


def photo(path, width=3000, height=2000, profile=None, orientation=1, seed=1, quality=92):
    """A photo-like JPEG master at path: a landscape (a sky graded to the horizon, a sun,
    hills, saturated houses with hard edges) drawn at a quarter of the size, enlarged
    (bicubic), with a perlin texture and film grain; the ICC profile file embedded and
    the EXIF orientation set. Deterministic in seed (and the vips version)."""
    rng = random.Random(seed)
    w, h = width // 4, height // 4
    horizon = h * 3 // 5
    sky = [bytes((40 + 60 * y // horizon, 90 + 80 * y // horizon, 200 + 40 * y // horizon))
           for y in range(horizon)]
    rows = [bytearray(row * w) for row in sky] + [bytearray(w * 3) for _ in range(h - horizon)]
    hills = [horizon - int(h / 8 * (0.5 + 0.5 * math.sin(x / w * 7 + seed)))
             for x in range(w)]
    for x in range(w):
        for y in range(hills[x], h):
            shade = 60 + 100 * (y - hills[x]) // max(h - hills[x], 1)
            rows[y][3 * x:3 * x + 3] = bytes((shade // 3, shade, shade // 4))
    sun = (w * 3 // 4, h // 5, h // 12)
    for y in range(sun[1] - sun[2], sun[1] + sun[2]):
        for x in range(sun[0] - sun[2], sun[0] + sun[2]):
            if (x - sun[0]) ** 2 + (y - sun[1]) ** 2 <= sun[2] ** 2:
                rows[y][3 * x:3 * x + 3] = b"\xff\xf0\xa0"
    for _ in range(6):  # houses: saturated walls, dark windows
        hw, hh = rng.randrange(w // 14, w // 7), rng.randrange(h // 10, h // 5)
        x0, y1 = rng.randrange(0, w - hw), rng.randrange(horizon, h)
        wall = bytes(rng.choice(((220, 30, 30), (30, 60, 200), (240, 200, 20), (20, 160, 60))))
        for y in range(max(y1 - hh, 0), y1):
            rows[y][3 * x0:3 * (x0 + hw)] = wall * hw
            if (y - y1) % 12 < 5:
                for x in range(x0 + 3, x0 + hw - 3, 10):
                    rows[y][3 * x:3 * x + 12] = b"\x18\x18\x28" * 4
    with tempfile.TemporaryDirectory(prefix="dyesub-") as tmp:
        t = lambda name: os.path.join(tmp, name)  # noqa: E731
        write_ppm(t("scene.ppm"), (w, h, b"".join(rows)))
        _vips("resize", t("scene.ppm"), t("big.v"), str(width / w), "--kernel", "cubic")
        _vips("perlin", t("p.v"), str(width), str(height), "--cell-size", "40", "--seed",
              str(seed))
        _vips("linear", t("p.v"), t("texture.v"), "24", "0")
        _vips("gaussnoise", t("grain.v"), str(width), str(height), "--sigma", "4")
        _vips("add", t("big.v"), t("texture.v"), t("a.v"))
        _vips("add", t("a.v"), t("grain.v"), t("b.v"))
        _vips("cast", t("b.v"), t("c.v"), "uchar")
        _vips("copy", t("c.v"), t("d.v"), "--interpretation", "srgb")
        _vips("jpegsave", t("d.v"), t("out.jpg"), "--Q", str(quality),
              *(["--profile", profile] if profile else []))
        with open(t("out.jpg"), "rb") as f:
            data = f.read()
    with open(path, "wb") as f:
        f.write(with_exif_orientation(data, orientation))


def chart(width, height, seed=1):
    """A deterministic test image (width, height, RGB): red rises left to right, green
    top to bottom, blue along diagonals, all with 4 bits of noise, and a band of full
    noise across the middle: no two neighbours alike, so a shift, a flip or a resample
    changes pixels."""
    rng = random.Random(seed)
    red = bytes(x * 255 // max(width - 1, 1) for x in range(width))
    diagonal = bytes((k * 7 // 5) % 256 for k in range(width + 3 * height))
    rows = bytearray(width * height * 3)
    for y in range(height):
        row = bytearray(width * 3)
        row[0::3] = red
        row[1::3] = bytes([y * 255 // max(height - 1, 1)]) * width
        row[2::3] = diagonal[3 * y:3 * y + width]
        rows[y * width * 3:(y + 1) * width * 3] = row
    low = bytes(i & 0x0F for i in range(256))
    noise = rng.randbytes(len(rows)).translate(low)
    n = len(rows)
    mixed = (int.from_bytes(rows, "big") ^ int.from_bytes(noise, "big")).to_bytes(n, "big")
    band = slice((height // 2 - height // 20) * width * 3, (height // 2 + height // 20) * width * 3)
    mixed = bytearray(mixed)
    mixed[band] = rng.randbytes(band.stop - band.start)
    return width, height, bytes(mixed)


def crop(image, x, y, width, height):
    """The width x height part of image from (x, y)."""
    w, h, rgb = image
    if x < 0 or y < 0 or x + width > w or y + height > h:
        raise ValueError("crop %dx%d+%d+%d outside %dx%d" % (width, height, x, y, w, h))
    return width, height, b"".join(rgb[((y + r) * w + x) * 3:((y + r) * w + x + width) * 3]
                                   for r in range(height))


def compare(a, b):
    """The number of pixels that differ between two images of the same size."""
    if a[:2] != b[:2]:
        raise ValueError("sizes differ: %dx%d and %dx%d" % (a[0], a[1], b[0], b[1]))
    n = len(a[2])
    if len(b[2]) != n or n != a[0] * a[1] * 3:
        raise ValueError("pixel data of %d and %d bytes for %dx%d" % (n, len(b[2]), a[0], a[1]))
    if a[2] == b[2]:
        return 0
    x = (int.from_bytes(a[2], "big") ^ int.from_bytes(b[2], "big")).to_bytes(n, "big")
    # a pixel differs when any of its three bytes does
    per_pixel = (int.from_bytes(x[0::3], "big") | int.from_bytes(x[1::3], "big")
                 | int.from_bytes(x[2::3], "big")).to_bytes(n // 3, "big")
    return n // 3 - per_pixel.count(0)


def first_difference(a, b):
    """(x, y, pixel of a, pixel of b) of the first differing pixel, or None (same sizes)."""
    width, _, pa = a
    pb = b[2]
    for i in range(0, min(len(pa), len(pb)), 3 * width):  # row by row, then within the row
        if pa[i:i + 3 * width] != pb[i:i + 3 * width]:
            for j in range(i, i + 3 * width, 3):
                if pa[j:j + 3] != pb[j:j + 3]:
                    p = j // 3
                    return p % width, p // width, tuple(pa[j:j + 3]), tuple(pb[j:j + 3])
    return None
