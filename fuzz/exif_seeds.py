#!/usr/bin/env python3
# EXIF blocks with maker notes, the seeds fuzz/corpus/exif/mnote-*.exif of fuzz_exif.c (run in
# that folder): a Make that libexif recognises, a DateTimeOriginal and a MakerNote holding a
# small IFD as the vendors lay it out (Canon bare, Olympus/Pentax/Fuji/Apple behind their
# headers). exiftool -v1 reads each as that vendor's maker note.
import struct
def ifd(entries, base, le=False):
    # entries: (tag, type, count, bytes); values over 4 bytes after the IFD, offsets from TIFF start = base
    e = '<' if le else '>'
    n = len(entries); head = struct.pack(e+'H', n); body = b''; data = b''
    dstart = base + 2 + 12*n + 4
    for tag, typ, cnt, val in entries:
        if len(val) <= 4:
            body += struct.pack(e+'HHI', tag, typ, cnt) + val.ljust(4, b'\0')
        else:
            body += struct.pack(e+'HHI', tag, typ, cnt) + struct.pack(e+'I', dstart + len(data))
            data += val + (b'\0' if len(val) % 2 else b'')
    return head + body + struct.pack(e+'I', 0) + data
def block(make, note, le=False):
    e = '<' if le else '>'
    hdr = (b'II*\0' if le else b'MM\0*') + struct.pack(e+'I', 8)
    mk = make + b'\0'
    # IFD0: Make, ExifIFD pointer; then Exif IFD: DateTimeOriginal, MakerNote
    i0_len = 2 + 12*2 + 4 + len(mk) + (len(mk) % 2)
    exif_off = 8 + i0_len
    i0 = ifd([(0x010f, 2, len(mk), mk), (0x8769, 4, 1, struct.pack(e+'I', exif_off))], 8, le)
    dt = b'2024:06:01 12:00:05\0'
    ex = ifd([(0x9003, 2, len(dt), dt), (0x927c, 7, len(note), note)], exif_off, le)
    return hdr + i0 + ex
def note_ifd(base, le=False, entries=None):
    e = '<' if le else '>'
    entries = entries or [(0x0001, 3, 2, struct.pack(e+'HH', 4, 1)), (0x0006, 2, 8, b'IMG:EOS\0'),
                          (0x000c, 4, 1, struct.pack(e+'I', 123456))]
    return ifd(entries, base, le)
# the maker note starts after: 8 (hdr) + IFD0 + Exif IFD head; its offsets are absolute (TIFF start)
def with_note(make, prefix, le=False, relative=False):
    # build twice: first to learn where the note lands
    tmp = block(make, prefix + b'\0' * 64, le)
    pos = tmp.index(prefix + b'\0' * 64) if prefix else len(tmp) - 64
    base = (0 if relative else pos) + len(prefix)
    note = prefix + note_ifd(base, le)
    return block(make, note, le)
seeds = {
    'mnote-canon.exif': with_note(b'Canon', b''),
    'mnote-olympus.exif': with_note(b'OLYMPUS IMAGING CORP.', b'OLYMPUS\0II\x03\0', True, True),
    'mnote-pentax.exif': with_note(b'PENTAX', b'AOC\0MM'),
    'mnote-fuji.exif': with_note(b'FUJIFILM', b'FUJIFILM\x0c\0\0\0', True, True),
    'mnote-apple.exif': with_note(b'Apple', b'Apple iOS\0\0\x01MM'),
}
for k, v in seeds.items():
    open(k, 'wb').write(v)
    print(k, len(v))
